//! Verify: is every point restorable? Structure always (manifests, trees,
//! index, packs present); with `read_data`, every selected pack is read,
//! every blob decrypted, decompressed and checked against its id. Damage is
//! reported per point, down to the files it affects; the rest of the vault
//! stays usable. `repair_index` rebuilds the index from the packs alone.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::id::{ChunkId, LeaseId, PackId, PointId, SegmentId};
use crate::index::segment_name;
use crate::manifest::{ChunkRef, point_name};
use crate::pack::{PackEntry, pack_name, parse_pack};
use crate::tree::TreeReader;
use crate::upload::{UploadStats, write_segments};
use crate::vault::Vault;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReadData {
    None,
    All,
    /// Percent of packs, chosen at random.
    Subset(f64),
}

#[derive(Debug, Clone, Serialize)]
pub struct DamagedPoint {
    pub id: PointId,
    pub time: Option<chrono::DateTime<chrono::Utc>>,
    pub reason: String,
    /// Affected files (first 1000).
    pub files: Vec<String>,
    pub affected_files: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub points: usize,
    pub packs: usize,
    pub packs_read: usize,
    pub bytes_read: u64,
    pub chunks_checked: u64,
    pub index_repaired: bool,
    pub damaged_points: Vec<DamagedPoint>,
    pub damaged_packs: Vec<String>,
    pub damaged_index_segments: Vec<String>,
    pub problems: Vec<String>,
}

impl VerifyReport {
    pub fn is_clean(&self) -> bool {
        self.damaged_points.is_empty()
            && self.damaged_packs.is_empty()
            && self.damaged_index_segments.is_empty()
            && self.problems.is_empty()
    }
}

/// Reads every pack header (or whole pack) and writes a fresh index from them.
pub fn repair_index(vault: &Vault) -> Result<usize> {
    let backend = vault.backend();
    let keys = vault.keys();
    let old: Vec<String> = backend
        .list("index/")?
        .into_iter()
        .map(|o| o.name)
        .collect();
    let mut items: Vec<(PackId, Vec<PackEntry>)> = Vec::new();
    for o in backend.list("packs/")? {
        let Some(hex) = o.name.rsplit('/').next() else {
            continue;
        };
        let Ok(id) = PackId::from_hex(hex) else {
            continue;
        };
        if let Ok(entries) = crate::gc::read_pack_header(backend, keys, &id) {
            items.push((id, entries));
        }
    }
    let n = items.iter().map(|(_, e)| e.len()).sum();
    let mut stats = UploadStats::default();
    let written: HashSet<String> =
        write_segments(backend, keys, LeaseId::default(), &mut items, &mut stats)?
            .iter()
            .map(segment_name)
            .collect();
    for name in old {
        if !written.contains(&name) {
            backend.delete(&name)?;
        }
    }
    Ok(n)
}

