//! The chunk index: which pack holds each chunk (docs/format.md §7).
//! (One file of about 630 lines: the segment format and the cache that
//! serves it are read and changed together.)
//!
//! In the vault the index is a set of immutable, sorted, sealed segments. On
//! the machine that reads it, each segment is kept decrypted in a local cache
//! file, and RAM holds only a Bloom filter (10 bits per chunk) and every
//! 256th id prefix per segment: about 1.3 bytes per chunk, so memory follows
//! configuration, not vault size. A lookup that passes a filter reads one
//! 12 KiB block of the cache file with `pread`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::backend::Backend;
use crate::crypto::VaultKeys;
use crate::error::{Error, Result};
use crate::format::*;
use crate::id::{ChunkId, LeaseId, PackId, SegmentId};
use crate::pack::PackEntry;
use crate::util::{le_u32, le_u64};

/// Where a chunk is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub pack: PackId,
    pub kind: u8,
    pub offset: u32,
    pub sealed_len: u32,
    pub raw_len: u32,
}

impl Location {
    pub fn from_entry(pack: PackId, e: &PackEntry) -> Self {
        Self {
            pack,
            kind: e.kind,
            offset: e.offset,
            sealed_len: e.sealed_len,
            raw_len: e.raw_len,
        }
    }
}

/// A decoded index segment.
#[derive(Debug, Clone, Default)]
pub struct Segment {
    pub writer: LeaseId,
    pub created: u64,
    pub packs: Vec<PackId>,
    /// Sorted by chunk id: (id, pack number, entry).
    pub entries: Vec<(ChunkId, u32, PackEntry)>,
}

pub fn segment_name(id: &SegmentId) -> String {
    format!("index/{}", id.to_hex())
}

impl Segment {
    /// Builds a segment from (pack, entries) pairs; sorts and numbers packs.
    pub fn build(writer: LeaseId, items: &[(PackId, Vec<PackEntry>)]) -> Self {
        let mut packs = Vec::new();
        let mut entries = Vec::new();
        for (pack, es) in items {
            let no = packs.len() as u32;
            packs.push(*pack);
            entries.extend(es.iter().map(|e| (e.id, no, *e)));
        }
        entries.sort_by_key(|e| e.0);
        Self {
            writer,
            created: crate::util::now_secs(),
            packs,
            entries,
        }
    }

    pub fn encode(&self, keys: &VaultKeys) -> (SegmentId, Vec<u8>) {
        let mut p =
            Vec::with_capacity(32 + self.packs.len() * 32 + self.entries.len() * INDEX_ENTRY_LEN);
        p.extend_from_slice(&self.writer.0);
        p.extend_from_slice(&self.created.to_le_bytes());
        p.extend_from_slice(&(self.packs.len() as u32).to_le_bytes());
        for pk in &self.packs {
            p.extend_from_slice(&pk.0);
        }
        p.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for (id, no, e) in &self.entries {
            p.extend_from_slice(&id.0);
            p.extend_from_slice(&no.to_le_bytes());
            p.extend_from_slice(&e.offset.to_le_bytes());
            p.extend_from_slice(&e.sealed_len.to_le_bytes());
            p.extend_from_slice(&e.raw_len.to_le_bytes());
            p.push(e.kind);
        }
        let mut out = Vec::with_capacity(p.len() + 64);
        out.extend_from_slice(&prologue(INDEX_MAGIC, INDEX_VERSION));
        out.extend_from_slice(&keys.seal(AAD_INDEX, &p));
        (SegmentId::of_bytes(&out), out)
    }

    pub fn decode(keys: &VaultKeys, bytes: &[u8], what: &str) -> Result<Self> {
        check_prologue(bytes, INDEX_MAGIC, INDEX_VERSION, "index segment", what)?;
        let p = keys.open(AAD_INDEX, &bytes[PROLOGUE_LEN..], what)?;
        Self::decode_plain(&p, what)
    }

