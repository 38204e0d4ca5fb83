//! A PostgreSQL database of one test's own on the test server: made with a
//! unique name, dropped with its connections when the value is dropped.
//! Databases that killed test processes left behind are dropped when the
//! next one of the same prefix is made.

use sqlx::{AssertSqlSafe, Connection, PgConnection};

use crate::{postgres_admin_url, unique_suffix, with_database};

/// A scratch database: `url` to connect, `name` as PostgreSQL knows it.
pub struct ScratchDb {
    pub url: String,
    pub name: String,
    admin: String,
}

impl ScratchDb {
    /// Makes `{prefix}_{pid}_{…}`; `prefix` is a PostgreSQL identifier of
    /// the suite, e.g. `lifeboat_test_catalog`.
    pub async fn create(prefix: &str) -> ScratchDb {
        let admin = postgres_admin_url();
        let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is required by these tests and is unreachable at {admin}: {e}\n\
                 Start it (the dev machine and CI run one at 127.0.0.1:5432 with trust auth), \
                 or set LIFEBOAT_TEST_POSTGRES to the URL of a maintenance database where the \
                 user may CREATE DATABASE."
            )
        });
        drop_stale(&mut conn, prefix).await;
        let name = format!("{prefix}_{}", unique_suffix());
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name} on {admin}: {e}"));
        conn.close().await.ok();
        ScratchDb {
            url: with_database(&admin, &name),
            name,
            admin,
        }
    }

    /// [`ScratchDb::create`] for a test without a runtime of its own.
    pub fn create_blocking(prefix: &str) -> ScratchDb {
        runtime().block_on(Self::create(prefix))
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop may run inside the test's runtime: a thread with its own.
        let t = std::thread::spawn(move || runtime().block_on(drop_database(&admin, &name)));
        if let Ok(Err(e)) = t.join() {
            eprintln!("warning: could not drop test database {}: {e}", self.name);
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

async fn drop_database(admin: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut c = PgConnection::connect(admin).await?;
    sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut c)
    .await?;
    Ok(())
}

/// Drops the `prefix` databases whose test process no longer runs.
async fn drop_stale(conn: &mut PgConnection, prefix: &str) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
            .bind(format!("{prefix}_"))
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
    for name in names {
        let Some(pid) = stale_pid(&name, prefix) else {
            continue;
        };
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

/// The process id in a scratch database's name, if it is one of `prefix`.
fn stale_pid(name: &str, prefix: &str) -> Option<u32> {
    name.strip_prefix(prefix)?
        .strip_prefix('_')?
        .split('_')
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::stale_pid;

    #[test]
    fn the_pid_is_read_only_from_names_of_the_prefix() {
        assert_eq!(
            stale_pid("lifeboat_test_12_34_0", "lifeboat_test"),
            Some(12)
        );
        assert_eq!(
            stale_pid("lifeboat_test_srv_12_34_0", "lifeboat_test"),
            None
        );
        assert_eq!(stale_pid("other_12_34_0", "lifeboat_test"), None);
        assert_eq!(stale_pid("lifeboat_test12_3", "lifeboat_test"), None);
    }
}
