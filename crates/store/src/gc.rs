//! Garbage collection without a global lock (docs/format.md §10), as a plan
//! ([`plan`], shown by `gc --dry-run`) and its execution ([`execute`]).
//!
//! `forget` ([`crate::forget`]) deletes point manifests. `gc` frees the
//! data no point needs, in two phases: a run *condemns* unneeded packs (drops
//! them from the index and records them), and a later run deletes them once
//! every writer that might have reused them has finished — rescuing any pack
//! a newly committed point turned out to need.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

use crate::backend::Backend;
use crate::crypto::VaultKeys;
use crate::error::{Error, Result};
use crate::format::*;
use crate::id::{ChunkId, LeaseId, PackId, PointId, SegmentId};
use crate::index::{Index, Location, segment_name};
use crate::lease::{Lease, live_leases, live_leases_of, oldest_live_start};
use crate::manifest::{Point, point_name};
use crate::pack::{PackBuilder, PackEntry, pack_name, parse_header, parse_trailer};
use crate::tree::TreeReader;
use crate::upload::{UploadStats, write_segments};
use crate::vault::Vault;

pub use crate::forget::{ForgetItem, execute_forget, plan_forget};

// ------------------------------------------------------------ condemnation

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CondemnRecord {
    time_ms: u64,
    packs: Vec<PackId>,
}

fn read_records(backend: &dyn Backend, keys: &VaultKeys) -> Result<Vec<(String, CondemnRecord)>> {
    let mut out = Vec::new();
    for o in backend.list("gc/")? {
        let bytes = match backend.get(&o.name) {
            Ok(b) => b,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e.into()),
        };
        let plain = keys.open(AAD_GC, &bytes, &o.name)?;
        let json = crate::manifest::decode_encoded(&plain, 256 << 20, &o.name)?;
        let rec: CondemnRecord = serde_json::from_slice(&json)
            .map_err(|e| Error::corrupt(&o.name, format!("condemnation record: {e}")))?;
        out.push((o.name, rec));
    }
    Ok(out)
}

fn pack_entries(
    backend: &dyn Backend,
    keys: &VaultKeys,
    pack: &PackId,
    size: u64,
) -> Result<Vec<PackEntry>> {
    let name = pack_name(pack);
    if size < (PROLOGUE_LEN + PACK_TRAILER_LEN) as u64 {
        return Err(Error::corrupt(&name, "too short to be a pack"));
    }
    let trailer = backend.get_range(
        &name,
        size - PACK_TRAILER_LEN as u64,
        PACK_TRAILER_LEN as u64,
    )?;
    let (hoff, hlen) = parse_trailer(&trailer, size, &name)?;
    let sealed = backend.get_range(&name, hoff, hlen as u64)?;
    Ok(parse_header(keys, &sealed, hoff, &name)?.1)
}

/// Reads a pack's header, finding its size by listing.
pub fn read_pack_header(
    backend: &dyn Backend,
    keys: &VaultKeys,
    pack: &PackId,
) -> Result<Vec<PackEntry>> {
    let name = pack_name(pack);
    let size = backend
        .list(&format!("packs/{}/", &pack.to_hex()[..2]))?
        .into_iter()
        .find(|o| o.name == name)
        .map(|o| o.size)
        .ok_or_else(|| Error::io(name.clone(), std::io::ErrorKind::NotFound.into()))?;
    pack_entries(backend, keys, pack, size)
}

/// Locations of the chunks in condemned (not yet deleted) packs.
pub fn condemned_locations(
    backend: &dyn Backend,
    keys: &VaultKeys,
) -> Result<HashMap<ChunkId, Location>> {
    let mut out = HashMap::new();
    for (_, rec) in read_records(backend, keys)? {
        for p in rec.packs {
            if let Ok(entries) = read_pack_header(backend, keys, &p) {
                for e in entries {
                    out.insert(e.id, Location::from_entry(p, &e));
                }
            }
        }
    }
    Ok(out)
}

/// How many condemnation records wait for a later gc run to delete (or
/// rescue) their packs: until that run, condemned data still takes space.
pub fn pending_condemnations(backend: &dyn Backend) -> Result<usize> {
    Ok(backend.list("gc/")?.len())
}

