//! Writer leases (docs/format.md §9): how a backup tells the garbage
//! collector "I may be about to reference chunks you think are unused".

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::format::*;
use crate::id::LeaseId;
use crate::util::{hostname, now_ms, process_start_ticks};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub lease: String,
    pub op: String,
    pub host: String,
    pub pid: u32,
    pub pid_start: Option<u64>,
    pub started_ms: u64,
    pub refreshed_ms: u64,
}

impl LeaseRecord {
    /// Live while refreshed within the TTL, unless it is ours (this host) and
    /// its process is gone.
    pub fn is_live(&self, now: u64, this_host: &str) -> bool {
        if now.saturating_sub(self.refreshed_ms) > LEASE_TTL_MS {
            return false;
        }
        if self.host == this_host {
            return process_start_ticks(self.pid).is_some()
                && process_start_ticks(self.pid) == self.pid_start;
        }
        true
    }
}

/// Every lease in the vault (the newest record of each), live or not.
pub fn list_leases(backend: &dyn Backend) -> Result<Vec<(String, LeaseRecord)>> {
    let mut newest: std::collections::BTreeMap<String, (u64, String)> = Default::default();
    for o in backend.list("leases/")? {
        let file = &o.name["leases/".len()..];
        let Some((id, seq)) = file.split_once('.') else {
            continue;
        };
        let Ok(seq) = seq.parse::<u64>() else {
            continue;
        };
        let e = newest
            .entry(id.to_string())
            .or_insert((seq, o.name.clone()));
        if seq >= e.0 {
            *e = (seq, o.name.clone());
        }
    }
    let mut out = Vec::new();
    for (_, (_, name)) in newest {
        match backend.get(&name) {
            Ok(b) => {
                if let Ok(r) = serde_json::from_slice::<LeaseRecord>(&b) {
                    out.push((name, r));
                }
            }
            Err(e) if e.is_not_found() => {} // refreshed or released meanwhile
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// Start time of the oldest live lease other than `except`.
pub fn oldest_live_start(backend: &dyn Backend, except: Option<LeaseId>) -> Result<Option<u64>> {
    let now = now_ms();
    let host = hostname();
    let except = except.map(|l| l.to_hex());
    Ok(list_leases(backend)?
        .into_iter()
        .filter(|(_, r)| Some(&r.lease) != except.as_ref() && r.is_live(now, &host))
        .map(|(_, r)| r.started_ms)
        .min())
}

/// Live leases of operation `op` other than `except`.
pub fn live_leases_of(
    backend: &dyn Backend,
    op: &str,
    except: LeaseId,
) -> Result<Vec<LeaseRecord>> {
    let now = now_ms();
    let host = hostname();
    let except = except.to_hex();
    Ok(list_leases(backend)?
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| r.op == op && r.lease != except && r.is_live(now, &host))
        .collect())
}

/// Ids of every live lease.
pub fn live_leases(backend: &dyn Backend) -> Result<Vec<LeaseId>> {
    let now = now_ms();
    let host = hostname();
    Ok(list_leases(backend)?
        .into_iter()
        .filter(|(_, r)| r.is_live(now, &host))
        .filter_map(|(_, r)| LeaseId::from_hex(&r.lease))
        .collect())
}

/// A held lease, refreshed by a background thread until released.
pub struct Lease {
    pub id: LeaseId,
    pub started_ms: u64,
    last_refresh: Arc<AtomicU64>,
    stop: Option<crossbeam_channel::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    current_name: Arc<Mutex<String>>,
    backend: Arc<dyn Backend>,
}

fn record_for(id: LeaseId, op: &str, started: u64, refreshed: u64) -> LeaseRecord {
    let pid = std::process::id();
    LeaseRecord {
        lease: id.to_hex(),
        op: op.into(),
        host: hostname(),
        pid,
        pid_start: process_start_ticks(pid),
        started_ms: started,
        refreshed_ms: refreshed,
    }
}

impl Lease {
    pub fn acquire(backend: Arc<dyn Backend>, op: &str) -> Result<Self> {
        let id = LeaseId::random();
        let started = now_ms();
        let name = format!("leases/{}.0", id.to_hex());
        let rec = record_for(id, op, started, started);
        // A random name: a fragment an interrupted put left is removed.
        let body = serde_json::to_vec(&rec).expect("lease serializes");
        crate::backend::put_exclusive(backend.as_ref(), &name, &body)?;
        let last_refresh = Arc::new(AtomicU64::new(started));
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
        let current_name = Arc::new(Mutex::new(name));
        let thread = {
            let (backend, last, cur, op) = (
                backend.clone(),
                last_refresh.clone(),
                current_name.clone(),
                op.to_string(),
            );
            std::thread::spawn(move || {
                let mut seq = 0u64;
                let every = std::time::Duration::from_millis(LEASE_REFRESH_MS);
                // Wakes at once when the lease is released (the sender is dropped).
                while let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
                    stop_rx.recv_timeout(every)
                {
                    seq += 1;
                    let now = now_ms();
                    let name = format!("leases/{}.{seq}", id.to_hex());
                    let rec = record_for(id, &op, started, now);
                    let body = serde_json::to_vec(&rec).expect("lease serializes");
                    if backend.put_if_absent(&name, &body).is_ok() {
                        last.store(now, Ordering::Relaxed);
                        if let Ok(mut cur) = cur.lock() {
                            let _ = backend.delete(&cur);
                            *cur = name;
                        }
                    }
                }
            })
        };
        Ok(Self {
            id,
            started_ms: started,
            last_refresh,
            stop: Some(stop_tx),
            thread: Some(thread),
            current_name,
            backend,
        })
    }

    /// Fails with `LEASE_LOST` when the lease may have expired in the eyes of
    /// a garbage collector (with a safety margin of a quarter of the TTL).
    pub fn check_fresh(&self) -> Result<()> {
        let age = now_ms().saturating_sub(self.last_refresh.load(Ordering::Relaxed));
        if age > LEASE_TTL_MS * 3 / 4 {
            return Err(Error::LeaseLost);
        }
        Ok(())
    }

    pub fn release(mut self) -> Result<()> {
        self.stop_thread();
        let name = self
            .current_name
            .lock()
            .map(|n| n.clone())
            .unwrap_or_default();
        Ok(self.backend.delete(&name)?)
    }

    fn stop_thread(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop_thread();
            if let Ok(n) = self.current_name.lock() {
                let _ = self.backend.delete(&n);
            }
        }
    }
}
