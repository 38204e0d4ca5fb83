//! The write pipeline: the caller chunks and hashes; new chunks go to a pool
//! of workers that compress and seal them; one packer thread gathers sealed
//! blobs into packs, stores them, and writes an index segment after every few
//! packs. Channels are bounded, so memory stays at a few packs' worth
//! whatever the size of the source.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::queue::{Receiver, Sender, bounded};

use crate::backend::Backend;
use crate::crypto::VaultKeys;
use crate::error::{Error, Result};
use crate::format::*;
use crate::id::{ChunkId, LeaseId, PackId, SegmentId};
use crate::index::{Index, Location, Segment, segment_name};
use crate::pack::{PackBuilder, PackEntry, pack_name};

/// Counters shared with progress displays.
#[derive(Debug, Default)]
pub struct Progress {
    pub bytes_read: AtomicU64,
    pub files_done: AtomicU64,
    pub bytes_new: AtomicU64,
    pub bytes_stored: AtomicU64,
    /// Bytes the whole job will read, as far as known so far.
    pub bytes_total: AtomicU64,
    /// Set once `bytes_total` is final (the sources were fully walked).
    pub total_known: std::sync::atomic::AtomicBool,
}

struct Job {
    kind: u8,
    id: ChunkId,
    data: Vec<u8>,
}

struct Sealed {
    kind: u8,
    id: ChunkId,
    sealed: Vec<u8>,
    raw_len: u32,
}

#[derive(Debug, Default, Clone)]
pub struct UploadStats {
    pub new_chunks: u64,
    pub new_bytes: u64,
    pub stored_bytes: u64,
    pub packs: u64,
    pub segments: u64,
}

/// The index an uploader deduplicates against: borrowed, or shared with the
/// point writer that owns the upload.
enum IndexRef<'a> {
    Borrowed(&'a Index),
    Shared(Arc<Index>),
}

impl std::ops::Deref for IndexRef<'_> {
    type Target = Index;
    fn deref(&self) -> &Index {
        match self {
            IndexRef::Borrowed(i) => i,
            IndexRef::Shared(i) => i,
        }
    }
}

pub struct Uploader<'a> {
    keys: VaultKeys,
    index: IndexRef<'a>,
    sent: HashSet<ChunkId>,
    tx: Option<Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
    packer: Option<JoinHandle<Result<UploadStats>>>,
    failed: Arc<AtomicBool>,
    first_error: Arc<Mutex<Option<Error>>>,
    progress: Arc<Progress>,
    pub new_chunks: u64,
    pub new_bytes: u64,
}

impl Uploader<'static> {
    /// Like [`Uploader::start`], holding its own share of the index.
    pub fn start_shared(
        backend: Arc<dyn Backend>,
        keys: &VaultKeys,
        index: Arc<Index>,
        writer: LeaseId,
        level: i32,
        pack_size: usize,
        progress: Arc<Progress>,
    ) -> Self {
        Self::start_with(
            backend,
            keys,
            IndexRef::Shared(index),
            writer,
            level,
            pack_size,
            progress,
        )
    }
}

impl<'a> Uploader<'a> {
    pub fn start(
        backend: Arc<dyn Backend>,
        keys: &VaultKeys,
        index: &'a Index,
        writer: LeaseId,
        level: i32,
        pack_size: usize,
        progress: Arc<Progress>,
    ) -> Self {
        Self::start_with(
            backend,
            keys,
            IndexRef::Borrowed(index),
            writer,
            level,
            pack_size,
            progress,
        )
    }

