//! `gc` as a plan, then its execution: the plan names the packs it would
//! condemn, delete, repack or rescue and the bytes that frees; a dry-run
//! plan changes nothing and cannot be executed; execution does what the
//! plan it consumes says.

mod common;

use std::collections::{BTreeMap, HashSet};

use common::{backup, indexed_packs, source_with, vault_at};
use lifeboat_store::Vault;
use lifeboat_store::gc::{GcIntent, PackReason, execute, plan};
use lifeboat_store::id::PackId;
use lifeboat_store::manifest::point_name;
use lifeboat_store::verify::{ReadData, verify};

/// Every object in the vault with its size.
fn objects(v: &Vault) -> BTreeMap<String, u64> {
    v.backend()
        .list("")
        .expect("list")
        .into_iter()
        .map(|o| (o.name, o.size))
        .collect()
}

fn pack_sizes(v: &Vault) -> BTreeMap<PackId, u64> {
    v.backend()
        .list("packs/")
        .expect("list")
        .into_iter()
        .filter_map(|o| Some((PackId::from_hex(o.name.rsplit('/').next()?).ok()?, o.size)))
        .collect()
}

#[test]
fn the_plan_shown_is_the_plan_executed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let v = vault_at(dir.path());
    let keep = backup(&v, &source_with(dir.path(), "a", 1));
    let before_second = indexed_packs(&v);
    let drop = backup(&v, &source_with(dir.path(), "b", 2));
    let only_second: HashSet<PackId> = indexed_packs(&v)
        .difference(&before_second)
        .copied()
        .collect();
    assert!(!only_second.is_empty());
    v.backend()
        .delete(&point_name(&drop.id))
        .expect("forget the second point");
    let sizes = pack_sizes(&v);

    // A dry run: the packs only the forgotten point needed, nothing else.
    let state = objects(&v);
    let shown = plan(&v, GcIntent::DryRun).expect("dry-run plan");
    assert!(!shown.is_executable());
    assert!(shown.summary.dry_run);
    let condemned: HashSet<PackId> = shown.condemn.iter().map(|p| p.pack).collect();
    assert_eq!(condemned, only_second, "{shown:?}");
    for p in &shown.condemn {
        assert_eq!(p.reason, PackReason::Unreferenced);
        assert_eq!(p.bytes, sizes[&p.pack]);
        assert!(p.blobs > 0);
        assert_eq!((p.live_blobs, p.live_bytes), (0, 0));
    }
    assert!(shown.delete.is_empty() && shown.repack.is_empty() && shown.rescue.is_empty());
    assert_eq!(shown.bytes_reclaimed_now, 0);
    assert_eq!(
        shown.bytes_reclaimed_later,
        only_second.iter().map(|p| sizes[p]).sum::<u64>()
    );
    let json = serde_json::to_value(&shown).expect("plan as JSON");
    assert_eq!(
        json["condemn"].as_array().map(Vec::len),
        Some(condemned.len())
    );
    assert_eq!(json["packs_condemned"], condemned.len());
    assert_eq!(json["condemn"][0]["reason"], "unreferenced", "{json}");
    let err = execute(&v, shown).expect_err("a dry-run plan is not executable");
    assert_eq!(err.code(), "INVALID_ARGUMENT");
    assert_eq!(objects(&v), state, "the dry run changed the vault");

    // The plan to collect decides the same; executing it does just that.
    let first = plan(&v, GcIntent::Collect).expect("plan");
    assert!(first.is_executable());
    let planned: HashSet<PackId> = first.condemn.iter().map(|p| p.pack).collect();
    assert_eq!(planned, condemned);
    let done = execute(&v, first).expect("execute");
    assert_eq!(done.packs_condemned, condemned.len());
    assert!(!done.dry_run);
    assert!(indexed_packs(&v).is_disjoint(&condemned));
    assert_eq!(pack_sizes(&v), sizes, "condemned packs are deleted later");

    // The next run's plan deletes what the first condemned.
    let second = plan(&v, GcIntent::DryRun).expect("second dry run");
    let deleting: HashSet<PackId> = second.delete.iter().map(|p| p.pack).collect();
    assert_eq!(deleting, condemned, "{second:?}");
    assert!(
        second
            .delete
            .iter()
            .all(|p| p.reason == PackReason::CondemnedEarlier)
    );
    assert_eq!(
        second.bytes_reclaimed_now,
        condemned.iter().map(|p| sizes[p]).sum::<u64>()
    );
    assert!(second.condemn.is_empty());
    assert_eq!(second.records_done.len(), 1);
    let done = execute(&v, plan(&v, GcIntent::Collect).expect("plan")).expect("execute");
    assert_eq!(done.packs_deleted, condemned.len());
    assert_eq!(done.bytes_deleted, second.bytes_reclaimed_now);
    let left: HashSet<PackId> = pack_sizes(&v).keys().copied().collect();
    assert!(left.is_disjoint(&condemned));
    let r = verify(&v, ReadData::All, false).expect("verify");
    assert!(r.is_clean(), "{r:?}");
    let (points, _) = v.points().expect("points");
    assert_eq!(
        points.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [keep.id]
    );
}