// ------------------------------------------------------------------ gc

#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    pub dry_run: bool,
    pub points: usize,
    pub referenced_chunks: usize,
    pub packs_total: usize,
    /// Condemned earlier and deleted now.
    pub packs_deleted: usize,
    pub bytes_deleted: u64,
    /// Condemned earlier, but a new point or index segment needs them: kept.
    pub packs_rescued: usize,
    /// Condemned earlier; still waiting for older writers to finish.
    pub packs_waiting: usize,
    /// Condemned by this run (deleted by a later one).
    pub packs_condemned: usize,
    pub bytes_condemned: u64,
    pub packs_repacked: usize,
    pub bytes_repacked: u64,
    pub orphan_packs: usize,
    pub live_bytes: u64,
    pub dead_bytes: u64,
}

/// Every chunk the given points name, tree chunks included.
/// `points` must have been listed before `index` was loaded: a writer puts
/// its index segments before its point, so every chunk a listed point names
/// is then in `index` (or in a condemned pack, which `Index::locate` finds).
pub fn referenced_chunks(
    points: &[(PointId, Point)],
    vault: &Vault,
    index: &Index,
) -> Result<HashSet<ChunkId>> {
    let mut refs = HashSet::new();
    for (id, p) in points {
        refs.extend(p.tree.iter().copied());
        let reader = TreeReader::new(p.tree.clone(), point_name(id), |cid| {
            vault.read_chunk_via(index, cid)
        });
        for e in reader {
            let e = e?;
            refs.extend(e.chunk_ids().copied());
        }
    }
    Ok(refs)
}

/// Every point, or an error naming the first unreadable one: not knowing
/// what it needs, gc must not free anything.
fn readable_points(vault: &Vault) -> Result<Vec<(PointId, Point)>> {
    let (points, bad) = vault.points()?;
    if let Some((id, e)) = bad.into_iter().next() {
        return Err(Error::corrupt(
            point_name(&id),
            format!("cannot read this point ({e}); gc refuses to run until `verify` is clean"),
        ));
    }
    Ok(points)
}

/// What a gc plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcIntent {
    /// To be shown: no lease, nothing written, never refused by another gc.
    DryRun,
    /// To be executed: the plan is made under the run's own `gc` lease,
    /// which the plan holds until [`execute`] consumes it.
    Collect,
}

/// Why a plan acts on a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PackReason {
    /// Condemned by an earlier run, and no point needs it now: deleted.
    CondemnedEarlier,
    /// Condemned by an earlier run, but a point committed since needs a
    /// chunk found nowhere else: back into the index.
    NeededAgain,
    /// Indexed, but no point needs any of its blobs.
    Unreferenced,
    /// Stored but in no index segment (a writer died before indexing it).
    Orphan,
    /// Mostly blobs no point needs: the live ones are copied out.
    MostlyDead,
}

/// One pack a plan acts on, with what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedPack {
    pub pack: PackId,
    pub reason: PackReason,
    /// Its size in the vault.
    pub bytes: u64,
    /// Blobs it holds (as far as the index, or its header, tells).
    pub blobs: usize,
    /// Of those, the ones a point needs from this copy: copied to a new
    /// pack on repack, the reason for a rescue.
    pub live_blobs: usize,
    pub live_bytes: u64,
}

/// What one gc run decided, before anything is written: shown by
/// `gc --dry-run` (and `-o json`), and the very object [`execute`] carries
/// out. The summary counts are flattened into the JSON next to the lists.
#[derive(Serialize)]
pub struct GcPlan {
    #[serde(flatten)]
    pub summary: GcReport,
    /// Condemned by an earlier run, proven unneeded now: deleted.
    pub delete: Vec<PlannedPack>,
    /// Condemned earlier but needed again: back into the index.
    pub rescue: Vec<PlannedPack>,
    /// Condemned by this run (unreferenced or orphaned), deleted by a later one.
    pub condemn: Vec<PlannedPack>,
    /// Live chunks copied to new packs, then condemned.
    pub repack: Vec<PlannedPack>,
    /// Due condemnation records, deleted once their packs are dealt with.
    pub records_done: Vec<String>,
    /// Index segments replaced by the new ones.
    pub segments_replaced: usize,
    /// Bytes this run frees (the packs in `delete`).
    pub bytes_reclaimed_now: u64,
    /// Bytes the next gc frees once older writers finish: the condemned
    /// packs, and the repacked ones less the live bytes copied out.
    pub bytes_reclaimed_later: u64,
    #[serde(skip)]
    work: Option<Work>,
}

