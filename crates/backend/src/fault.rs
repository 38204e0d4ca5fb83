//! A backend that misbehaves on purpose, for tests: the Nth call of an
//! operation (and optionally the ones after it) fails, is delayed, or
//! returns truncated data. It wraps a real backend, so everything else
//! behaves as that backend does.

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
    /// length, with no error. Other operations proceed unchanged.
    Truncate { keep_percent: u8 },
}

/// Calls `first..first+count` (1-based, counted per operation) of `op`
/// get `action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub op: Op,
    pub first: u64,
    pub count: u64,
    pub action: FaultAction,
}

impl Fault {
    /// Only the `nth` call of `op`.
    pub fn nth(op: Op, nth: u64, action: FaultAction) -> Self {
        Self {
            op,
            first: nth,
            count: 1,
            action,
        }
    }

    /// The `nth` call of `op` and every one after it.
    pub fn from_nth(op: Op, nth: u64, action: FaultAction) -> Self {
        Self {
            op,
            first: nth,
            count: u64::MAX,
            action,
        }
    }

    fn applies(&self, op: Op, n: u64) -> bool {
        self.op == op && n >= self.first && n - self.first < self.count
    }
}

pub struct FaultBackend {
    inner: Arc<dyn Backend>,
    faults: Mutex<Vec<Fault>>,
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

    /// Adds a fault. Call numbers count from the backend's creation.
    pub fn inject(&self, fault: Fault) -> &Self {
        if let Ok(mut f) = self.faults.lock() {
            f.push(fault);
        }
        self
    }

    /// Removes every fault (counting goes on).
    pub fn clear(&self) {
        if let Ok(mut f) = self.faults.lock() {
            f.clear();
        }
    }

    /// How many calls of `op` were made so far.
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
        let n = match self.calls.lock() {
            Ok(mut c) => {
                let e = c.entry(op).or_insert(0);
                *e += 1;
                *e
            }
            Err(_) => 0,
        };
        let hit = self
            .faults
            .lock()
            .ok()
            .and_then(|f| f.iter().find(|f| f.applies(op, n)).copied());
        let Some(fault) = hit else { return Ok(None) };
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
        self.enter(Op::Put, name)?;
        self.inner.put_if_absent(name, data)
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
