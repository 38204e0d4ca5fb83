//! Test databases: a fresh SQLite file or a fresh PostgreSQL database per
//! test, dropped afterwards (also when the test panics).
//!
//! PostgreSQL comes from `LIFEBOAT_TEST_POSTGRES` (a URL of a maintenance
//! database on a server where the user may create databases), by default
//! `postgres://postgres@127.0.0.1:5432/postgres`. When it cannot be reached
//! the PostgreSQL tests fail; they never skip.

#![allow(dead_code)]

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat_catalog::{Catalog, Dialect, Item, NewItem, NewPoint, NewVault, Vault};
use lifeboat_model::item::HealthStatus;
use lifeboat_model::item::ProtectionState;
use lifeboat_testkit::pg::ScratchDb;
use sqlx::{AssertSqlSafe, Connection, PgConnection, SqliteConnection};

pub struct TestDb {
    pub catalog: Catalog,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(#[allow(dead_code)] ScratchDb),
}

impl TestDb {
    pub async fn new(dialect: Dialect) -> TestDb {
        match dialect {
            Dialect::Sqlite => Self::sqlite().await,
            Dialect::Postgres => Self::postgres().await,
        }
    }

    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/catalog.db?mode=rwc", dir.path().display());
        let catalog = Catalog::connect(&url).await.expect("open SQLite catalog");
        TestDb {
            catalog,
            url,
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    pub async fn postgres() -> TestDb {
        let db = ScratchDb::create("lifeboat_test").await;
        let url = db.url.clone();
        // On a failed open the database is dropped with `db`.
        let catalog = match Catalog::connect(&url).await {
            Ok(c) => c,
            Err(e) => panic!("open PostgreSQL catalog {url}: {e}"),
        };
        TestDb {
            catalog,
            url,
            cleanup: Cleanup::Postgres(db),
        }
    }

    pub fn dialect(&self) -> Dialect {
        self.catalog.dialect()
    }

    /// Runs SQL that returns nothing, on a connection of its own.
    pub async fn execute(&self, sql: &str) {
        match self.dialect() {
            Dialect::Sqlite => {
                let mut c = SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query(AssertSqlSafe(sql.to_string()))
                    .execute(&mut c)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            Dialect::Postgres => {
                let mut c = PgConnection::connect(&self.url).await.unwrap();
                sqlx::query(AssertSqlSafe(sql.to_string()))
                    .execute(&mut c)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
        }
    }

    /// Runs a query whose first column is text, and returns that column.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        match self.dialect() {
            Dialect::Sqlite => {
                let mut c = SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
                    .fetch_all(&mut c)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
            Dialect::Postgres => {
                let mut c = PgConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
                    .fetch_all(&mut c)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
        }
    }
}

/// A recovery-services vault `name` (LRS, no settings) made at `created`.
pub fn new_vault(name: &str, created: DateTime<Utc>) -> NewVault {
    NewVault {
        name: name.into(),
        kind: "recovery-services".into(),
        redundancy: "LRS".into(),
        settings: serde_json::json!({}),
        created,
    }
}

/// Creates [`new_vault`]`(name, created)`.
pub async fn vault(cat: &Catalog, name: &str, created: DateTime<Utc>) -> Vault {
    cat.create_vault(&new_vault(name, created)).await.unwrap()
}

/// Vault `v` (recovery-services, LRS) with an empty policy `P` and one
/// protected path item `a` (source `/srv/a`, next run `next_run`), all
/// created at `created`.
pub async fn vault_with_item(
    cat: &Catalog,
    created: DateTime<Utc>,
    next_run: Option<DateTime<Utc>>,
) -> (Vault, Item) {
    let v = vault(cat, "v", created).await;
    cat.create_policy(v.id, "P", &serde_json::json!({}), created)
        .await
        .unwrap();
    let it = cat
        .create_item(&NewItem {
            vault_id: v.id,
            name: "a".into(),
            source: lifeboat_model::source::Source::Path {
                path: "/srv/a".into(),
            },
            policy_name: Some("P".into()),
            state: ProtectionState::Protected,
            health: HealthStatus::Passed,
            settings: serde_json::json!({}),
            next_run,
            created,
        })
        .await
        .unwrap();
    (v, it)
}

/// A daily point of `it` at `time`: 10 bytes (5 added), expiring a week later.
pub fn point(it: &Item, store_id: &str, time: DateTime<Utc>) -> NewPoint {
    NewPoint {
        item_id: it.id,
        store_id: store_id.into(),
        time,
        consistency: "file-system".into(),
        tier: "vault".into(),
        size: 10,
        added_bytes: 5,
        rule_tags: vec!["daily".into()],
        expiry: Some(time + TimeDelta::days(7)),
    }
}

/// Declares a test that runs once on SQLite and once on PostgreSQL, as
/// `NAME::sqlite` and `NAME::postgres`; the body sees `db: &TestDb`.
#[macro_export]
macro_rules! both {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let owned = $crate::support::TestDb::sqlite().await;
                let $db: &$crate::support::TestDb = &owned;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let owned = $crate::support::TestDb::postgres().await;
                let $db: &$crate::support::TestDb = &owned;
                $body
            }
        }
    };
}
