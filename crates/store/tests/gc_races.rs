//! The garbage collector's races, staged one step at a time through the
//! library (the CLI's concurrency test runs them for real, but by chance):
//! a pack that an index segment names again after it was condemned, and two
//! collectors at once.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::{backup, indexed_packs, source_with, vault_at};
use lifeboat_store::Vault;
use lifeboat_store::gc::{gc, read_pack_header};
use lifeboat_store::id::{LeaseId, PackId};
use lifeboat_store::lease::Lease;
use lifeboat_store::manifest::point_name;
use lifeboat_store::restore::{RestoreOptions, restore};
use lifeboat_store::upload::{Progress, UploadStats, write_segments};
use lifeboat_store::verify::{ReadData, verify};

fn stored_packs(v: &Vault) -> HashSet<PackId> {
    v.backend()
        .list("packs/")
        .expect("list")
        .into_iter()
        .filter_map(|o| PackId::from_hex(o.name.rsplit('/').next()?).ok())
        .collect()
}

/// A writer can put a pack, lose the race to a collector that condemns the
/// pack as an orphan, and put the segment naming it afterwards. From then on
/// any new backup can reuse chunks through that segment — so when the
/// condemnation falls due, the pack must be kept, not deleted.
#[test]
fn a_condemned_pack_that_a_segment_names_again_is_not_deleted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let v = vault_at(dir.path());
    let src = source_with(dir.path(), "src", 1);
    let first = backup(&v, &src);
    let packs_of_first = indexed_packs(&v);
    assert!(!packs_of_first.is_empty());
    // Remember what the segments say, forget the point, and condemn.
    let entries: Vec<_> = packs_of_first
        .iter()
        .map(|p| {
            let es = read_pack_header(v.backend(), v.keys(), p).expect("header");
            (*p, es)
        })
        .collect();
    v.backend()
        .delete(&point_name(&first.id))
        .expect("forget the point");
    let condemning = gc(&v, false).expect("gc condemns");
    assert_eq!(condemning.packs_condemned, packs_of_first.len());
    assert!(indexed_packs(&v).is_disjoint(&packs_of_first));

    // The late segment of the writer that lost the race.
    let mut late = entries.clone();
    write_segments(
        v.backend(),
        v.keys(),
        LeaseId::default(),
        &mut late,
        &mut UploadStats::default(),
    )
    .expect("late segment");
    std::thread::sleep(std::time::Duration::from_millis(5));
    // A backup that starts now, after the condemnation, sees the pack in the
    // index and may reuse it; it is still running when the next gc comes.
    let running = Lease::acquire(v.backend_arc(), "backup").expect("lease");
    assert!(indexed_packs(&v).is_superset(&packs_of_first));
    let due = gc(&v, false).expect("gc with the condemnation due");
    assert_eq!(due.packs_deleted, 0, "{due:?}");
    assert!(
        stored_packs(&v).is_superset(&packs_of_first),
        "a pack the index named was deleted"
    );
    running.release().expect("release");

    // The backup commits, reusing the chunks; collections afterwards keep them.
    let second = backup(&v, &src);
    for _ in 0..3 {
        gc(&v, false).expect("gc");
    }
    let report = verify(&v, ReadData::All, false).expect("verify");
    assert!(report.is_clean(), "{report:?}");
    let out = dir.path().join("out");
    restore(
        &v,
        &second.id,
        &second.point,
        &out,
        &RestoreOptions::default(),
        Arc::new(Progress::default()),
    )
    .expect("restore");
    let rel = src.strip_prefix("/").expect("absolute");
    assert_eq!(
        std::fs::read(out.join(rel).join("data.bin")).expect("restored"),
        std::fs::read(src.join("data.bin")).expect("source")
    );
}

#[test]
fn two_collectors_never_run_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let v = vault_at(dir.path());
    let src = source_with(dir.path(), "src", 2);
    backup(&v, &src);
    let other = Lease::acquire(v.backend_arc(), "gc").expect("lease");
    let err = gc(&v, false).expect_err("a second gc must refuse");
    assert_eq!(err.code(), "GC_RUNNING", "{err}");
    // A dry run writes nothing and may look at any time.
    gc(&v, true).expect("dry run alongside");
    other.release().expect("release");
    gc(&v, false).expect("gc once the other is done");
    // The refused run left no lease of its own behind.
    let leases = v.backend().list("leases/").expect("list");
    assert!(leases.is_empty(), "{leases:?}");
}