    /// Parses a segment's plaintext (public for the fuzz targets).
    pub fn decode_plain(p: &[u8], what: &str) -> Result<Self> {
        let short = || Error::corrupt(what, "index segment truncated");
        if p.len() < 28 {
            return Err(short());
        }
        let mut writer = LeaseId::default();
        writer.0.copy_from_slice(&p[..16]);
        let created = le_u64(p, 16);
        let npacks = le_u32(p, 24) as usize;
        let mut at = 28;
        // A segment never names more packs than it has entries room for;
        // the cache file relies on the same bound.
        if npacks > INDEX_SEGMENT_MAX_ENTRIES {
            return Err(Error::corrupt(what, "index segment names too many packs"));
        }
        if p.len() < at + npacks * 32 + 4 {
            return Err(short());
        }
        let packs: Vec<PackId> = (0..npacks)
            .map(|i| PackId::from_slice(&p[at + i * 32..]))
            .collect();
        at += npacks * 32;
        let n = le_u32(p, at) as usize;
        at += 4;
        if p.len() != at + n * INDEX_ENTRY_LEN {
            return Err(Error::corrupt(
                what,
                "index segment size does not match its count",
            ));
        }
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let id = ChunkId::from_slice(&p[at..]);
            let no = le_u32(p, at + 32);
            let e = PackEntry {
                id,
                offset: le_u32(p, at + 36),
                sealed_len: le_u32(p, at + 40),
                raw_len: le_u32(p, at + 44),
                kind: p[at + 48],
            };
            if no as usize >= npacks || e.kind > KIND_TREE {
                return Err(Error::corrupt(what, "index entry out of range"));
            }
            entries.push((id, no, e));
            at += INDEX_ENTRY_LEN;
        }
        if entries.windows(2).any(|w| w[0].0 > w[1].0) {
            return Err(Error::corrupt(what, "index entries not sorted"));
        }
        Ok(Self {
            writer,
            created,
            packs,
            entries,
        })
    }
}

// ---------------------------------------------------------------- the cache

const CACHE_MAGIC: &[u8; 8] = b"LBCACHE2";
/// magic, entries, packs, bloom words, writer, BLAKE3 of the counts, writer,
/// pack table, bloom and fences. Entries are not covered (that would mean
/// hashing the whole index at every open); a damaged entry can only point
/// at the wrong place, and every read is checked against the chunk id.
const CACHE_HEADER_LEN: u64 = 8 + 8 + 4 + 4 + 16 + 32;
const FENCE_EVERY: usize = 256;
const BLOOM_BITS_PER_KEY: usize = 10;
const BLOOM_PROBES: u64 = 7;

/// Bloom filter over chunk ids. Ids are already uniform keyed hashes, so the
/// probe positions come straight from their bytes (no rehashing; that is why
/// this is a dozen lines and not a dependency).
struct Bloom {
    words: Vec<u64>,
}

impl Bloom {
    fn with_keys(n: usize) -> Self {
        Self {
            words: vec![0; (n * BLOOM_BITS_PER_KEY).div_ceil(64).max(1)],
        }
    }
    fn probes(&self, id: &ChunkId) -> impl Iterator<Item = usize> {
        let m = (self.words.len() * 64) as u64;
        let h1 = le_u64(&id.0, 8);
        let h2 = le_u64(&id.0, 16) | 1;
        (0..BLOOM_PROBES).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % m) as usize)
    }
    fn insert(&mut self, id: &ChunkId) {
        let ps: Vec<usize> = self.probes(id).collect();
        for p in ps {
            self.words[p / 64] |= 1 << (p % 64);
        }
    }
    fn maybe(&self, id: &ChunkId) -> bool {
        self.probes(id)
            .all(|p| self.words[p / 64] & (1 << (p % 64)) != 0)
    }
}

