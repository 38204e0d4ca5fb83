//! The catalog hands out typed rows. Schema 7 turns an item's `workload`
//! and `source` text into the model's typed `Source` (`items.source_spec`):
//! a catalog at schema 6 with a folder item and a disk item is migrated,
//! and both come back typed. Job rows carry `JobType` and `JobStatus`: a
//! job type this binary does not know is left for a server that does.
//! Each on SQLite and on PostgreSQL.

mod support;

use lifeboat_catalog::{Catalog, Dialect, Page};
use lifeboat_model::source::Source;
use support::TestDb;

/// Takes a fresh catalog back to schema 6: migration 7's column and its
/// row in sqlx's table go, as if 7 had never run.
async fn back_to_schema_6(db: &TestDb) {
    db.execute("ALTER TABLE items DROP COLUMN source_spec")
        .await;
    db.execute("DELETE FROM _sqlx_migrations WHERE version = 7")
        .await;
}

async fn migrates_sources(dialect: Dialect) {
    let db = TestDb::new(dialect).await;
    back_to_schema_6(&db).await;
    let now = match dialect {
        Dialect::Sqlite => "'2026-12-02T10:00:00.000000+00:00'",
        Dialect::Postgres => "'2026-12-02T10:00:00Z'",
    };
    db.execute(&format!(
        "INSERT INTO vaults (name, kind, redundancy, created) VALUES ('v', 'recovery-services', 'LRS', {now})"
    ))
    .await;
    for (name, workload, source) in [
        ("data", "path", "/srv/data"),
        ("vm", "disk", "/img/vm.qcow2"),
    ] {
        db.execute(&format!(
            "INSERT INTO items (vault_id, name, workload, source, state, health, created)
             SELECT id, '{name}', '{workload}', '{source}', 'Protected', 'Passed', {now} FROM vaults"
        ))
        .await;
    }
    let catalog = Catalog::connect(&db.url)
        .await
        .expect("migrate to schema 7");
    assert_eq!(
        catalog.schema_version().await.unwrap(),
        Catalog::supported_schema_version()
    );
    let vault = catalog.get_vault("v").await.unwrap();
    let items = catalog
        .list_items(vault.id, &Page::first(10))
        .await
        .unwrap()
        .items;
    let sources: Vec<(String, Source)> = items.into_iter().map(|i| (i.name, i.source)).collect();
    assert_eq!(
        sources,
        vec![
            (
                "data".to_string(),
                Source::Path {
                    path: "/srv/data".into()
                }
            ),
            (
                "vm".to_string(),
                Source::Disk {
                    image: "/img/vm.qcow2".into()
                }
            ),
        ]
    );
    // The lookup by source still finds the migrated item.
    let found = catalog
        .find_item_by_source(
            vault.id,
            &Source::Disk {
                image: "/img/vm.qcow2".into(),
            },
        )
        .await
        .unwrap()
        .expect("found by source");
    assert_eq!(found.name, "vm");
}

#[tokio::test]
async fn schema_7_types_the_sources_of_sqlite_items() {
    migrates_sources(Dialect::Sqlite).await;
}

#[tokio::test]
async fn schema_7_types_the_sources_of_postgres_items() {
    migrates_sources(Dialect::Postgres).await;
}

/// A job row of a type this binary does not know (queued by a newer
/// server sharing the catalog) is never claimed here: the claim takes the
/// next job it can run, and the unknown one waits, still queued.
async fn unknown_job_types_are_not_claimed(dialect: Dialect) {
    use lifeboat_catalog::NewJob;
    use lifeboat_model::job::{JobStatus, JobType};
    let db = TestDb::new(dialect).await;
    let now = chrono::Utc::now();
    let vault = support::vault(&db.catalog, "v", now).await;
    let queued_at = match dialect {
        Dialect::Sqlite => "'2000-01-01T00:00:00.000000+00:00'",
        Dialect::Postgres => "'2000-01-01T00:00:00Z'",
    };
    db.execute(&format!(
        "INSERT INTO jobs (vault_id, job_type, state, queued_at, params)
         VALUES ({}, 'ReplicateToMars', 'Queued', {queued_at}, '{{}}')",
        vault.id.0
    ))
    .await;
    let known = db
        .catalog
        .enqueue(&NewJob {
            vault_id: vault.id,
            item_id: None,
            job_type: JobType::GarbageCollection,
            slot_key: None,
            params: serde_json::json!({}),
            queued_at: now,
        })
        .await
        .unwrap()
        .unwrap();
    let claimed = db
        .catalog
        .claim_next("w", 60, now)
        .await
        .unwrap()
        .expect("the known job");
    assert_eq!(
        (claimed.id, claimed.job_type),
        (known, JobType::GarbageCollection)
    );
    assert_eq!(claimed.state, JobStatus::InProgress);
    assert!(db.catalog.claim_next("w", 60, now).await.unwrap().is_none());
    let waiting = db
        .strings("SELECT state FROM jobs WHERE job_type = 'ReplicateToMars'")
        .await;
    assert_eq!(waiting, vec!["Queued".to_string()]);
}

#[tokio::test]
async fn unknown_job_types_are_not_claimed_on_sqlite() {
    unknown_job_types_are_not_claimed(Dialect::Sqlite).await;
}

#[tokio::test]
async fn unknown_job_types_are_not_claimed_on_postgres() {
    unknown_job_types_are_not_claimed(Dialect::Postgres).await;
}