impl GcPlan {
    /// False for a dry-run plan, which [`execute`] refuses.
    pub fn is_executable(&self) -> bool {
        self.work.is_some()
    }
}

/// The working state execution needs (index entries per pack, canonical
/// copies, the lease): the same view the plan was made from, never read again.
struct Work {
    lease: Lease,
    by_pack: HashMap<PackId, Vec<PackEntry>>,
    canonical: HashMap<ChunkId, PackId>,
    refs: HashSet<ChunkId>,
    pack_ids: Vec<PackId>,
    protected: HashSet<PackId>,
    listed: HashMap<PackId, u64>,
    consumed: HashSet<SegmentId>,
}

impl std::fmt::Debug for GcPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcPlan")
            .field("summary", &self.summary)
            .field("delete", &self.delete)
            .field("condemn", &self.condemn)
            .field("repack", &self.repack)
            .field("rescue", &self.rescue)
            .field("bytes_reclaimed_now", &self.bytes_reclaimed_now)
            .field("bytes_reclaimed_later", &self.bytes_reclaimed_later)
            .field("executable", &self.work.is_some())
            .finish()
    }
}

/// One gc run: plan, then (unless `dry_run`) execute that plan.
pub fn gc(vault: &Vault, dry_run: bool) -> Result<GcReport> {
    if dry_run {
        return Ok(plan(vault, GcIntent::DryRun)?.summary);
    }
    execute(vault, plan(vault, GcIntent::Collect)?)
}