/// One cached segment: the file, its filter and fences.
struct CachedSegment {
    id: SegmentId,
    writer: LeaseId,
    file: File,
    entries: u64,
    npacks: u32,
    packs_at: u64,
    entries_at: u64,
    bloom: Bloom,
    fences: Vec<u64>,
}

impl CachedSegment {
    fn write(path: &Path, seg: &Segment) -> Result<()> {
        let mut bloom = Bloom::with_keys(seg.entries.len());
        let mut fences = Vec::new();
        for (i, (id, _, _)) in seg.entries.iter().enumerate() {
            bloom.insert(id);
            if i % FENCE_EVERY == 0 {
                fences.push(le_u64(&id.0, 0).swap_bytes());
            }
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let io = |e| Error::io(format!("writing index cache {}", tmp.display()), e);
        let mut covered =
            Vec::with_capacity(32 + seg.packs.len() * 32 + (bloom.words.len() + fences.len()) * 8);
        covered.extend_from_slice(&(seg.entries.len() as u64).to_le_bytes());
        covered.extend_from_slice(&(seg.packs.len() as u32).to_le_bytes());
        covered.extend_from_slice(&(bloom.words.len() as u32).to_le_bytes());
        covered.extend_from_slice(&seg.writer.0);
        for p in &seg.packs {
            covered.extend_from_slice(&p.0);
        }
        for wd in &bloom.words {
            covered.extend_from_slice(&wd.to_le_bytes());
        }
        for fe in &fences {
            covered.extend_from_slice(&fe.to_le_bytes());
        }
        let sum = blake3::hash(&covered);
        let f = File::create(&tmp).map_err(io)?;
        let mut w = BufWriter::new(f);
        let mut put = |b: &[u8]| w.write_all(b);
        (|| -> std::io::Result<()> {
            put(CACHE_MAGIC)?;
            put(&covered[..32])?;
            put(sum.as_bytes())?;
            put(&covered[32..])?;
            for (id, no, e) in &seg.entries {
                put(&id.0)?;
                put(&no.to_le_bytes())?;
                put(&e.offset.to_le_bytes())?;
                put(&e.sealed_len.to_le_bytes())?;
                put(&e.raw_len.to_le_bytes())?;
                put(&[e.kind])?;
            }
            Ok(())
        })()
        .map_err(io)?;
        let f = w.into_inner().map_err(|e| io(e.into_error()))?;
        f.sync_data().map_err(io)?;
        fs::rename(&tmp, path).map_err(io)?;
        Ok(())
    }

    fn load(id: SegmentId, path: &Path) -> Result<Self> {
        let io = |e| Error::io(format!("reading index cache {}", path.display()), e);
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let mut h = [0u8; CACHE_HEADER_LEN as usize];
        file.read_exact_at(&mut h, 0).map_err(io)?;
        let bad = || Error::corrupt(format!("index cache {}", path.display()), "bad cache file");
        if &h[..8] != CACHE_MAGIC {
            return Err(bad());
        }
        let entries = le_u64(&h, 8);
        let npacks = le_u32(&h, 16) as u64;
        let nwords = le_u32(&h, 20) as u64;
        let mut writer = LeaseId::default();
        writer.0.copy_from_slice(&h[24..40]);
        // Bounds first, so no size below can overflow or be absurd.
        if entries > 16 * INDEX_SEGMENT_MAX_ENTRIES as u64
            || npacks > INDEX_SEGMENT_MAX_ENTRIES as u64
            || nwords == 0
            || nwords > entries + 1
        {
            return Err(bad());
        }
        let nfences = entries.div_ceil(FENCE_EVERY as u64);
        let packs_at = CACHE_HEADER_LEN;
        let bloom_at = packs_at + npacks * 32;
        let fences_at = bloom_at + nwords * 8;
        let entries_at = fences_at + nfences * 8;
        if len != entries_at + entries * INDEX_ENTRY_LEN as u64 {
            return Err(bad());
        }
        let mut covered = vec![0u8; 32 + (entries_at - packs_at) as usize];
        covered[..32].copy_from_slice(&h[8..40]);
        file.read_exact_at(&mut covered[32..], packs_at)
            .map_err(io)?;
        if blake3::hash(&covered).as_bytes()[..] != h[40..72] {
            return Err(bad());
        }
        let raw = &covered[32 + (bloom_at - packs_at) as usize..];
        let words = (0..nwords as usize).map(|i| le_u64(raw, i * 8)).collect();
        let fences = (0..nfences as usize)
            .map(|i| le_u64(raw, (nwords as usize + i) * 8))
            .collect();
        Ok(Self {
            id,
            writer,
            file,
            entries,
            npacks: npacks as u32,
            packs_at,
            entries_at,
            bloom: Bloom { words },
            fences,
        })
    }

    fn pack_id(&self, no: u32) -> Result<PackId> {
        if no >= self.npacks {
            return Err(Error::corrupt(
                "index cache",
                "pack number out of range; delete the cache folder",
            ));
        }
        let mut b = [0u8; 32];
        self.file
            .read_exact_at(&mut b, self.packs_at + no as u64 * 32)
            .map_err(|e| Error::io("reading index cache", e))?;
        Ok(PackId(b))
    }

    fn lookup(&self, id: &ChunkId) -> Result<Option<Location>> {
        if !self.bloom.maybe(id) {
            return Ok(None);
        }
        let prefix = le_u64(&id.0, 0).swap_bytes();
        // Entries before the last block whose first prefix is < ours are
        // smaller; entries from the first block whose first prefix is > ours
        // are larger. Usually that leaves exactly one block.
        let lo_block = self.fences.partition_point(|&f| f < prefix);
        let hi_block = self.fences.partition_point(|&f| f <= prefix);
        let from = (lo_block.max(1) - 1) as u64 * FENCE_EVERY as u64;
        let to = (hi_block as u64 * FENCE_EVERY as u64).min(self.entries);
        if to <= from {
            return Ok(None);
        }
        let mut buf = vec![0u8; ((to - from) as usize) * INDEX_ENTRY_LEN];
        self.file
            .read_exact_at(&mut buf, self.entries_at + from * INDEX_ENTRY_LEN as u64)
            .map_err(|e| Error::io("reading index cache", e))?;
        let n = buf.len() / INDEX_ENTRY_LEN;
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let at = mid * INDEX_ENTRY_LEN;
            match buf[at..at + 32].cmp(&id.0[..]) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    return Ok(Some(Location {
                        pack: self.pack_id(le_u32(&buf, at + 32))?,
                        offset: le_u32(&buf, at + 36),
                        sealed_len: le_u32(&buf, at + 40),
                        raw_len: le_u32(&buf, at + 44),
                        kind: buf[at + 48],
                    }));
                }
            }
        }
        Ok(None)
    }

    /// Streams every entry in id order.
    fn for_each(&self, mut f: impl FnMut(ChunkId, Location) -> Result<()>) -> Result<()> {
        let mut packs_raw = vec![0u8; (self.entries_at - self.packs_at) as usize];
        self.file
            .read_exact_at(&mut packs_raw, self.packs_at)
            .map_err(|e| Error::io("reading index cache", e))?;
        const BATCH: u64 = 4096;
        let mut buf = vec![0u8; BATCH as usize * INDEX_ENTRY_LEN];
        let mut i = 0;
        while i < self.entries {
            let n = BATCH.min(self.entries - i) as usize;
            let b = &mut buf[..n * INDEX_ENTRY_LEN];
            self.file
                .read_exact_at(b, self.entries_at + i * INDEX_ENTRY_LEN as u64)
                .map_err(|e| Error::io("reading index cache", e))?;
            for k in 0..n {
                let at = k * INDEX_ENTRY_LEN;
                let no = le_u32(b, at + 32) as usize;
                if no >= self.npacks as usize {
                    return Err(Error::corrupt(
                        "index cache",
                        "pack number out of range; delete the cache folder",
                    ));
                }
                f(
                    ChunkId::from_slice(&b[at..]),
                    Location {
                        pack: PackId::from_slice(&packs_raw[no * 32..]),
                        offset: le_u32(b, at + 36),
                        sealed_len: le_u32(b, at + 40),
                        raw_len: le_u32(b, at + 44),
                        kind: b[at + 48],
                    },
                )?;
            }
            i += n as u64;
        }
        Ok(())
    }
}

