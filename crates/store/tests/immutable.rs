//! Immutability inside the engine (docs/format.md §12): a locked vault
//! refuses to delete a held point through every engine path (the direct
//! call and `forget`), holds only grow, a forged or damaged hold fails
//! closed, and an unlocked vault (or an expired hold) deletes as before.

mod common;

use std::path::Path;

use chrono::{Duration, Utc};
use common::{backup, vault_at};
use lifeboat_store::Vault;
use lifeboat_store::gc::{execute_forget, plan_forget};
use lifeboat_store::id::PointId;
use lifeboat_store::immutable::{self, LOCK_NAME};
use lifeboat_store::retention::KeepPolicy;

fn point(v: &Vault, dir: &Path, n: u8) -> PointId {
    // One source folder: the points form one forget group.
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), vec![n; 5000]).unwrap();
    backup(v, &src).id
}

#[test]
fn unlocked_vault_deletes_even_with_a_hold() {
    let dir = tempfile::tempdir().unwrap();
    let v = vault_at(dir.path());
    let p = point(&v, dir.path(), 1);
    immutable::hold(&v, &p, Utc::now() + Duration::days(30)).unwrap();
    assert!(!immutable::is_locked(&v).unwrap());
    immutable::forget_point(&v, &p).unwrap();
    assert!(v.point_ids().unwrap().is_empty());
    // Its holds went with it.
    assert_eq!(immutable::held_until(&v, &p).unwrap(), None);
}

#[test]
fn locked_vault_refuses_held_points_on_every_path() {
    let dir = tempfile::tempdir().unwrap();
    let v = vault_at(dir.path());
    let held = point(&v, dir.path(), 1);
    let expired = point(&v, dir.path(), 2);
    let unheld = point(&v, dir.path(), 3);
    let until = Utc::now() + Duration::days(30);
    immutable::hold(&v, &held, until).unwrap();
    immutable::hold(&v, &expired, Utc::now() - Duration::seconds(1)).unwrap();
    immutable::lock(&v).unwrap();
    immutable::lock(&v).unwrap(); // idempotent
    assert!(immutable::is_locked(&v).unwrap());

    // The direct engine call.
    let e = immutable::forget_point(&v, &held).unwrap_err();
    assert_eq!(e.code(), "IMMUTABLE_POINT_HELD");
    assert!(e.to_string().contains(&held.to_hex()), "{e}");
    assert!(v.point_ids().unwrap().contains(&held));

    // A shorter hold does not shorten it; a longer one extends it.
    immutable::hold(&v, &held, Utc::now() + Duration::days(1)).unwrap();
    assert_eq!(
        immutable::held_until(&v, &held)
            .unwrap()
            .map(|t| t.timestamp_millis()),
        Some(until.timestamp_millis())
    );
    let later = until + Duration::days(10);
    immutable::hold(&v, &held, later).unwrap();
    assert_eq!(
        immutable::held_until(&v, &held)
            .unwrap()
            .map(|t| t.timestamp_millis()),
        Some(later.timestamp_millis())
    );

    // `forget` with a policy that keeps nothing but the last point: the
    // held one is kept with the reason, the others go.
    let policy = KeepPolicy {
        last: 1,
        ..KeepPolicy::default()
    };
    let plan = plan_forget(&v, &policy).unwrap();
    let h = plan.iter().find(|i| i.id == held).unwrap();
    assert!(h.keep);
    assert!(h.reasons.contains(&"immutable hold"), "{:?}", h.reasons);
    execute_forget(&v, &plan).unwrap();
    let left = v.point_ids().unwrap();
    assert!(left.contains(&held));
    assert!(!left.contains(&expired));
    // A plan made before the hold (or by hand) still cannot delete it.
    let mut forged = plan.clone();
    for i in &mut forged {
        i.keep = false;
    }
    let e = execute_forget(&v, &forged).unwrap_err();
    assert_eq!(e.code(), "IMMUTABLE_POINT_HELD");
    assert!(v.point_ids().unwrap().contains(&held));
    let _ = unheld;
}

#[test]
fn a_damaged_or_moved_hold_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let v = vault_at(dir.path());
    let p = point(&v, dir.path(), 1);
    let q = point(&v, dir.path(), 2);
    immutable::hold(&v, &p, Utc::now() + Duration::days(30)).unwrap();
    immutable::lock(&v).unwrap();
    let hold = v.backend().list(&format!("holds/{}/", p.to_hex())).unwrap();
    assert_eq!(hold.len(), 1);
    let bytes = v.backend().get(&hold[0].name).unwrap();
    // Copied under another point's name: does not match its content.
    let fake = hold[0].name.replace(&p.to_hex(), &q.to_hex());
    v.backend().put_if_absent(&fake, &bytes).unwrap();
    assert_eq!(
        immutable::forget_point(&v, &q).unwrap_err().code(),
        "DATA_CORRUPT"
    );
    // Flipped bytes in the real one.
    let mut bad = bytes.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    v.backend().delete(&hold[0].name).unwrap();
    v.backend().put_if_absent(&hold[0].name, &bad).unwrap();
    assert_eq!(
        immutable::forget_point(&v, &p).unwrap_err().code(),
        "DATA_CORRUPT"
    );
    assert_eq!(v.point_ids().unwrap().len(), 2);
    // A lock object that does not open is an error, not "unlocked".
    let lock = v.backend().get(LOCK_NAME).unwrap();
    let mut bad = lock.clone();
    bad[30] ^= 1;
    v.backend().delete(LOCK_NAME).unwrap();
    v.backend().put_if_absent(LOCK_NAME, &bad).unwrap();
    assert_eq!(immutable::is_locked(&v).unwrap_err().code(), "DATA_CORRUPT");
}
