//! Schema 4 on a real SQLite file and a real PostgreSQL database:
//! soft-delete marks on vaults, items and points, what each query then
//! hides or finds, and alerts recorded once per dedup key.

#[macro_use]
mod support;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use lifeboat_catalog::*;
use support::{point, vault_with_item};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 22, 0, 0).unwrap() + TimeDelta::microseconds(123_456)
}

async fn setup(cat: &Catalog) -> (Vault, Item) {
    vault_with_item(cat, t0(), None).await
}

both!(marks_hide_and_find_rows, |db| {
    let cat = &db.catalog;
    let (v, it) = setup(cat).await;
    let t = t0();
    let a = cat.insert_point(&point(&it, "aa", t)).await.unwrap();
    let b = cat
        .insert_point(&point(&it, "bb", t + TimeDelta::days(1)))
        .await
        .unwrap();
    assert_eq!(cat.live_usage(v.id).await.unwrap(), (1, 2));

    // A soft-deleted point: hidden from the list and from the expiry
    // sweep, found by the purge query once due, back when cleared.
    let purge = t + TimeDelta::days(14);
    let marked = cat.set_point_deleted(a.id, Some((t, purge))).await.unwrap();
    assert_eq!((marked.deleted_at, marked.purge_at), (Some(t), Some(purge)));
    let page = Page::first(10);
    let f = PointFilter::default();
    let shown = cat.list_points(it.id, &f, &page).await.unwrap().items;
    assert_eq!(shown.iter().map(|p| p.id).collect::<Vec<_>>(), [b.id]);
    let all = cat.list_points_ext(it.id, &f, &page, true).await.unwrap();
    assert_eq!(all.items.len(), 2);
    let late = t + TimeDelta::days(30);
    let expired = cat.expired_points(Some(v.id), late, 10).await.unwrap();
    assert_eq!(expired.iter().map(|p| p.id).collect::<Vec<_>>(), [b.id]);
    assert!(
        cat.purgeable_points(v.id, purge - TimeDelta::seconds(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = cat.purgeable_points(v.id, purge, 10).await.unwrap();
    assert_eq!(due.iter().map(|p| p.id).collect::<Vec<_>>(), [a.id]);
    assert_eq!(cat.live_usage(v.id).await.unwrap(), (1, 1));
    cat.set_point_deleted(a.id, None).await.unwrap();
    assert_eq!(
        cat.list_points(it.id, &f, &page).await.unwrap().items.len(),
        2
    );

    // A soft-deleted item: its points no longer count as live.
    let item = cat.set_item_deleted(it.id, Some((t, purge))).await.unwrap();
    assert_eq!(item.purge_at, Some(purge));
    assert_eq!(cat.live_usage(v.id).await.unwrap(), (0, 0));
    assert_eq!(cat.deleted_items(v.id).await.unwrap().len(), 1);

    // A soft-deleted vault: gone from lookups and lists, found by the
    // deleted-vault queries and by the scheduler's list.
    cat.set_vault_deleted(v.id, Some((t, purge))).await.unwrap();
    assert!(matches!(
        cat.get_vault("v").await,
        Err(CatalogError::NotFound { .. })
    ));
    assert!(cat.list_vaults().await.unwrap().is_empty());
    assert_eq!(cat.list_all_vaults().await.unwrap().len(), 1);
    assert_eq!(
        cat.get_deleted_vault("v").await.unwrap().purge_at,
        Some(purge)
    );
    assert_eq!(cat.list_deleted_vaults().await.unwrap().len(), 1);
    assert_eq!(cat.get_vault_by_id(v.id).await.unwrap().deleted_at, Some(t));
    cat.set_vault_deleted(v.id, None).await.unwrap();
    assert_eq!(cat.get_vault("v").await.unwrap().id, v.id);
    assert!(matches!(
        cat.get_deleted_vault("v").await,
        Err(CatalogError::NotFound { .. })
    ));
    assert_eq!(cat.vault_points(v.id).await.unwrap().len(), 2);
});

both!(alerts_once_per_key_newest_first, |db| {
    let cat = &db.catalog;
    let (v, _) = setup(cat).await;
    let alert = |kind: &str, minutes: i64, key: Option<&str>| NewAlert {
        vault_id: v.id,
        kind: kind.into(),
        item_name: Some("a".into()),
        time: t0() + TimeDelta::minutes(minutes),
        message: format!("{kind} happened"),
        dedup_key: key.map(str::to_string),
    };
    assert!(
        cat.insert_alert(&alert("delete-backup-data", 0, None))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        cat.insert_alert(&alert("delete-backup-data", 1, None))
            .await
            .unwrap()
            .is_some()
    );
    let first = cat
        .insert_alert(&alert("upcoming-purge", 2, Some("k1")))
        .await
        .unwrap();
    assert!(first.is_some());
    let again = cat
        .insert_alert(&alert("upcoming-purge", 3, Some("k1")))
        .await
        .unwrap();
    assert!(again.is_none(), "the same key is recorded once");
    let all = cat.list_alerts(v.id, None, 10).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].kind, "upcoming-purge");
    assert_eq!(all[0].time, t0() + TimeDelta::minutes(2));
    let only = cat
        .list_alerts(v.id, Some("delete-backup-data"), 1)
        .await
        .unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].time, t0() + TimeDelta::minutes(1));
});