/// The whole index of a vault as seen by this process: cached segments plus
/// what this process stored itself since it loaded them.
pub struct Index {
    segments: Vec<CachedSegment>,
    session: HashMap<ChunkId, Location>,
    /// Segments that could not be read (damaged or not from this vault).
    pub damaged: Vec<(SegmentId, String)>,
    /// Chunks in packs the garbage collector has condemned but not yet
    /// deleted, loaded on first use: still readable, never deduplicated against.
    condemned: std::sync::OnceLock<HashMap<ChunkId, Location>>,
    reader: Option<(std::sync::Arc<dyn Backend>, VaultKeys)>,
}

/// Where index caches live: `LIFEBOAT_CACHE_DIR`, else the XDG cache folder.
pub fn default_cache_root() -> PathBuf {
    if let Some(d) = std::env::var_os("LIFEBOAT_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("lifeboat");
    }
    if let Some(h) = std::env::var_os("HOME") {
        return PathBuf::from(h).join(".cache").join("lifeboat");
    }
    std::env::temp_dir().join("lifeboat-cache")
}

impl Index {
    /// Brings the local cache in line with the vault's segments and loads it.
    pub fn load(
        backend: std::sync::Arc<dyn Backend>,
        keys: &VaultKeys,
        cache_dir: &Path,
    ) -> Result<Self> {
        fs::create_dir_all(cache_dir)
            .map_err(|e| Error::io(format!("creating cache {}", cache_dir.display()), e))?;
        // A segment may vanish between list and get when gc consolidates;
        // listing again sees its replacement.
        let mut last_err = None;
        for _ in 0..8 {
            match Self::try_load(backend.as_ref(), keys, cache_dir) {
                Ok(mut ix) => {
                    ix.reader = Some((backend, keys.clone()));
                    return Ok(ix);
                }
                Err(e) if e.is_not_found() => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| Error::corrupt("index", "could not load")))
    }

