//! Stat-ahead for file backups. A backup walks in one fixed order, one
//! `lstat` at a time; on a cold cache each one waits for the disk. A few
//! threads walking the same trees ahead of it keep several metadata reads in
//! flight, so the walk itself mostly finds inodes already cached. It only
//! reads metadata — plus, when asked (a first backup, where every file will
//! be read), asks the kernel to read small files ahead — and stops when the
//! backup ends.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

const THREADS: usize = 4;
/// Files smaller than this are read ahead when contents are wanted; larger
/// ones get the kernel's own sequential readahead.
const SMALL_FILE: u64 = 1 << 20;

use crate::upload::Progress;

pub struct StatAhead {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

struct Queue {
    dirs: VecDeque<PathBuf>,
    busy: usize,
}

impl StatAhead {
    /// Also adds up the size of every file into `progress.bytes_total`, so
    /// progress can show an ETA once the walk ahead is complete.
    pub fn start(roots: Vec<PathBuf>, contents: bool, progress: Arc<Progress>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new((
            Mutex::new(Queue {
                dirs: roots.into(),
                busy: 0,
            }),
            Condvar::new(),
        ));
        let threads = (0..THREADS)
            .map(|_| {
                let (stop, shared, progress) = (stop.clone(), shared.clone(), progress.clone());
                std::thread::spawn(move || worker(&stop, &shared, contents, &progress))
            })
            .collect();
        Self { stop, threads }
    }
}

fn worker(
    stop: &AtomicBool,
    shared: &(Mutex<Queue>, Condvar),
    contents: bool,
    progress: &Progress,
) {
    let (lock, cv) = shared;
    loop {
        let dir = {
            let Ok(mut q) = lock.lock() else { return };
            loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                if let Some(d) = q.dirs.pop_front() {
                    q.busy += 1;
                    break d;
                }
                if q.busy == 0 {
                    progress.total_known.store(true, Ordering::Relaxed);
                    cv.notify_all();
                    return;
                }
                q = match cv.wait_timeout(q, std::time::Duration::from_millis(50)) {
                    Ok((q, _)) => q,
                    Err(_) => return,
                };
            }
        };
        let mut sub = Vec::new();
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                // lstat pulls the inode into the cache; the result is not needed here.
                let Ok(m) = std::fs::symlink_metadata(e.path()) else {
                    continue;
                };
                if m.is_file() {
                    progress.bytes_total.fetch_add(m.len(), Ordering::Relaxed);
                }
                if m.is_dir() {
                    sub.push(e.path());
                } else if contents && m.is_file() && m.len() > 0 && m.len() < SMALL_FILE {
                    read_ahead(&e.path());
                }
            }
        }
        let Ok(mut q) = lock.lock() else { return };
        q.busy -= 1;
        q.dirs.extend(sub);
        cv.notify_all();
    }
}

impl Drop for StatAhead {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn read_ahead(path: &std::path::Path) {
    use std::os::fd::AsRawFd;
    if let Ok(f) = std::fs::File::open(path) {
        // SAFETY: advisory call on a descriptor we hold open; errors are ignored.
        unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_WILLNEED) };
    }
}
