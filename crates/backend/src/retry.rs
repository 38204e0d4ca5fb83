//! Bounded retries of transient failures, with exponential backoff and
//! jitter, for any backend. Permanent failures pass through at once.
//!
//! Two things need care beyond "call again":
//! - a put whose first attempt failed transiently may have landed anyway
//!   (the answer was lost, not the write). If the retry then finds the name
//!   taken, the object is read back: holding exactly our bytes, the put
//!   counts as ours; holding other bytes, it fails as
//!   [`BackendErrorKind::Incomplete`] (it may be a remnant of our attempt);
//! - a ranged read that returns fewer bytes than asked for without an error
//!   is a short read, retried like a transient failure.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{BackendError, BackendErrorKind, BackendResult, Op};
use crate::{Backend, ListPage, ObjectInfo, OpenObject};

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1: no retries).
    pub attempts: u32,
    /// Wait before the first retry; doubled for each further one.
    pub first_delay: Duration,
    /// No wait is longer than this.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Five attempts over about three seconds: long enough to ride out a
    /// dropped connection or a throttling burst, short enough that a backend
    /// that is really gone is reported promptly.
    fn default() -> Self {
        Self {
            attempts: 5,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// No waiting between attempts, for tests.
    pub fn immediate(attempts: u32) -> Self {
        Self {
            attempts,
            first_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
        }
    }

    /// The wait before retry number `n` (1-based): doubling, capped, with
    /// up to a quarter added at random so that many writers retrying the
    /// same failure do not hit the backend in step.
    fn delay(&self, n: u32) -> Duration {
        let base = self
            .first_delay
            .saturating_mul(1u32 << (n - 1).min(16))
            .min(self.max_delay);
        let mut r = [0u8; 2];
        let jitter = if getrandom::fill(&mut r).is_ok() {
            base.mul_f64(f64::from(u16::from_le_bytes(r)) / f64::from(u16::MAX) / 4.0)
        } else {
            Duration::ZERO
        };
        base + jitter
    }
}

/// A backend whose transient failures are retried.
pub struct Retrying {
    inner: Arc<dyn Backend>,
    policy: RetryPolicy,
}

impl Retrying {
    pub fn new(inner: Arc<dyn Backend>, policy: RetryPolicy) -> Self {
        Self {
            inner,
            policy: RetryPolicy {
                attempts: policy.attempts.max(1),
                ..policy
            },
        }
    }

    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// Runs `f` until it succeeds, fails permanently, or the attempts are
    /// used up; `f` is told whether an earlier attempt failed.
    fn run<T>(&self, mut f: impl FnMut(bool) -> BackendResult<T>) -> BackendResult<T> {
        let mut n = 1;
        loop {
            match f(n > 1) {
                Err(e) if e.is_transient() && n < self.policy.attempts => {
                    std::thread::sleep(self.policy.delay(n));
                    n += 1;
                }
                Err(mut e) => {
                    e.attempts = n;
                    return Err(e);
                }
                ok => return ok,
            }
        }
    }
}

impl Backend for Retrying {
    fn put_if_absent(&self, name: &str, data: &[u8]) -> BackendResult<bool> {
        self.run(|retry| match self.inner.put_if_absent(name, data)? {
            true => Ok(true),
            false if !retry => Ok(false),
            // The name is taken after an earlier attempt failed: ours if it
            // holds our bytes (that attempt landed). Other bytes may be a
            // racing writer's object or what our interrupted attempt left
            // behind; the two cannot be told apart here, and calling it
            // "someone else's" would let a caller reference a damaged
            // object, so it is an error ([`crate::put_exclusive`] cleans
            // up after it for names only one writer can produce).
            false if self.inner.get(name)? == data => Ok(true),
            false => Err(BackendError::new(
                BackendErrorKind::Incomplete,
                Op::Put,
                name,
                "after a failed attempt the object holds other bytes than the ones written",
            )),
        })
    }

    fn get(&self, name: &str) -> BackendResult<Vec<u8>> {
        self.run(|_| self.inner.get(name))
    }

    fn open_object(&self, name: &str) -> BackendResult<Option<Box<dyn OpenObject>>> {
        self.run(|_| self.inner.open_object(name))
    }

    fn get_range(&self, name: &str, offset: u64, len: u64) -> BackendResult<Vec<u8>> {
        self.run(|_| {
            let b = self.inner.get_range(name, offset, len)?;
            if b.len() as u64 != len {
                return Err(BackendError::new(
                    BackendErrorKind::Transient,
                    Op::GetRange,
                    name,
                    format!("short read: {} of {len} bytes at {offset}", b.len()),
                ));
            }
            Ok(b)
        })
    }

    fn list_page(
        &self,
        prefix: &str,
        token: Option<&str>,
        limit: usize,
    ) -> BackendResult<ListPage> {
        self.run(|_| self.inner.list_page(prefix, token, limit))
    }

    fn list(&self, prefix: &str) -> BackendResult<Vec<ObjectInfo>> {
        // Page by page through `self`, so each page is retried on its own
        // instead of the whole listing starting over.
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self.list_page(prefix, token.as_deref(), crate::LIST_PAGE)?;
            out.extend(page.objects);
            match page.next {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }

    fn delete(&self, name: &str) -> BackendResult<()> {
        self.run(|_| self.inner.delete(name))
    }

    fn exists(&self, name: &str) -> BackendResult<bool> {
        self.run(|_| self.inner.exists(name))
    }

    fn location(&self) -> String {
        self.inner.location()
    }

    fn remove_stale_temporaries(&self, max_age: Duration) -> BackendResult<usize> {
        self.run(|_| self.inner.remove_stale_temporaries(max_age))
    }
}
