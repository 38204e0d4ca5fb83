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
use lifeboat_testkit::{postgres_admin_url, unique_suffix, with_database};
use sqlx::{AssertSqlSafe, Connection, PgConnection, SqliteConnection};

pub struct TestDb {
    pub catalog: Catalog,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
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
        let admin = postgres_admin_url();
        let mut conn = match PgConnection::connect(&admin).await {
            Ok(c) => c,
            Err(e) => panic!(
                "PostgreSQL is required by the catalog tests and is unreachable at {admin}: {e}\n\
                 Start it (the dev machine and CI run one at 127.0.0.1:5432 with trust auth), \
                 or set LIFEBOAT_TEST_POSTGRES to the URL of a maintenance database where the \
                 user may CREATE DATABASE."
            ),
        };
        drop_stale_databases(&mut conn).await;
        let name = format!("lifeboat_test_{}", unique_suffix());
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name} on {admin}: {e}"));
        conn.close().await.ok();
        let url = with_database(&admin, &name);
        let cleanup = Cleanup::Postgres {
            admin_url: admin,
            name,
        };
        let catalog = match Catalog::connect(&url).await {
            Ok(c) => c,
            Err(e) => {
                drop(cleanup);
                panic!("open PostgreSQL catalog {url}: {e}");
            }
        };
        TestDb {
            catalog,
            url,
            cleanup,
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

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = self {
            let (admin_url, db) = (admin_url.clone(), name.clone());
            // Drop may run inside the test's runtime: use a thread with its own.
            let t = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let mut c = PgConnection::connect(&admin_url).await?;
                    sqlx::query(AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
                    )))
                    .execute(&mut c)
                    .await?;
                    Ok::<_, sqlx::Error>(())
                })
            });
            if let Ok(Err(e)) = t.join() {
                eprintln!("warning: could not drop test database {name}: {e}");
            }
        }
    }
}

/// Drops test databases left by test processes that no longer run (killed
/// before their cleanup).
async fn drop_stale_databases(conn: &mut PgConnection) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'lifeboat_test_%'")
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
    for name in names {
        let pid = name
            .strip_prefix("lifeboat_test_")
            .and_then(|s| s.split('_').next())
            .and_then(|p| p.parse::<u32>().ok());
        let Some(pid) = pid else { continue };
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let _ = sqlx::query(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut *conn)
        .await;
    }
}

/// Vault `v` (recovery-services, LRS) with an empty policy `P` and one
/// protected path item `a` (source `/srv/a`, next run `next_run`), all
/// created at `created`.
pub async fn vault_with_item(
    cat: &Catalog,
    created: DateTime<Utc>,
    next_run: Option<DateTime<Utc>>,
) -> (Vault, Item) {
    let v = cat
        .create_vault(&NewVault {
            name: "v".into(),
            kind: "recovery-services".into(),
            redundancy: "LRS".into(),
            settings: serde_json::json!({}),
            created,
        })
        .await
        .unwrap();
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