    fn start_with(
        backend: Arc<dyn Backend>,
        keys: &VaultKeys,
        index: IndexRef<'a>,
        writer: LeaseId,
        level: i32,
        pack_size: usize,
        progress: Arc<Progress>,
    ) -> Self {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(1, 8);
        let (tx, rx) = bounded::<Job>(threads * 2);
        let (stx, srx) = bounded::<Sealed>(threads * 2);
        let failed = Arc::new(AtomicBool::new(false));
        let first_error = Arc::new(Mutex::new(None));
        let workers = (0..threads)
            .map(|_| {
                let (rx, stx, keys) = (rx.clone(), stx.clone(), keys.clone());
                std::thread::spawn(move || {
                    for j in rx {
                        let sealed = crate::blob::encode(&keys, j.kind, &j.id, &j.data, level);
                        let raw_len = j.data.len() as u32;
                        drop(j.data);
                        if stx
                            .send(Sealed {
                                kind: j.kind,
                                id: j.id,
                                sealed,
                                raw_len,
                            })
                            .is_err()
                        {
                            break;
                        }
                    }
                })
            })
            .collect();
        drop(stx);
        let packer = {
            let (keys, failed, first_error, progress) = (
                keys.clone(),
                failed.clone(),
                first_error.clone(),
                progress.clone(),
            );
            std::thread::spawn(move || {
                let r = run_packer(
                    backend.as_ref(),
                    &keys,
                    writer,
                    pack_size,
                    srx.clone(),
                    &progress,
                );
                match r {
                    Ok(stats) => Ok(stats),
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        if let Ok(mut slot) = first_error.lock() {
                            *slot = Some(e);
                        }
                        // Keep draining so no sender blocks forever.
                        for _ in srx {}
                        Err(Error::External("the upload pipeline stopped".into()))
                    }
                }
            })
        };
        Self {
            keys: keys.clone(),
            index,
            sent: HashSet::new(),
            tx: Some(tx),
            workers,
            packer: Some(packer),
            failed,
            first_error,
            progress,
            new_chunks: 0,
            new_bytes: 0,
        }
    }

    pub fn keys(&self) -> &VaultKeys {
        &self.keys
    }

    /// Stores a chunk unless the vault (or this upload) already has it.
    /// Returns the id and whether it was new.
    pub fn store(&mut self, kind: u8, data: Vec<u8>) -> Result<(ChunkId, bool)> {
        let id = self.keys.chunk_id(&data);
        self.store_with_id(kind, id, data)
    }

    pub fn store_with_id(
        &mut self,
        kind: u8,
        id: ChunkId,
        data: Vec<u8>,
    ) -> Result<(ChunkId, bool)> {
        if self.failed.load(Ordering::Relaxed) {
            return Err(self.take_error());
        }
        if self.sent.contains(&id) || self.index.contains(&id)? {
            return Ok((id, false));
        }
        self.sent.insert(id);
        self.new_chunks += 1;
        self.new_bytes += data.len() as u64;
        self.progress
            .bytes_new
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        let tx = self.tx.as_ref().expect("uploader used after finish");
        if tx.send(Job { kind, id, data }).is_err() {
            return Err(self.take_error());
        }
        Ok((id, true))
    }

    fn take_error(&self) -> Error {
        self.first_error
            .lock()
            .ok()
            .and_then(|mut e| e.take())
            .unwrap_or_else(|| Error::External("the upload pipeline stopped".into()))
    }

    /// Flushes everything: all packs and index segments are stored when this returns Ok.
    pub fn finish(mut self) -> Result<UploadStats> {
        drop(self.tx.take());
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        let mut stats = match self.packer.take().map(|p| p.join()) {
            Some(Ok(Ok(stats))) => stats,
            Some(Ok(Err(_))) => return Err(self.take_error()),
            _ => return Err(Error::External("the packer thread panicked".into())),
        };
        stats.new_chunks = self.new_chunks;
        stats.new_bytes = self.new_bytes;
        Ok(stats)
    }
}

