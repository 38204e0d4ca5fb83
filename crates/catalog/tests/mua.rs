//! Multi-user authorization rows (schema 6) on a real SQLite file and a
//! real PostgreSQL database: guards and holders, the vault mapping, and
//! the compare-and-set that makes an approval single-use even when many
//! callers race for it.

#[macro_use]
mod support;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use lifeboat_catalog::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 10, 0, 0).unwrap() + TimeDelta::microseconds(654_321)
}

both!(guards_holders_and_mappings, |db| {
    let cat = &db.catalog;
    let sec = cat.create_identity("sec", "User", t0()).await.unwrap();
    let bob = cat.create_identity("bob", "User", t0()).await.unwrap();
    let ops = [
        "disable-soft-delete".to_string(),
        "detach-guard".to_string(),
    ];
    let g = cat
        .create_guard("g1", sec.id, "d", &ops, t0())
        .await
        .unwrap();
    assert_eq!((g.owner_name.as_str(), g.ops()), ("sec", ops.to_vec()));
    assert_eq!(g.created, t0());
    assert_eq!(
        cat.create_guard("g1", sec.id, "", &ops, t0())
            .await
            .unwrap_err()
            .code(),
        "CONFLICT"
    );
    assert!(cat.is_guard_holder(g.id, sec.id).await.unwrap());
    assert!(!cat.is_guard_holder(g.id, bob.id).await.unwrap());
    cat.add_guard_member(g.id, bob.id, t0()).await.unwrap();
    assert!(cat.is_guard_holder(g.id, bob.id).await.unwrap());
    assert_eq!(
        cat.add_guard_member(g.id, bob.id, t0())
            .await
            .unwrap_err()
            .code(),
        "CONFLICT"
    );
    let v = support::vault(cat, "prod", t0()).await;
    let m = cat.attach_guard(v.id, g.id, t0()).await.unwrap();
    assert_eq!((m.guard_id, m.guard_name.as_str()), (g.id, "g1"));
    let h = cat
        .create_guard("h1", sec.id, "", &ops, t0())
        .await
        .unwrap();
    // A second guard does not replace the first.
    let m = cat.attach_guard(v.id, h.id, t0()).await.unwrap();
    assert_eq!(m.guard_id, g.id);
    assert_eq!(cat.guarded_vaults().await.unwrap(), vec![v.id]);
    assert_eq!(cat.delete_guard(g.id).await.unwrap_err().code(), "IN_USE");
    assert!(!cat.detach_guard(v.id, h.id).await.unwrap());
    assert!(cat.detach_guard(v.id, g.id).await.unwrap());
    assert!(cat.vault_guard(v.id).await.unwrap().is_none());
    cat.remove_guard_member(g.id, bob.id).await.unwrap();
    assert!(!cat.is_guard_holder(g.id, bob.id).await.unwrap());
    cat.delete_guard(g.id).await.unwrap();
    assert_eq!(cat.get_guard("g1").await.unwrap_err().code(), "NOT_FOUND");
});

both!(an_approval_is_used_once_whoever_races, |db| {
    let cat = &db.catalog;
    let sec = cat.create_identity("sec", "User", t0()).await.unwrap();
    let ops = cat.create_identity("ops", "User", t0()).await.unwrap();
    let g = cat
        .create_guard("g1", sec.id, "", &["detach-guard".to_string()], t0())
        .await
        .unwrap();
    let v = support::vault(cat, "prod", t0()).await;
    let new = |op: &str, target: &str| NewMuaRequest {
        guard_id: g.id,
        vault_id: v.id,
        operation: op.into(),
        target: target.into(),
        requester_id: ops.id,
        requested: t0(),
        expires_at: t0() + TimeDelta::hours(24),
    };
    let r = cat
        .create_mua_request(&new("detach-guard", ""))
        .await
        .unwrap();
    assert_eq!(r.state, "Pending");
    // Pending: nothing to use.
    assert_eq!(
        cat.use_mua_approval(v.id, ops.id, "detach-guard", "", t0())
            .await
            .unwrap(),
        None
    );
    let exp = t0() + TimeDelta::minutes(30);
    assert!(
        cat.decide_mua_request(r.id, "Approved", sec.id, t0(), Some(exp))
            .await
            .unwrap()
    );
    // Decided once only.
    assert!(
        !cat.decide_mua_request(r.id, "Rejected", sec.id, t0(), None)
            .await
            .unwrap()
    );
    // Another target, operation or principal does not match.
    for (who, op, target) in [
        (ops.id, "detach-guard", "x"),
        (ops.id, "disable-soft-delete", ""),
        (sec.id, "detach-guard", ""),
    ] {
        assert_eq!(
            cat.use_mua_approval(v.id, who, op, target, t0())
                .await
                .unwrap(),
            None
        );
    }
    // Sixteen callers race for it: exactly one wins.
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let cat = cat.clone();
        let (vid, oid) = (v.id, ops.id);
        tasks.push(tokio::spawn(async move {
            cat.use_mua_approval(vid, oid, "detach-guard", "", t0())
                .await
                .unwrap()
        }));
    }
    let mut won = Vec::new();
    for t in tasks {
        if let Some(id) = t.await.unwrap() {
            won.push(id);
        }
    }
    assert_eq!(won, vec![r.id]);
    let used = cat.get_mua_request(r.id).await.unwrap();
    assert_eq!((used.state.as_str(), used.used), ("Used", Some(t0())));

    // An approval past its expiry is not used, and expiry marks it once.
    let r2 = cat
        .create_mua_request(&new("detach-guard", ""))
        .await
        .unwrap();
    assert!(
        cat.decide_mua_request(r2.id, "Approved", sec.id, t0(), Some(exp))
            .await
            .unwrap()
    );
    assert_eq!(
        cat.use_mua_approval(v.id, ops.id, "detach-guard", "", exp)
            .await
            .unwrap(),
        None
    );
    let r3 = cat
        .create_mua_request(&new("detach-guard", ""))
        .await
        .unwrap();
    let swept = cat.expire_mua_requests(exp).await.unwrap();
    assert_eq!(swept.iter().map(|r| r.id).collect::<Vec<_>>(), vec![r2.id]);
    assert!(cat.expire_mua_requests(exp).await.unwrap().is_empty());
    // A pending request past its 24 hours cannot be decided.
    let late = t0() + TimeDelta::hours(24);
    assert!(
        !cat.decide_mua_request(r3.id, "Approved", sec.id, late, Some(late))
            .await
            .unwrap()
    );
    assert_eq!(cat.expire_mua_requests(late).await.unwrap()[0].id, r3.id);
    let latest = cat
        .latest_mua_request(v.id, ops.id, "detach-guard", "")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((latest.id, latest.state.as_str()), (r3.id, "Expired"));
    let listed = cat.list_mua_requests(g.id, Some("Expired")).await.unwrap();
    assert_eq!(listed.len(), 2);
});
