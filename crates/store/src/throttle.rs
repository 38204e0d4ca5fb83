//! A cap on how fast a backup reads its source, so a backup does not take
//! all of a busy host's disk bandwidth (an operator setting; the service
//! passes `--backup-read-limit`, the CLI `--read-limit`).
//!
//! Written here rather than taken from a rate-limiting crate: those are
//! built for async request quotas, while this is one blocking reader that
//! only needs "sleep until the bytes read so far fit the rate" — a
//! dozen lines with no shared state.

use std::time::{Duration, Instant};

/// Paces one reader to at most `bytes_per_sec` on average since it began.
#[derive(Debug)]
pub struct Throttle {
    bytes_per_sec: u64,
    started: Instant,
    read: u64,
}

impl Throttle {
    /// `None` for no cap (a limit of 0 also means none).
    pub fn new(bytes_per_sec: Option<u64>) -> Option<Throttle> {
        bytes_per_sec.filter(|&r| r > 0).map(|r| Throttle {
            bytes_per_sec: r,
            started: Instant::now(),
            read: 0,
        })
    }

    /// Counts `n` bytes just read and sleeps until they fit the rate.
    pub fn consume(&mut self, n: u64) {
        self.read = self.read.saturating_add(n);
        let due = self.due_after(self.read);
        let elapsed = self.started.elapsed();
        if due > elapsed {
            std::thread::sleep(due - elapsed);
        }
    }

    /// How long after the start `bytes` may have been read.
    fn due_after(&self, bytes: u64) -> Duration {
        Duration::from_secs_f64(bytes as f64 / self.bytes_per_sec as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_limit_means_no_throttle() {
        assert!(Throttle::new(None).is_none());
        assert!(Throttle::new(Some(0)).is_none());
    }

    #[test]
    fn due_time_grows_with_the_bytes_read() {
        let t = Throttle::new(Some(1 << 20)).expect("a limit");
        assert_eq!(t.due_after(0), Duration::ZERO);
        assert_eq!(t.due_after(1 << 20), Duration::from_secs(1));
        assert_eq!(t.due_after(3 << 19), Duration::from_millis(1500));
    }

    #[test]
    fn consume_waits_until_the_bytes_fit_the_rate() {
        // 64 KiB at 1 MiB/s is due 62.5 ms after the start.
        let mut t = Throttle::new(Some(1 << 20)).expect("a limit");
        t.consume(64 << 10);
        assert!(t.started.elapsed() >= Duration::from_micros(62_500));
    }
}