    fn try_load(backend: &dyn Backend, keys: &VaultKeys, cache_dir: &Path) -> Result<Self> {
        let listed = backend.list("index/")?;
        let mut wanted = BTreeMap::new();
        for o in &listed {
            let name = o.name.trim_start_matches("index/");
            if let Ok(id) = SegmentId::from_hex(name) {
                wanted.insert(id, ());
            }
        }
        let mut segments = Vec::with_capacity(wanted.len());
        let mut damaged = Vec::new();
        'segments: for id in wanted.keys() {
            let path = cache_dir.join(format!("{}.lbc", id.to_hex()));
            let seg = match CachedSegment::load(*id, &path) {
                Ok(s) => s,
                Err(_) => {
                    let name = segment_name(id);
                    let bytes = backend.get(&name)?;
                    if SegmentId::of_bytes(&bytes) != *id {
                        damaged.push((*id, "content does not match its name".to_string()));
                        continue;
                    }
                    let seg = match Segment::decode(keys, &bytes, &name) {
                        Ok(seg) => seg,
                        Err(e) => {
                            damaged.push((*id, e.to_string()));
                            continue;
                        }
                    };
                    let mut rewrites = 0;
                    loop {
                        CachedSegment::write(&path, &seg)?;
                        match CachedSegment::load(*id, &path) {
                            Ok(s) => break s,
                            // Another process sharing this cache listed the
                            // vault before this segment existed and removed
                            // the file as stale between the write and the
                            // load: write it again.
                            Err(e) if e.is_not_found() && rewrites < 3 => rewrites += 1,
                            // A segment the cache format cannot hold is
                            // damaged, not a reason to refuse the whole index.
                            Err(e) => {
                                let _ = fs::remove_file(&path);
                                damaged.push((*id, e.to_string()));
                                continue 'segments;
                            }
                        }
                    }
                }
            };
            segments.push(seg);
        }
        // Drop cache files of segments the vault no longer has.
        if let Ok(rd) = fs::read_dir(cache_dir) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if let Some(hex) = n.strip_suffix(".lbc")
                    && SegmentId::from_hex(hex).is_ok_and(|id| !wanted.contains_key(&id))
                {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        Ok(Self {
            segments,
            session: HashMap::new(),
            damaged,
            condemned: Default::default(),
            reader: None,
        })
    }