/// Gathers sealed blobs into packs and hands full packs to `STORERS`
/// threads, so a slow write or fsync of one pack does not stall the
/// pipeline. Index segments are written only for packs already stored
/// (docs/format.md §10, rule 1).
fn run_packer(
    backend: &dyn Backend,
    keys: &VaultKeys,
    writer: LeaseId,
    pack_size: usize,
    rx: Receiver<Sealed>,
    progress: &Progress,
) -> Result<UploadStats> {
    const STORERS: usize = 3;
    let (pack_tx, pack_rx) = bounded::<(PackId, Vec<u8>, Vec<PackEntry>)>(1);
    let (done_tx, done_rx) = bounded::<Result<(PackId, u64, Vec<PackEntry>)>>(STORERS * 2);
    std::thread::scope(|s| {
        for _ in 0..STORERS {
            let (pack_rx, done_tx) = (pack_rx.clone(), done_tx.clone());
            s.spawn(move || {
                for (id, bytes, entries) in pack_rx {
                    // Named by its content: a fragment an interrupted
                    // upload left under the name is removed, never indexed.
                    let r = crate::backend::put_exclusive(backend, &pack_name(&id), &bytes)
                        .map(|_| (id, bytes.len() as u64, entries))
                        .map_err(Error::from);
                    if done_tx.send(r).is_err() {
                        break;
                    }
                }
            });
        }
        drop(pack_rx);
        drop(done_tx);
        // The indexer: collects stored packs, writes segments as they fill.
        let indexer = s.spawn(move || -> Result<UploadStats> {
            let mut stats = UploadStats::default();
            let mut unindexed: Vec<(PackId, Vec<PackEntry>)> = Vec::new();
            let mut first_err = None;
            for r in done_rx {
                match r {
                    Ok((id, len, entries)) if first_err.is_none() => {
                        stats.packs += 1;
                        stats.stored_bytes += len;
                        progress.bytes_stored.fetch_add(len, Ordering::Relaxed);
                        unindexed.push((id, entries));
                        if unindexed.len() >= INDEX_FLUSH_PACKS
                            && let Err(e) =
                                write_segments(backend, keys, writer, &mut unindexed, &mut stats)
                        {
                            first_err = Some(e);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = first_err {
                return Err(e);
            }
            write_segments(backend, keys, writer, &mut unindexed, &mut stats)?;
            Ok(stats)
        });
        let mut pack = PackBuilder::new();
        let mut send_failed = false;
        for s in rx {
            if send_failed {
                continue; // drain, so no worker blocks
            }
            pack.add(s.kind, s.id, &s.sealed, s.raw_len);
            if pack.len() >= pack_size {
                let full = std::mem::take(&mut pack).finish(keys);
                send_failed = pack_tx.send(full).is_err();
            }
        }
        if !pack.is_empty() && !send_failed {
            let _ = pack_tx.send(pack.finish(keys));
        }
        drop(pack_tx);
        indexer
            .join()
            .unwrap_or_else(|_| Err(Error::External("the indexer thread panicked".into())))
    })
}

/// Writes index segments for packs already stored, at most
/// `INDEX_SEGMENT_MAX_ENTRIES` entries each.
pub fn write_segments(
    backend: &dyn Backend,
    keys: &VaultKeys,
    writer: LeaseId,
    packs: &mut Vec<(PackId, Vec<PackEntry>)>,
    stats: &mut UploadStats,
) -> Result<Vec<SegmentId>> {
    let mut written = Vec::new();
    let mut batch: Vec<(PackId, Vec<PackEntry>)> = Vec::new();
    let mut n = 0;
    for (id, entries) in packs.drain(..) {
        if n + entries.len() > INDEX_SEGMENT_MAX_ENTRIES && !batch.is_empty() {
            written.push(put_segment(backend, keys, writer, &batch)?);
            stats.segments += 1;
            batch.clear();
            n = 0;
        }
        n += entries.len();
        batch.push((id, entries));
    }
    if !batch.is_empty() {
        written.push(put_segment(backend, keys, writer, &batch)?);
        stats.segments += 1;
    }
    Ok(written)
}

fn put_segment(
    backend: &dyn Backend,
    keys: &VaultKeys,
    writer: LeaseId,
    batch: &[(PackId, Vec<PackEntry>)],
) -> Result<SegmentId> {
    let seg = Segment::build(writer, batch);
    let (sid, bytes) = seg.encode(keys);
    // Named by its content: a fragment left under the name is removed.
    crate::backend::put_exclusive(backend, &segment_name(&sid), &bytes)?;
    Ok(sid)
}

/// A location helper for callers that keep their own map of stored chunks.
pub fn location_of(pack: PackId, e: &PackEntry) -> Location {
    Location::from_entry(pack, e)
}
