//! A bounded queue between threads that blocks instead of spinning.
//!
//! Backup and restore hand work between a few threads through bounded
//! queues. The channel crates spin and call `sched_yield` before they block;
//! on a machine with two vCPUs that spinning took the CPU from the very
//! thread that would have filled or emptied the queue (a restore made
//! 140,000 `sched_yield` calls for 53,000 files, bench/RESULTS.md). Here a
//! full or empty queue waits on a condition variable at once.
//!
//! The interface is the small part of a channel these pipelines use: clone
//! either end, `send` fails once every receiver is gone, and receiving ends
//! once every sender is gone and the queue is empty.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

struct State<T> {
    items: VecDeque<T>,
    senders: usize,
    receivers: usize,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    not_empty: Condvar,
    not_full: Condvar,
    capacity: usize,
}

impl<T> Shared<T> {
    /// The state; a thread that panicked while holding it left it whole
    /// (every change below is a single step), so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A queue holding at most `capacity` items (at least one).
pub fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::with_capacity(capacity.max(1)),
            senders: 1,
            receivers: 1,
        }),
        not_empty: Condvar::new(),
        not_full: Condvar::new(),
        capacity: capacity.max(1),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

/// The item that could not be sent: every receiver is gone.
#[derive(Debug, PartialEq, Eq)]
pub struct Disconnected<T>(pub T);

impl<T> Sender<T> {
    /// Waits for room, then queues `item`.
    pub fn send(&self, item: T) -> Result<(), Disconnected<T>> {
        let mut s = self.shared.lock();
        loop {
            if s.receivers == 0 {
                return Err(Disconnected(item));
            }
            if s.items.len() < self.shared.capacity {
                s.items.push_back(item);
                drop(s);
                self.shared.not_empty.notify_one();
                return Ok(());
            }
            s = self
                .shared
                .not_full
                .wait(s)
                .unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl<T> Receiver<T> {
    /// The next item, waiting for one; `None` once the queue is empty and
    /// every sender is gone.
    pub fn recv(&self) -> Option<T> {
        let mut s = self.shared.lock();
        loop {
            if let Some(item) = s.items.pop_front() {
                drop(s);
                self.shared.not_full.notify_one();
                return Some(item);
            }
            if s.senders == 0 {
                return None;
            }
            s = self
                .shared
                .not_empty
                .wait(s)
                .unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.lock().receivers += 1;
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut s = self.shared.lock();
        s.senders -= 1;
        if s.senders == 0 {
            drop(s);
            self.shared.not_empty.notify_all();
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut s = self.shared.lock();
        s.receivers -= 1;
        if s.receivers == 0 {
            // Nobody will take what is queued: free it now, and wake the
            // senders so they see the queue is closed.
            let left = std::mem::take(&mut s.items);
            drop(s);
            drop(left);
            self.shared.not_full.notify_all();
        }
    }
}

/// Receives until the queue is empty and every sender is gone.
pub struct Iter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for Iter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = Iter<T>;
    fn into_iter(self) -> Iter<T> {
        Iter { rx: self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_item_arrives_once_with_many_senders_and_receivers() {
        for (senders, receivers, capacity) in [(1, 1, 1), (3, 2, 1), (2, 3, 4), (4, 4, 64)] {
            let (tx, rx) = bounded::<u32>(capacity);
            let got = Mutex::new(Vec::new());
            std::thread::scope(|s| {
                for k in 0..senders {
                    let tx = tx.clone();
                    s.spawn(move || {
                        for i in 0..1000 {
                            tx.send(k * 1000 + i).expect("receivers alive");
                        }
                    });
                }
                drop(tx);
                for _ in 0..receivers {
                    let rx = rx.clone();
                    let got = &got;
                    s.spawn(move || {
                        for v in rx {
                            got.lock().expect("lock").push(v);
                        }
                    });
                }
                drop(rx);
            });
            let mut got = got.into_inner().expect("lock");
            got.sort_unstable();
            assert_eq!(got, (0..senders * 1000).collect::<Vec<_>>());
        }
    }

    #[test]
    fn never_holds_more_than_its_capacity() {
        let (tx, rx) = bounded::<usize>(3);
        let queued = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..2000 {
                    // Counted before the send, so the count never runs
                    // behind the receiver's.
                    let n = queued.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    tx.send(i).expect("receiver alive");
                }
                drop(tx);
            });
            for _ in rx {
                queued.fetch_sub(1, Ordering::SeqCst);
            }
        });
        // At most 3 queued, one counted but not yet sent, one taken but
        // not yet counted off; without the bound it would reach 2000.
        assert!(most.load(Ordering::SeqCst) <= 5, "{most:?}");
    }

    #[test]
    fn send_fails_once_receivers_are_gone_and_returns_the_item() {
        let (tx, rx) = bounded::<String>(1);
        tx.send("a".into()).expect("room");
        let waiting = std::thread::spawn(move || tx.send("b".into()));
        std::thread::sleep(std::time::Duration::from_millis(20));
        drop(rx);
        assert_eq!(
            waiting.join().expect("sender thread"),
            Err(Disconnected("b".to_string()))
        );
    }

    #[test]
    fn receiving_ends_when_senders_are_gone_after_the_queue_drains() {
        let (tx, rx) = bounded::<u8>(8);
        let tx2 = tx.clone();
        tx.send(1).expect("room");
        tx2.send(2).expect("room");
        drop(tx);
        assert_eq!(rx.recv(), Some(1));
        drop(tx2);
        assert_eq!(rx.recv(), Some(2));
        assert_eq!(rx.recv(), None);
    }
}