    /// An index that knows nothing (for tests and for a fresh vault).
    pub fn empty() -> Self {
        Self {
            segments: Vec::new(),
            session: HashMap::new(),
            damaged: Vec::new(),
            condemned: Default::default(),
            reader: None,
        }
    }

    pub fn lookup(&self, id: &ChunkId) -> Result<Option<Location>> {
        if let Some(l) = self.session.get(id) {
            return Ok(Some(*l));
        }
        for s in self.segments.iter().rev() {
            if let Some(l) = s.lookup(id)? {
                return Ok(Some(l));
            }
        }
        Ok(None)
    }

    /// Like `lookup`, but also finds chunks in condemned packs: for reading
    /// points that a writer committed while the garbage collector waited.
    pub fn locate(&self, id: &ChunkId) -> Result<Option<Location>> {
        if let Some(l) = self.lookup(id)? {
            return Ok(Some(l));
        }
        let Some((backend, keys)) = &self.reader else {
            return Ok(None);
        };
        let map = self.condemned.get_or_init(|| {
            crate::gc::condemned_locations(backend.as_ref(), keys).unwrap_or_default()
        });
        Ok(map.get(id).copied())
    }

    pub fn contains(&self, id: &ChunkId) -> Result<bool> {
        Ok(self.lookup(id)?.is_some())
    }

    /// Records chunks this process stored (visible to later lookups at once).
    pub fn add_session(&mut self, pack: PackId, entries: &[PackEntry]) {
        for e in entries {
            self.session.insert(e.id, Location::from_entry(pack, e));
        }
    }

    pub fn segment_ids(&self) -> Vec<(SegmentId, LeaseId)> {
        self.segments.iter().map(|s| (s.id, s.writer)).collect()
    }

    pub fn chunk_count(&self) -> u64 {
        self.segments.iter().map(|s| s.entries).sum()
    }

    /// Every (chunk, location) of the cached segments, segment by segment.
    pub fn for_each(
        &self,
        mut f: impl FnMut(SegmentId, LeaseId, ChunkId, Location) -> Result<()>,
    ) -> Result<()> {
        for s in &self.segments {
            s.for_each(|id, loc| f(s.id, s.writer, id, loc))?;
        }
        Ok(())
    }

    /// Packs the index names.
    pub fn packs(&self) -> Result<HashSet<PackId>> {
        let mut out = HashSet::new();
        self.for_each(|_, _, _, l| {
            out.insert(l.pack);
            Ok(())
        })?;
        Ok(out)
    }

    /// Bytes of RAM the filters and fences take (for reports and the memory benchmark).
    pub fn resident_bytes(&self) -> usize {
        self.segments
            .iter()
            .map(|s| s.bloom.words.len() * 8 + s.fences.len() * 8)
            .sum::<usize>()
            + self.session.len() * 96
    }
}

#[cfg(test)]
mod tests;