pub fn verify(vault: &Vault, read: ReadData, repair: bool) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    if repair {
        repair_index(vault)?;
        report.index_repaired = true;
    }
    let backend = vault.backend();
    let keys = vault.keys();
    let index = vault.load_index()?;
    for (sid, why) in &index.damaged {
        report
            .damaged_index_segments
            .push(format!("{}: {why}", segment_name(sid)));
    }
    let listed: HashMap<PackId, u64> = backend
        .list("packs/")?
        .into_iter()
        .filter_map(|o| {
            let hex = o.name.rsplit('/').next()?.to_string();
            match PackId::from_hex(&hex) {
                Ok(id) => Some((id, o.size)),
                Err(_) => None,
            }
        })
        .collect();
    report.packs = listed.len();

    // Chunks that cannot be read, with why.
    let mut bad: HashMap<ChunkId, String> = HashMap::new();
    if read != ReadData::None {
        let mut chosen: Vec<PackId> = listed.keys().copied().collect();
        chosen.sort();
        if let ReadData::Subset(pct) = read {
            let salt: [u8; 8] = crate::crypto::random_array();
            chosen.retain(|p| {
                let h = blake3::keyed_hash(&blake3::hash(&salt).into(), &p.0);
                (crate::util::le_u64(h.as_bytes(), 0) % 10_000) as f64 <= pct * 100.0
            });
        }
        let bad_m = Mutex::new(HashMap::<ChunkId, String>::new());
        let damaged_packs = Mutex::new(Vec::new());
        let unparsed = Mutex::new(HashSet::<PackId>::new());
        let stats = Mutex::new((0usize, 0u64, 0u64));
        let queue = Mutex::new(chosen.into_iter());
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(1, 8);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    loop {
                        let Some(p) = queue.lock().expect("queue").next() else {
                            break;
                        };
                        let name = pack_name(&p);
                        let bytes = match backend.get(&name) {
                            Ok(b) => b,
                            Err(e) => {
                                damaged_packs
                                    .lock()
                                    .expect("lock")
                                    .push(format!("{name}: {e}"));
                                unparsed.lock().expect("lock").insert(p);
                                continue;
                            }
                        };
                        let mut local_bad = Vec::new();
                        if PackId::of_bytes(&bytes) != p {
                            damaged_packs
                                .lock()
                                .expect("lock")
                                .push(format!("{name}: content does not match its name"));
                        }
                        let mut n = 0u64;
                        match parse_pack(keys, &bytes, &name) {
                            Ok((_, entries)) => {
                                for e in entries {
                                    let sealed = match e.sealed_in(&bytes, &name) {
                                        Ok(s) => s,
                                        Err(err) => {
                                            local_bad.push((e.id, err.to_string()));
                                            continue;
                                        }
                                    };
                                    n += 1;
                                    if let Err(err) =
                                        crate::blob::decode(keys, e.kind, &e.id, sealed, e.raw_len)
                                    {
                                        local_bad.push((e.id, format!("{name}: {err}")));
                                    }
                                }
                            }
                            Err(err) => {
                                damaged_packs
                                    .lock()
                                    .expect("lock")
                                    .push(format!("{name}: {err}"));
                                unparsed.lock().expect("lock").insert(p);
                            }
                        }
                        bad_m.lock().expect("lock").extend(local_bad);
                        let mut st = stats.lock().expect("lock");
                        st.0 += 1;
                        st.1 += bytes.len() as u64;
                        st.2 += n;
                    }
                });
            }
        });
        bad = bad_m.into_inner().expect("lock");
        report.damaged_packs = damaged_packs.into_inner().expect("lock");
        let st = stats.into_inner().expect("lock");
        report.packs_read = st.0;
        report.bytes_read = st.1;
        report.chunks_checked = st.2;
        // Packs whose header could not be read: check their indexed chunks
        // one by one, so intact blobs in a damaged pack still count as good.
        let unparsed = unparsed.into_inner().expect("lock");
        if !unparsed.is_empty() {
            let mut suspects = Vec::new();
            index.for_each(|_, _, id, loc| {
                if unparsed.contains(&loc.pack) {
                    suspects.push((id, loc));
                }
                Ok(())
            })?;
            for (id, loc) in suspects {
                if let Err(e) = vault.read_chunk(&id, &loc) {
                    bad.entry(id)
                        .or_insert_with(|| format!("{}: {e}", pack_name(&loc.pack)));
                }
            }
        }
    }

    // Index segments as stored in the vault (the local cache may hide damage).
    for o in backend.list("index/")? {
        let what = o.name.clone();
        let check = backend.get(&o.name).map_err(Error::from).and_then(|bytes| {
            let hex = o.name.trim_start_matches("index/");
            if SegmentId::from_hex(hex).ok() != Some(SegmentId::of_bytes(&bytes)) {
                return Err(Error::corrupt(&what, "content does not match its name"));
            }
            crate::index::Segment::decode(keys, &bytes, &what).map(|_| ())
        });
        match check {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                let line = format!("{what}: {e}");
                if !report
                    .damaged_index_segments
                    .iter()
                    .any(|d| d.starts_with(&what))
                {
                    report.damaged_index_segments.push(line);
                }
            }
        }
    }

    // Every point: manifest, tree stream, and each chunk it needs.
    let (points, unreadable) = vault.points()?;
    report.points = points.len() + unreadable.len();
    for (id, e) in unreadable {
        report.damaged_points.push(DamagedPoint {
            id,
            time: None,
            reason: format!("manifest unreadable: {e}"),
            files: vec![],
            affected_files: 0,
        });
    }
    let mut checked: HashMap<ChunkId, Option<String>> = HashMap::new();
    let mut check = |id: &ChunkId| -> Result<Option<String>> {
        if let Some(r) = checked.get(id) {
            return Ok(r.clone());
        }
        let r = if let Some(why) = bad.get(id) {
            Some(why.clone())
        } else {
            match index.locate(id)? {
                None => Some(format!("chunk {} is in no index", id.short())),
                Some(loc) => match listed.get(&loc.pack) {
                    None => Some(format!("{} is missing", pack_name(&loc.pack))),
                    Some(&size) if loc.offset as u64 + loc.sealed_len as u64 > size => {
                        Some(format!("{} is truncated", pack_name(&loc.pack)))
                    }
                    _ => None,
                },
            }
        };
        checked.insert(*id, r.clone());
        Ok(r)
    };
    for (id, p) in &points {
        let mut dp = DamagedPoint {
            id: *id,
            time: Some(p.time),
            reason: String::new(),
            files: vec![],
            affected_files: 0,
        };
        for t in &p.tree {
            if let Some(why) = check(t)? {
                dp.reason = format!("file list damaged: {why}");
            }
        }
        if dp.reason.is_empty() {
            let reader = TreeReader::new(p.tree.clone(), point_name(id), |cid| {
                vault.read_chunk_via(&index, cid)
            });
            for e in reader {
                let e = match e {
                    Ok(e) => e,
                    Err(err) => {
                        dp.reason = format!("file list damaged: {err}");
                        break;
                    }
                };
                let mut why_file = None;
                for cid in e.chunk_ids() {
                    if let Some(why) = check(cid)? {
                        why_file = Some(why);
                        break;
                    }
                }
                if why_file.is_none() && !e.chunks.is_empty() {
                    let mut total = 0u64;
                    for c in &e.chunks {
                        total += match c {
                            ChunkRef::Zero(n) => *n,
                            ChunkRef::Id(id) => {
                                index.locate(id)?.map(|l| l.raw_len as u64).unwrap_or(0)
                            }
                        };
                    }
                    if total != e.size {
                        why_file = Some(format!(
                            "chunks hold {total} bytes, the entry says {}",
                            e.size
                        ));
                    }
                }
                if let Some(why) = why_file {
                    if dp.reason.is_empty() {
                        dp.reason = why;
                    }
                    dp.affected_files += 1;
                    if dp.files.len() < 1000 {
                        dp.files.push(e.path.clone());
                    }
                }
            }
        }
        if !dp.reason.is_empty() {
            report.damaged_points.push(dp);
        }
    }
    Ok(report)
}
