//! [`NbdBlockSource`]: an image read in place through an NBD export, as a
//! `lifeboat_store::blocks::BlockSource`.

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use lifeboat_store::blocks::{BlockSource, Extent};

use crate::client::{NbdClient, Status, open_socket};
use crate::error::{Error, Result};
use crate::handshake::HandshakeRequest;
use crate::proto::{
    CONTEXT_ALLOCATION, CONTEXT_BITMAP_PREFIX, STATE_DIRTY, STATE_HOLE, STATE_ZERO,
};
use crate::qemu::{ExportOptions, QemuNbdExport};

pub struct NbdBlockSource {
    client: Option<NbdClient<UnixStream>>,
    allocation: Option<u32>,
    bitmap: Option<u32>,
    // Dropped after the client has disconnected.
    export: Option<QemuNbdExport>,
}

impl NbdBlockSource {
    /// Exports `image` with qemu-nbd and connects to it.
    pub fn open(image: &Path, opts: &ExportOptions) -> Result<Self> {
        let mut export = QemuNbdExport::start(image, opts)?;
        let mut s = match Self::connect(export.socket(), "", opts.bitmap.as_deref()) {
            Ok(s) => s,
            Err(e) => return Err(export.exit_error().unwrap_or(e)),
        };
        s.export = Some(export);
        Ok(s)
    }

    /// Connects to an export someone else runs (qemu's own NBD server for a
    /// running VM, later). `bitmap`: the dirty bitmap to select.
    pub fn connect(socket: &Path, export: &str, bitmap: Option<&str>) -> Result<Self> {
        let mut contexts = vec![CONTEXT_ALLOCATION.to_string()];
        let bitmap_ctx = bitmap.map(|b| format!("{CONTEXT_BITMAP_PREFIX}{b}"));
        contexts.extend(bitmap_ctx.clone());
        let req = HandshakeRequest {
            export: export.to_string(),
            contexts,
        };
        // qemu-nbd may not listen yet right after it starts.
        let client = NbdClient::new(open_socket(socket, Duration::from_secs(5))?, &req)?;
        let bitmap = match &bitmap_ctx {
            Some(name) => Some(client.context_id(name).ok_or_else(|| Error::ExportFailed {
                option: "NBD_OPT_SET_META_CONTEXT",
                reason: format!("the server does not offer {name}"),
            })?),
            None => None,
        };
        Ok(NbdBlockSource {
            allocation: client.context_id(CONTEXT_ALLOCATION),
            client: Some(client),
            bitmap,
            export: None,
        })
    }

    fn client(&mut self) -> Result<&mut NbdClient<UnixStream>> {
        self.client
            .as_mut()
            .ok_or_else(|| Error::Protocol("the NBD connection is closed".into()))
    }

    /// Extents of `context` whose flags satisfy `keep`, merged.
    fn extents(&mut self, context: u32, keep: impl Fn(u32) -> bool) -> Result<Vec<Extent>> {
        let c = self.client()?;
        let size = c.size();
        let statuses: Vec<Status> = c.block_status(context, 0, size)?;
        let mut out: Vec<Extent> = Vec::new();
        for s in statuses.into_iter().filter(|s| keep(s.flags)) {
            match out.last_mut() {
                Some(l) if l.offset + l.len == s.extent.offset => l.len += s.extent.len,
                _ => out.push(s.extent),
            }
        }
        Ok(out)
    }

    /// Data extents per `base:allocation`: neither a hole nor known zeros.
    pub fn data_extents(&mut self) -> Result<Vec<Extent>> {
        let size = self.client()?.size();
        match self.allocation {
            Some(id) => self.extents(id, |f| f & (STATE_HOLE | STATE_ZERO) == 0),
            // No allocation information: everything may be data.
            None => Ok(if size == 0 {
                Vec::new()
            } else {
                vec![Extent {
                    offset: 0,
                    len: size,
                }]
            }),
        }
    }

    /// Dirty extents per the selected bitmap; `None` without one.
    pub fn dirty_extents(&mut self) -> Result<Option<Vec<Extent>>> {
        match self.bitmap {
            Some(id) => Ok(Some(self.extents(id, |f| f & STATE_DIRTY != 0)?)),
            None => Ok(None),
        }
    }
}

impl BlockSource for NbdBlockSource {
    fn size(&self) -> u64 {
        self.client.as_ref().map_or(0, |c| c.size())
    }

    fn allocated_extents(&mut self) -> lifeboat_store::Result<Vec<Extent>> {
        Ok(self.data_extents()?)
    }

    fn changed_extents(&mut self) -> lifeboat_store::Result<Option<Vec<Extent>>> {
        Ok(self.dirty_extents()?)
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> lifeboat_store::Result<()> {
        Ok(self.client()?.read_at(offset, buf)?)
    }
}

impl Drop for NbdBlockSource {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = c.disconnect();
        }
        drop(self.export.take());
    }
}
