//! A backend that misbehaves on purpose, for tests: the Nth call of an
//! operation (and optionally the ones after it, or only those on names
//! under a prefix) fails, is delayed, or reads or writes truncated data.
//! It wraps a real backend, so everything else behaves as that backend
//! does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{BackendError, BackendErrorKind, BackendResult, Op};
use crate::{Backend, ListPage};

/// What happens to a chosen call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// The call fails with this kind, without reaching the inner backend.
    Fail(BackendErrorKind),
    /// The call waits this long, then proceeds.
    Delay(Duration),
    /// Reads: the data comes back cut to this fraction (in percent) of its
    /// length, with no error. Puts: only that fraction of the bytes is
    /// stored under the name, and the call fails as transient — what an
    /// upload cut off part-way leaves on storage that does not store
    /// objects all-or-nothing. Other operations proceed unchanged.
    Truncate { keep_percent: u8 },
}

/// A fault counts the calls it looks at — calls of `op`, on names under
/// `under` when that is set — from the moment it is injected; calls
/// `first..first+count` of those (1-based) get `action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub op: Op,
    pub first: u64,
    pub count: u64,
    pub action: FaultAction,
    pub under: Option<&'static str>,
}

impl Fault {
    /// Only the `nth` call of `op`.
    pub fn nth(op: Op, nth: u64, action: FaultAction) -> Self {
        Self {
            op,
            first: nth,
            count: 1,
            action,
            under: None,
        }
    }

    /// `count` calls of `op` from the `first` on.
    pub fn calls(op: Op, first: u64, count: u64, action: FaultAction) -> Self {
        Self {
            op,
            first,
            count,
            action,
            under: None,
        }
    }

    /// The `nth` call of `op` and every one after it.
    pub fn from_nth(op: Op, nth: u64, action: FaultAction) -> Self {
        Self {
            op,
            first: nth,
            count: u64::MAX,
            action,
            under: None,
        }
    }

    /// Only calls on names that start with `prefix` (`packs/`, `index/`…).
    pub fn under(self, prefix: &'static str) -> Self {
        Self {
            under: Some(prefix),
            ..self
        }
    }

    fn looks_at(&self, op: Op, target: &str) -> bool {
        self.op == op && self.under.is_none_or(|p| target.starts_with(p))
    }

    fn hits(&self, n: u64) -> bool {
        n >= self.first && n - self.first < self.count
    }
}

pub struct FaultBackend {
    inner: Arc<dyn Backend>,
    /// Each fault with the number of calls it has looked at.
    faults: Mutex<Vec<(Fault, u64)>>,
    calls: Mutex<HashMap<Op, u64>>,
    injected: AtomicU64,
}

impl FaultBackend {
    pub fn new(inner: Arc<dyn Backend>) -> Self {
        Self {
            inner,
            faults: Mutex::new(Vec::new()),
            calls: Mutex::new(HashMap::new()),
            injected: AtomicU64::new(0),
        }
    }

    /// Adds a fault; its calls are counted from now.
    pub fn inject(&self, fault: Fault) -> &Self {
        if let Ok(mut f) = self.faults.lock() {
            f.push((fault, 0));
        }
        self
    }

    /// Removes every fault (counting goes on).
    pub fn clear(&self) {
        if let Ok(mut f) = self.faults.lock() {
            f.clear();
        }
    }

    /// How many calls of `op` were made so far (all names, faulty or not).
    pub fn calls(&self, op: Op) -> u64 {
        self.calls
            .lock()
            .map(|c| c.get(&op).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// How many calls a fault was applied to.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }

    /// Counts the call and says what to do with it: `Err` to fail now,
    /// `Ok(Some(p))` to truncate a read to `p` percent.
    fn enter(&self, op: Op, target: &str) -> BackendResult<Option<u8>> {
        if let Ok(mut c) = self.calls.lock() {
            *c.entry(op).or_insert(0) += 1;
        }
        // Every fault that looks at the call counts it; the first one the
        // count falls on acts.
        let mut hit = None;
        if let Ok(mut faults) = self.faults.lock() {
            for (f, seen) in faults.iter_mut().filter(|(f, _)| f.looks_at(op, target)) {
                *seen += 1;
                if hit.is_none() && f.hits(*seen) {
                    hit = Some((*f, *seen));
                }
            }
        }
        let Some((fault, n)) = hit else {
            return Ok(None);
        };
        self.injected.fetch_add(1, Ordering::Relaxed);
        match fault.action {
            FaultAction::Fail(kind) => Err(BackendError::new(
                kind,
                op,
                target,
                format!("injected fault on call {n}"),
            )),
            FaultAction::Delay(d) => {
                std::thread::sleep(d);
                Ok(None)
            }
            FaultAction::Truncate { keep_percent } => Ok(Some(keep_percent.min(100))),
        }
    }
}

fn cut(mut data: Vec<u8>, keep: Option<u8>) -> Vec<u8> {
    if let Some(p) = keep {
        let n = data.len() * p as usize / 100;
        // A cut that keeps everything would inject nothing.
        data.truncate(n.min(data.len().saturating_sub(1)));
    }
    data
}

impl Backend for FaultBackend {
    fn put_if_absent(&self, name: &str, data: &[u8]) -> BackendResult<bool> {
        let Some(keep) = self.enter(Op::Put, name)? else {
            return self.inner.put_if_absent(name, data);
        };
        let part = cut(data.to_vec(), Some(keep));
        self.inner.put_if_absent(name, &part)?;
        Err(BackendError::new(
            BackendErrorKind::Transient,
            Op::Put,
            name,
            format!(
                "injected fault: the connection dropped after {} of {} bytes",
                part.len(),
                data.len()
            ),
        ))
    }

    fn get(&self, name: &str) -> BackendResult<Vec<u8>> {
        let keep = self.enter(Op::Get, name)?;
        Ok(cut(self.inner.get(name)?, keep))
    }

    fn get_range(&self, name: &str, offset: u64, len: u64) -> BackendResult<Vec<u8>> {
        let keep = self.enter(Op::GetRange, name)?;
        Ok(cut(self.inner.get_range(name, offset, len)?, keep))
    }

    fn list_page(
        &self,
        prefix: &str,
        token: Option<&str>,
        limit: usize,
    ) -> BackendResult<ListPage> {
        self.enter(Op::List, prefix)?;
        self.inner.list_page(prefix, token, limit)
    }

    fn delete(&self, name: &str) -> BackendResult<()> {
        self.enter(Op::Delete, name)?;
        self.inner.delete(name)
    }

    fn exists(&self, name: &str) -> BackendResult<bool> {
        self.enter(Op::Exists, name)?;
        self.inner.exists(name)
    }

    fn location(&self) -> String {
        self.inner.location()
    }

    fn remove_stale_temporaries(&self, max_age: Duration) -> BackendResult<usize> {
        self.inner.remove_stale_temporaries(max_age)
    }
}