/// Decides what a gc run does (docs/format.md §10, steps 1–5), writing
/// nothing but, for [`GcIntent::Collect`], the run's lease.
pub fn plan(vault: &Vault, intent: GcIntent) -> Result<GcPlan> {
    let dry_run = intent == GcIntent::DryRun;
    let backend = vault.backend_arc();
    let keys = vault.keys().clone();
    let mut report = GcReport {
        dry_run,
        ..Default::default()
    };
    // 1. Leases first, then everything else (rule 3).
    let lease = if dry_run {
        None
    } else {
        Some(Lease::acquire(backend.clone(), "gc")?)
    };
    let own = lease.as_ref().map(|l| l.id);
    if let Some(own) = own {
        // Two collectors must not overlap: one could re-index a pack from
        // its older view of the index while the other deletes it.
        if let Some(other) = live_leases_of(backend.as_ref(), "gc", own)?
            .into_iter()
            .min_by_key(|r| r.started_ms)
        {
            return Err(Error::GcRunning {
                host: other.host,
                since_ms: other.started_ms,
            });
        }
    }
    let oldest_other = oldest_live_start(backend.as_ref(), own)?;
    let live: HashSet<LeaseId> = live_leases(backend.as_ref())?.into_iter().collect();
    let run_start = lease
        .as_ref()
        .map(|l| l.started_ms)
        .unwrap_or_else(crate::util::now_ms);
    let records = read_records(backend.as_ref(), &keys)?;

    // 2. Mark: points before the index (see `referenced_chunks`).
    let points = readable_points(vault)?;
    let index = vault.load_index()?;
    if let Some((sid, why)) = index.damaged.first() {
        return Err(Error::corrupt(
            segment_name(sid),
            format!("{why}; run `verify --repair-index` before gc"),
        ));
    }
    let refs = referenced_chunks(&points, vault, &index)?;
    report.points = points.len();
    report.referenced_chunks = refs.len();

    // 3. The index, pack by pack; segments of live writers stay as they are.
    let mut by_pack: HashMap<PackId, Vec<PackEntry>> = HashMap::new();
    let mut consumed: HashSet<SegmentId> = HashSet::new();
    let mut protected: HashSet<PackId> = HashSet::new();
    let mut in_live_segments: HashSet<ChunkId> = HashSet::new();
    index.for_each(|sid, writer, id, loc| {
        if writer != LeaseId::default() && live.contains(&writer) {
            protected.insert(loc.pack);
            in_live_segments.insert(id);
            return Ok(());
        }
        consumed.insert(sid);
        by_pack.entry(loc.pack).or_default().push(PackEntry {
            kind: loc.kind,
            id,
            offset: loc.offset,
            sealed_len: loc.sealed_len,
            raw_len: loc.raw_len,
        });
        Ok(())
    })?;
    let listed: HashMap<PackId, u64> = backend
        .list("packs/")?
        .into_iter()
        .filter_map(|o| {
            let hex = o.name.rsplit('/').next()?;
            Some((PackId::from_hex(hex).ok()?, o.size))
        })
        .collect();
    report.packs_total = listed.len();

    // 4. Due condemnations: rescue or delete.
    let due_before = oldest_other.unwrap_or(u64::MAX).min(run_start);
    let mut to_delete: Vec<PlannedPack> = Vec::new();
    let mut rescued: Vec<PlannedPack> = Vec::new();
    let mut deleting: HashSet<PackId> = HashSet::new();
    let mut due_records = Vec::new();
    let mut pending: HashSet<PackId> = HashSet::new();
    // A due pack that a segment still names is never deleted: the run that
    // condemned it had not seen that segment (its writer put it later), and
    // any writer since may have reused a chunk through it. It is judged
    // afresh below like every indexed pack, and condemned again if unneeded.
    let still_indexed = |p: &PackId| by_pack.contains_key(p) || protected.contains(p);
    let due_packs: HashSet<PackId> = records
        .iter()
        .filter(|(_, r)| r.time_ms < due_before)
        .flat_map(|(_, r)| r.packs.iter().copied())
        .filter(|p| !still_indexed(p))
        .collect();
    // Chunks the index can already serve from a stored pack; a condemned
    // pack is rescued only for referenced chunks found nowhere else.
    let mut available: HashSet<ChunkId> = in_live_segments;
    for (p, es) in &by_pack {
        if listed.contains_key(p) && !due_packs.contains(p) {
            available.extend(es.iter().map(|e| e.id));
        }
    }
    for (name, rec) in &records {
        if rec.time_ms < due_before {
            due_records.push(name.clone());
            for p in &rec.packs {
                if deleting.contains(p) {
                    continue; // named by two due records
                }
                if !due_packs.contains(p) {
                    // Still indexed: judged below like every indexed pack.
                    report.packs_rescued += 1;
                    let es = by_pack.get(p).map(Vec::as_slice).unwrap_or(&[]);
                    let live: Vec<_> = es.iter().filter(|e| refs.contains(&e.id)).collect();
                    rescued.push(PlannedPack {
                        pack: *p,
                        reason: PackReason::NeededAgain,
                        bytes: listed.get(p).copied().unwrap_or(0),
                        blobs: es.len(),
                        live_blobs: live.len(),
                        live_bytes: live.iter().map(|e| e.sealed_len as u64).sum(),
                    });
                    continue;
                }
                let Some(&size) = listed.get(p) else { continue };
                // An unreadable condemned pack holds nothing we can use.
                let entries = pack_entries(backend.as_ref(), &keys, p, size).unwrap_or_default();
                let needed: Vec<&PackEntry> = entries
                    .iter()
                    .filter(|e| refs.contains(&e.id) && !available.contains(&e.id))
                    .collect();
                let planned = PlannedPack {
                    pack: *p,
                    reason: PackReason::CondemnedEarlier,
                    bytes: size,
                    blobs: entries.len(),
                    live_blobs: needed.len(),
                    live_bytes: needed.iter().map(|e| e.sealed_len as u64).sum(),
                };
                if !needed.is_empty() {
                    report.packs_rescued += 1;
                    rescued.push(PlannedPack {
                        reason: PackReason::NeededAgain,
                        ..planned
                    });
                    available.extend(entries.iter().map(|e| e.id));
                    by_pack.entry(*p).or_default().extend(entries);
                } else {
                    to_delete.push(planned);
                    deleting.insert(*p);
                    by_pack.remove(p);
                    report.bytes_deleted += size;
                }
            }
        } else {
            report.packs_waiting += rec.packs.len();
            pending.extend(rec.packs.iter().copied());
        }
    }
    report.packs_deleted = to_delete.len();

    // 5. Classify: one canonical copy per chunk, then live and dead bytes per pack.
    let mut canonical: HashMap<ChunkId, PackId> = HashMap::new();
    let mut pack_ids: Vec<PackId> = by_pack.keys().copied().collect();
    pack_ids.sort();
    for p in &pack_ids {
        if !listed.contains_key(p) {
            continue; // indexed but missing: verify reports it
        }
        for e in &by_pack[p] {
            canonical.entry(e.id).or_insert(*p);
        }
    }
    let mut condemn: Vec<PlannedPack> = Vec::new();
    let mut repack: Vec<PlannedPack> = Vec::new();
    let mut kept: Vec<PackId> = Vec::new();
    for p in &pack_ids {
        let Some(&size) = listed.get(p) else { continue };
        if protected.contains(p) {
            continue;
        }
        let (mut live_b, mut dead_b, mut live_n) = (0u64, 0u64, 0usize);
        for e in &by_pack[p] {
            if canonical.get(&e.id) == Some(p) && refs.contains(&e.id) {
                live_b += e.sealed_len as u64;
                live_n += 1;
            } else {
                dead_b += e.sealed_len as u64;
            }
        }
        report.live_bytes += live_b;
        report.dead_bytes += dead_b;
        let planned = |reason| PlannedPack {
            pack: *p,
            reason,
            bytes: size,
            blobs: by_pack[p].len(),
            live_blobs: live_n,
            live_bytes: live_b,
        };
        if live_b == 0 {
            condemn.push(planned(PackReason::Unreferenced));
            report.bytes_condemned += size;
        } else if dead_b * 100 >= (live_b + dead_b) * REPACK_DEAD_PERCENT {
            repack.push(planned(PackReason::MostlyDead));
            report.bytes_repacked += live_b;
        } else {
            kept.push(*p);
        }
    }
    // Orphans: stored, in no segment, not already condemned.
    let mut orphans: Vec<(&PackId, &u64)> = listed
        .iter()
        .filter(|(p, _)| {
            !by_pack.contains_key(p)
                && !protected.contains(p)
                && !pending.contains(p)
                && !deleting.contains(p)
        })
        .collect();
    orphans.sort();
    for (p, &size) in orphans {
        condemn.push(PlannedPack {
            pack: *p,
            reason: PackReason::Orphan,
            bytes: size,
            blobs: 0,
            live_blobs: 0,
            live_bytes: 0,
        });
        report.orphan_packs += 1;
        report.bytes_condemned += size;
    }
    report.packs_condemned = condemn.len() + repack.len();
    report.packs_repacked = repack.len();
    let work = lease.map(|lease| Work {
        lease,
        by_pack,
        canonical,
        refs,
        pack_ids,
        protected,
        listed,
        consumed: consumed.clone(),
    });
    let bytes_reclaimed_later = report.bytes_condemned
        + repack
            .iter()
            .map(|p| p.bytes.saturating_sub(p.live_bytes))
            .sum::<u64>();
    Ok(GcPlan {
        bytes_reclaimed_now: report.bytes_deleted,
        bytes_reclaimed_later,
        summary: report,
        delete: to_delete,
        rescue: rescued,
        condemn,
        repack,
        records_done: due_records,
        segments_replaced: consumed.len(),
        work,
    })
}

