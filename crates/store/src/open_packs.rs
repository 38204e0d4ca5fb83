//! Packs held open while they are read chunk by chunk.
//!
//! A restore reads thousands of chunks from the same few packs. Opening a
//! pack's file for every chunk cost an `open`, an `fstat` and a `close`
//! each time; a handful of handles, the most recently used kept, save all
//! of that. Packs are named by their content and never rewritten, so a held
//! handle can never read stale bytes.

use std::sync::{Arc, Mutex};

use crate::backend::{Backend, OpenObject};
use crate::error::Result;
use crate::id::PackId;
use crate::pack::pack_name;

/// How many packs stay open: enough for the packs one restore reads from
/// at a time, few enough to stay far below any descriptor limit.
const HELD: usize = 16;

#[derive(Default)]
pub(crate) struct OpenPacks {
    /// Most recently used last.
    held: Mutex<Vec<(PackId, Arc<dyn OpenObject>)>>,
}

impl OpenPacks {
    /// `len` bytes at `offset` of `pack`, through a held handle where the
    /// backend gives one.
    pub(crate) fn read(
        &self,
        backend: &dyn Backend,
        pack: &PackId,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>> {
        match self.handle(backend, pack)? {
            Some(open) => Ok(open.get_range(offset, len)?),
            None => Ok(backend.get_range(&pack_name(pack), offset, len)?),
        }
    }

    /// Fills `buf` with the bytes at `offset` of `pack`.
    pub(crate) fn read_into(
        &self,
        backend: &dyn Backend,
        pack: &PackId,
        offset: u64,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        match self.handle(backend, pack)? {
            Some(open) => Ok(open.read_at(offset, buf)?),
            None => {
                *buf = backend.get_range(&pack_name(pack), offset, buf.len() as u64)?;
                Ok(())
            }
        }
    }

    fn handle(&self, backend: &dyn Backend, pack: &PackId) -> Result<Option<Arc<dyn OpenObject>>> {
        {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(i) = held.iter().rposition(|(p, _)| p == pack) {
                let entry = held.remove(i);
                let open = entry.1.clone();
                held.push(entry);
                return Ok(Some(open));
            }
        }
        // Opened outside the lock: another thread's read need not wait for it.
        let Some(open) = backend.open_object(&pack_name(pack))? else {
            return Ok(None);
        };
        let open: Arc<dyn OpenObject> = Arc::from(open);
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, raced)) = held.iter().find(|(p, _)| p == pack) {
            return Ok(Some(raced.clone()));
        }
        if held.len() >= HELD {
            held.remove(0);
        }
        held.push((*pack, open.clone()));
        Ok(Some(open))
    }
}
