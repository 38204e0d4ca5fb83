//! The point writer: the one way every workload writes a recovery point.
//!
//! `begin` takes a lease and loads the index (in that order, docs/format.md
//! §10) and starts the uploader; a workload then writes byte streams
//! (content-defined chunks), block sources (fixed-size chunks, holes and
//! unchanged extents not read) and tree entries; `commit` finishes the
//! uploads, checks the lease is still fresh and puts the manifest — the
//! single commit point. A writer dropped without `commit` stops its uploads
//! and releases its lease; what it uploaded is garbage for `gc`.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::blocks::{BlockSource, Extent, normalize_extents};
use crate::chunker::{Chunker, is_zero};
use crate::error::Result;
use crate::format::KIND_DATA;
use crate::id::PointId;
use crate::index::Index;
use crate::lease::Lease;
use crate::manifest::{
    ChunkRef, Consistency, Entry, EntryType, Point, Summary, Workload, point_name,
};
use crate::throttle::Throttle;
use crate::tree::TreeWriter;
use crate::upload::{Progress, Uploader};
use crate::vault::Vault;

/// What a point is: everything in its manifest that the workload decides
/// before it writes any data.
#[derive(Debug, Clone)]
pub struct PointSpec {
    pub workload: Workload,
    pub host: String,
    pub paths: Vec<String>,
    pub tags: Vec<String>,
    /// The point this one is made against, recorded in the manifest.
    pub parent: Option<PointId>,
    /// The workload's own metadata (docs/format.md §8, `meta`).
    pub meta: serde_json::Map<String, serde_json::Value>,
    /// Read the source at most this many bytes per second (`None`: no cap).
    pub read_limit: Option<u64>,
}

impl PointSpec {
    pub fn new(workload: Workload, host: impl Into<String>, paths: Vec<String>) -> Self {
        Self {
            workload,
            host: host.into(),
            paths,
            tags: Vec::new(),
            parent: None,
            meta: serde_json::Map::new(),
            read_limit: None,
        }
    }
}

/// A committed point.
#[derive(Debug, Clone)]
pub struct BackupOutcome {
    pub id: PointId,
    pub point: Point,
}

/// A byte stream written as content-defined chunks.
#[derive(Debug, Clone, Default)]
pub struct Written {
    pub chunks: Vec<ChunkRef>,
    pub bytes: u64,
}

/// A block source written as fixed-size chunks.
#[derive(Debug, Clone)]
pub struct BlocksWritten {
    pub chunks: Vec<ChunkRef>,
    pub size: u64,
    pub chunk_size: u32,
    /// Bytes actually read from the source.
    pub bytes_read: u64,
    /// Chunks taken from the parent's entry without reading.
    pub reused_chunks: u64,
}

impl BlocksWritten {
    /// A `disk` tree entry for these blocks.
    pub fn disk_entry(&self, path: String) -> Entry {
        Entry {
            size: self.size,
            chunk_size: Some(self.chunk_size),
            chunks: self.chunks.clone(),
            ..Entry::new(path, EntryType::Disk)
        }
    }
}

pub struct PointWriter<'v> {
    vault: &'v Vault,
    spec: PointSpec,
    lease: Option<Lease>,
    index: Arc<Index>,
    up: Option<Uploader<'static>>,
    tree: TreeWriter,
    chunker: Chunker,
    summary: Summary,
    warnings: Vec<String>,
    changed: bool,
    progress: Arc<Progress>,
    throttle: Option<Throttle>,
    started: Instant,
    time: chrono::DateTime<chrono::Utc>,
}

impl<'v> PointWriter<'v> {
    pub fn begin(vault: &'v Vault, spec: PointSpec, progress: Arc<Progress>) -> Result<Self> {
        let started = Instant::now();
        let time = chrono::Utc::now();
        let lease = Lease::acquire(vault.backend_arc(), "backup")?;
        // The index is read after the lease exists (docs/format.md §10).
        let index = Arc::new(vault.load_index()?);
        let up = Uploader::start_shared(
            vault.backend_arc(),
            vault.keys(),
            index.clone(),
            lease.id,
            vault.config().compression_level,
            vault.config().pack_size as usize,
            progress.clone(),
        );
        let seed = vault.keys().chunker_seed();
        Ok(Self {
            vault,
            throttle: Throttle::new(spec.read_limit),
            spec,
            lease: Some(lease),
            index,
            up: Some(up),
            tree: TreeWriter::new(seed),
            chunker: Chunker::for_content(vault.config().chunker, seed),
            summary: Summary::default(),
            warnings: Vec::new(),
            changed: false,
            progress,
            started,
            time,
        })
    }