/// Carries out a plan made with [`GcIntent::Collect`] (docs/format.md §10,
/// step 6): repack, write the new index, delete the replaced segments,
/// record the condemnations, then delete what the plan proved unneeded.
pub fn execute(vault: &Vault, plan: GcPlan) -> Result<GcReport> {
    let GcPlan {
        summary: mut report,
        delete: to_delete,
        condemn,
        repack,
        records_done: due_records,
        work,
        ..
    } = plan;
    let Some(Work {
        lease,
        by_pack,
        canonical,
        refs,
        pack_ids,
        protected,
        listed,
        consumed,
    }) = work
    else {
        return Err(Error::InvalidArgument(
            "a dry-run gc plan cannot be executed: plan again to collect".into(),
        ));
    };
    // A lease that lapsed while the plan waited may have let a newer gc
    // decide differently: execute nothing.
    lease.check_fresh()?;
    report.dry_run = false;
    let backend = vault.backend_arc();
    let keys = vault.keys().clone();

    // 6a. Repack: copy live sealed blobs (no re-encryption needed: a blob's
    //     AAD binds its kind and id, not its pack).
    let mut new_items: Vec<(PackId, Vec<PackEntry>)> = Vec::new();
    let mut builder = PackBuilder::new();
    let pack_size = vault.config().pack_size as usize;
    let mut stats = UploadStats::default();
    for p in repack.iter().map(|r| &r.pack) {
        let bytes = backend.get(&pack_name(p))?;
        for e in &by_pack[p] {
            if canonical.get(&e.id) == Some(p) && refs.contains(&e.id) {
                let sealed = e.sealed_in(&bytes, &pack_name(p))?;
                builder.add(e.kind, e.id, sealed, e.raw_len);
                if builder.len() >= pack_size {
                    let (id, b, es) = std::mem::take(&mut builder).finish(&keys);
                    crate::backend::put_exclusive(backend.as_ref(), &pack_name(&id), &b)?;
                    new_items.push((id, es));
                }
            }
        }
    }
    if !builder.is_empty() {
        let (id, b, es) = builder.finish(&keys);
        crate::backend::put_exclusive(backend.as_ref(), &pack_name(&id), &b)?;
        new_items.push((id, es));
    }
    // 6b. New index: kept packs (canonical entries) + rescued + repacked.
    let condemned_now: HashSet<PackId> = condemn.iter().chain(&repack).map(|p| p.pack).collect();
    let mut items: Vec<(PackId, Vec<PackEntry>)> = Vec::new();
    for p in &pack_ids {
        if condemned_now.contains(p) || protected.contains(p) || !listed.contains_key(p) {
            continue;
        }
        let mut es: Vec<PackEntry> = by_pack[p]
            .iter()
            .filter(|e| canonical.get(&e.id) == Some(p))
            .copied()
            .collect();
        es.sort_by_key(|e| e.offset);
        es.dedup_by_key(|e| e.offset);
        if !es.is_empty() {
            items.push((*p, es));
        }
    }
    items.extend(new_items);
    write_segments(
        backend.as_ref(),
        &keys,
        LeaseId::default(),
        &mut items,
        &mut stats,
    )?;
    for sid in &consumed {
        backend.delete(&segment_name(sid))?;
    }
    // 6c. The condemnation record, after the index no longer names those packs.
    let to_condemn: Vec<PackId> = condemn.iter().chain(&repack).map(|p| p.pack).collect();
    if !to_condemn.is_empty() {
        let rec = CondemnRecord {
            time_ms: crate::util::now_ms(),
            packs: to_condemn,
        };
        let json = serde_json::to_vec(&rec).expect("record serializes");
        let mut plain = vec![ENCODING_ZSTD];
        zstd::stream::copy_encode(&json[..], &mut plain, 3).expect("zstd into memory");
        let sealed = keys.seal(AAD_GC, &plain);
        let name = format!(
            "gc/{:013}-{}",
            rec.time_ms,
            hex::encode(crate::crypto::random_array::<8>())
        );
        crate::backend::put_exclusive(backend.as_ref(), &name, &sealed)?;
    }
    // 6d. Deletions proven safe, then their records.
    for p in &to_delete {
        backend.delete(&pack_name(&p.pack))?;
    }
    for name in &due_records {
        backend.delete(name)?;
    }
    let _ = backend.remove_stale_temporaries(std::time::Duration::from_secs(3600));
    lease.release()?;
    Ok(report)
}
