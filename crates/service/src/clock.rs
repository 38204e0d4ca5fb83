//! Where the service gets "now" from.
//!
//! Every decision that depends on the time (which slots are due, leases,
//! expiry, job start and end times, point times) reads a [`Clock`], never
//! the system clock directly, so tests can run a whole day of schedule in
//! seconds. Timers still tick in real time (at most a second apart) and
//! compare against `clock.now()`, so moving a test clock makes due work
//! happen on the next tick.

use std::path::PathBuf;
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to (in-process tests).
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock {
            now: Mutex::new(start),
        }
    }

    /// Jumps to `t` (backwards too: the scheduler must cope).
    pub fn set(&self, t: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = t;
    }

    /// Moves forward by `d` and returns the new time.
    pub fn advance(&self, d: TimeDelta) -> DateTime<Utc> {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *now += d;
        *now
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A clock read from a file holding one RFC 3339 instant, re-read on every
/// call: integration tests run a real `lifeboat server --clock-file PATH`
/// and move its time by rewriting the file atomically (write a temporary
/// file, rename it over). While the file is missing or unreadable (e.g. a
/// writer that does not rename) the last good value is used, and the system
/// clock before any was read.
#[derive(Debug)]
pub struct FileClock {
    path: PathBuf,
    last: Mutex<Option<DateTime<Utc>>>,
}

impl FileClock {
    /// A clock reading `path`. Fails when the file does not hold a time now,
    /// so a typo in `--clock-file` is reported at start.
    pub fn new(path: impl Into<PathBuf>) -> Result<Self, String> {
        let path = path.into();
        let t = read_instant(&path)?;
        Ok(FileClock {
            path,
            last: Mutex::new(Some(t)),
        })
    }
}

fn read_instant(path: &std::path::Path) -> Result<DateTime<Utc>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("clock file {}: {e}", path.display()))?;
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!(
                "clock file {}: {:?} is not an RFC 3339 time ({e})",
                path.display(),
                text.trim()
            )
        })
}

impl Clock for FileClock {
    fn now(&self) -> DateTime<Utc> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        match read_instant(&self.path) {
            Ok(t) => {
                *last = Some(t);
                t
            }
            Err(_) => last.unwrap_or_else(Utc::now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let t0 = DateTime::parse_from_rfc3339("2026-03-08T06:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let c = ManualClock::new(t0);
        assert_eq!(c.now(), t0);
        assert_eq!(c.advance(TimeDelta::hours(2)), t0 + TimeDelta::hours(2));
        c.set(t0);
        assert_eq!(c.now(), t0);
    }

    #[test]
    fn file_clock_follows_the_file_and_keeps_the_last_good_value() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("clock");
        assert!(FileClock::new(&p).is_err());
        std::fs::write(&p, "2026-11-01T05:30:00Z\n").unwrap();
        let c = FileClock::new(&p).unwrap();
        assert_eq!(c.now().to_rfc3339(), "2026-11-01T05:30:00+00:00");
        std::fs::write(&p, "2026-11-01T01:30:00-04:00").unwrap();
        assert_eq!(c.now().to_rfc3339(), "2026-11-01T05:30:00+00:00");
        std::fs::write(&p, "2026-11-02T00:00:00Z").unwrap();
        assert_eq!(c.now().to_rfc3339(), "2026-11-02T00:00:00+00:00");
        std::fs::write(&p, "garbage").unwrap();
        assert_eq!(c.now().to_rfc3339(), "2026-11-02T00:00:00+00:00");
        std::fs::remove_file(&p).unwrap();
        assert_eq!(c.now().to_rfc3339(), "2026-11-02T00:00:00+00:00");
    }
}