    pub fn vault(&self) -> &'v Vault {
        self.vault
    }

    /// The index loaded under this writer's lease (to read the parent's tree).
    pub fn index(&self) -> &Arc<Index> {
        &self.index
    }

    pub fn spec(&self) -> &PointSpec {
        &self.spec
    }

    pub fn progress(&self) -> &Arc<Progress> {
        &self.progress
    }

    /// The point's summary; `commit` fills in the upload figures and duration.
    pub fn summary_mut(&mut self) -> &mut Summary {
        &mut self.summary
    }

    pub fn set_meta(&mut self, meta: serde_json::Map<String, serde_json::Value>) {
        self.spec.meta = meta;
    }

    /// Records a warning in the point (the first 1000 are kept in full).
    pub fn warn(&mut self, w: String) {
        self.summary.warnings += 1;
        if self.warnings.len() < 1000 {
            self.warnings.push(w);
        }
    }

    /// The source changed while it was read: the point is marked
    /// `changed-during-backup`.
    pub fn mark_changed(&mut self) {
        self.changed = true;
    }

    fn up(&mut self) -> &mut Uploader<'static> {
        self.up.as_mut().expect("the uploader lives until commit")
    }

    /// Stores one piece of source data (or records it as a hole).
    fn put_data(&mut self, chunks: &mut Vec<ChunkRef>, data: Vec<u8>) -> Result<()> {
        self.progress
            .bytes_read
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        if let Some(t) = &mut self.throttle {
            t.consume(data.len() as u64);
        }
        if is_zero(&data) {
            push_zero(chunks, data.len() as u64);
            return Ok(());
        }
        let (id, _) = self.up().store(KIND_DATA, data)?;
        chunks.push(ChunkRef::Id(id));
        Ok(())
    }

    /// Writes a byte stream as content-defined chunks; `what` names it in errors.
    pub fn write_stream(&mut self, r: impl Read, what: &str) -> Result<Written> {
        let mut chunks = Vec::new();
        let bytes = self.append_stream(r, what, &mut chunks)?;
        Ok(Written { chunks, bytes })
    }

    /// Like [`write_stream`](Self::write_stream), appending to a chunk list
    /// (a sparse file is written extent by extent); returns the bytes read.
    pub fn append_stream(
        &mut self,
        r: impl Read,
        what: &str,
        chunks: &mut Vec<ChunkRef>,
    ) -> Result<u64> {
        let chunker = self.chunker;
        chunker.chunk_reader(r, what, |data| self.put_data(chunks, data))
    }

    /// Writes a block source in fixed `disk_chunk_size` pieces. Pieces with
    /// no allocated byte are holes and are not read; a piece that reads as
    /// all zeros is a hole too. Given the parent point's entry for this
    /// source and a source that knows its changed extents, a piece that
    /// overlaps no changed extent takes the parent's chunk reference without
    /// being read.
    pub fn write_blocks(
        &mut self,
        src: &mut dyn BlockSource,
        parent: Option<&Entry>,
    ) -> Result<BlocksWritten> {
        let size = src.size();
        let chunk_size = self.vault.config().disk_chunk_size.max(1);
        let cs = chunk_size as u64;
        let alloc = normalize_extents(src.allocated_extents()?);
        let changed = src.changed_extents()?.map(normalize_extents);
        let mut reuse = match (parent, &changed) {
            (Some(p), Some(_)) if p.kind == EntryType::Disk && p.chunk_size == Some(chunk_size) => {
                Some(ParentRefs::new(p))
            }
            _ => None,
        };
        let mut chunks = Vec::new();
        let mut buf = vec![0u8; cs as usize];
        let (mut ai, mut ci) = (0usize, 0usize);
        let (mut bytes_read, mut reused_chunks) = (0u64, 0u64);
        let mut off = 0u64;
        while off < size {
            let len = cs.min(size - off);
            let end = off + len;
            while alloc.get(ai).is_some_and(|e| e.end() <= off) {
                ai += 1;
            }
            if alloc.get(ai).is_none_or(|e| e.offset >= end) {
                // No data in this piece: a hole up to the piece where data starts.
                let next = alloc.get(ai).map_or(size, |e| e.offset);
                let skip = ((next - off) / cs * cs).max(len).min(size - off);
                push_zero(&mut chunks, skip);
                self.progress.bytes_read.fetch_add(skip, Ordering::Relaxed);
                off += skip;
                continue;
            }
            if let (Some(changed), Some(parent)) = (&changed, &mut reuse) {
                while changed.get(ci).is_some_and(|e| e.end() <= off) {
                    ci += 1;
                }
                let touched = changed.get(ci).is_some_and(|e| e.offset < end);
                if !touched && let Some(r) = parent.at(off, len) {
                    match r {
                        ChunkRef::Zero(_) => push_zero(&mut chunks, len),
                        id => chunks.push(id),
                    }
                    self.progress.bytes_read.fetch_add(len, Ordering::Relaxed);
                    reused_chunks += 1;
                    off = end;
                    continue;
                }
            }
            let b = &mut buf[..len as usize];
            src.read_at(off, b)?;
            bytes_read += len;
            self.put_data(&mut chunks, b.to_vec())?;
            off = end;
        }
        Ok(BlocksWritten {
            chunks,
            size,
            chunk_size,
            bytes_read,
            reused_chunks,
        })
    }

    /// Adds an entry to the point's tree stream. Entries go in the order of
    /// a depth-first walk with names sorted bytewise (docs/format.md §8).
    pub fn add_entry(&mut self, e: &Entry) -> Result<()> {
        let up = self.up.as_mut().expect("the uploader lives until commit");
        self.tree.push(e, up)
    }

    /// Finishes the uploads and puts the manifest: the single commit point.
    pub fn commit(mut self) -> Result<BackupOutcome> {
        let mut up = self.up.take().expect("the uploader lives until commit");
        let seed = self.vault.keys().chunker_seed();
        let tree = std::mem::replace(&mut self.tree, TreeWriter::new(seed));
        let ids = match tree.finish(&mut up) {
            Ok(ids) => ids,
            Err(e) => {
                let _ = up.finish();
                return Err(e);
            }
        };
        let stats = up.finish()?;
        let mut summary = std::mem::take(&mut self.summary);
        summary.added_bytes = stats.new_bytes;
        summary.added_stored_bytes = stats.stored_bytes;
        summary.new_chunks = stats.new_chunks;
        summary.duration_ms = self.started.elapsed().as_millis() as u64;
        let spec = self.spec.clone();
        let point = Point {
            version: crate::format::POINT_VERSION as u32,
            time: self.time,
            host: spec.host,
            user: crate::util::username(),
            kind: spec.workload,
            meta: spec.meta,
            paths: spec.paths,
            tags: spec.tags,
            parent: spec.parent,
            tree: ids,
            consistency: if self.changed {
                Consistency::ChangedDuringBackup
            } else {
                Consistency::Consistent
            },
            summary,
            warnings: std::mem::take(&mut self.warnings),
        };
        let lease = self.lease.take().expect("the lease lives until commit");
        lease.check_fresh()?;
        let (id, bytes) = point.encode(self.vault.keys());
        // A point's name is its random id: a fragment left under it by
        // an interrupted upload is removed rather than listed as a point.
        crate::backend::put_exclusive(self.vault.backend(), &point_name(&id), &bytes)?;
        lease.release()?;
        Ok(BackupOutcome { id, point })
    }
}

impl Drop for PointWriter<'_> {
    fn drop(&mut self) {
        // Not committed: stop the upload threads; the lease goes with `self`.
        if let Some(up) = self.up.take() {
            let _ = up.finish();
        }
    }
}

/// Appends a run of zero bytes, merged with a run just before it.
pub fn push_zero(chunks: &mut Vec<ChunkRef>, n: u64) {
    if let Some(ChunkRef::Zero(z)) = chunks.last_mut() {
        *z += n;
    } else {
        chunks.push(ChunkRef::Zero(n));
    }
}

/// Walks a parent disk entry's chunk list forwards, answering "which
/// reference covered exactly this piece?".
struct ParentRefs<'p> {
    refs: std::slice::Iter<'p, ChunkRef>,
    cur: Option<(Extent, ChunkRef)>,
    pos: u64,
    size: u64,
    chunk: u64,
}

impl<'p> ParentRefs<'p> {
    fn new(e: &'p Entry) -> Self {
        Self {
            refs: e.chunks.iter(),
            cur: None,
            pos: 0,
            size: e.size,
            chunk: e.chunk_size.unwrap_or(1).max(1) as u64,
        }
    }

    fn next_ref(&mut self) -> Option<(Extent, ChunkRef)> {
        let r = *self.refs.next()?;
        let len = match r {
            ChunkRef::Zero(n) => n,
            ChunkRef::Id(_) => self.chunk.min(self.size.saturating_sub(self.pos)),
        };
        let ext = Extent {
            offset: self.pos,
            len,
        };
        self.pos = self.pos.saturating_add(len);
        Some((ext, r))
    }

    /// The reference for the piece [off, off+len), if the parent had one
    /// that covers exactly it (a stored chunk) or includes it (a hole).
    fn at(&mut self, off: u64, len: u64) -> Option<ChunkRef> {
        loop {
            match self.cur {
                Some((e, _)) if e.end() > off => break,
                _ => self.cur = Some(self.next_ref()?),
            }
        }
        let (e, r) = self.cur?;
        match r {
            ChunkRef::Id(_) if e.offset == off && e.len == len => Some(r),
            ChunkRef::Zero(_) if e.offset <= off && e.end() >= off + len => Some(r),
            _ => None,
        }
    }
}
