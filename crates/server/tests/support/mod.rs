//! A real server per test: in-process on an ephemeral port, with its own
//! data folder and its own catalog — a SQLite file, or a fresh PostgreSQL
//! database dropped afterwards (also when the test panics). Tests talk to
//! it over real HTTP with reqwest.
//!
//! PostgreSQL comes from `LIFEBOAT_TEST_POSTGRES` (a maintenance database
//! where the user may create databases), by default
//! `postgres://postgres@127.0.0.1:5432/postgres`. When it cannot be reached
//! the PostgreSQL tests fail; they never skip.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lifeboat_server::{RunningServer, ServerConfig};
use lifeboat_service::{Clock, SystemClock};
use lifeboat_testkit::pg::ScratchDb;
use lifeboat_testkit::unique_suffix;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestServer {
    pub base: String,
    pub token: String,
    pub client: reqwest::Client,
    pub data: PathBuf,
    pub catalog_url: String,
    server: Option<RunningServer>,
    dir: tempfile::TempDir,
    _pg: Option<ScratchDb>,
}

/// Cheap key slots for the vault stores the tests create (set once, before
/// any store is made).
fn cheap_kdf() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: set once, before this test binary creates any store; the
        // variables are only read when a key slot is made.
        unsafe {
            std::env::set_var("LIFEBOAT_KDF_M_KIB", "64");
            std::env::set_var("LIFEBOAT_KDF_T", "1");
        }
    });
}

pub const TEST_TOKEN_PREFIX: &str = "test-admin-";

impl TestServer {
    pub async fn start(db: Db) -> TestServer {
        Self::start_with(db, Arc::new(SystemClock), "UTC").await
    }

    pub async fn start_with(db: Db, clock: Arc<dyn Clock>, time_zone: &str) -> TestServer {
        cheap_kdf();
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let (catalog_url, pg) = match db {
            Db::Sqlite => (
                format!("sqlite://{}/catalog.db?mode=rwc", dir.path().display()),
                None,
            ),
            Db::Postgres => {
                let pg = ScratchDb::create("lifeboat_test_srv").await;
                (pg.url.clone(), Some(pg))
            }
        };
        let token = format!("{TEST_TOKEN_PREFIX}{}", "0123456789abcdef".repeat(4));
        let server = lifeboat_server::start(ServerConfig {
            data_dir: data.clone(),
            catalog_url: catalog_url.clone(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            max_jobs: Some(2),
            worker_id: Some(format!("test-{}", unique_suffix())),
            time_zone: time_zone.to_owned(),
            clock,
            admin_token: Some(token.clone()),
            shutdown_grace: Duration::from_secs(10),
        })
        .await
        .unwrap_or_else(|e| panic!("server start: {e:#}"));
        assert!(
            server.new_admin_token.is_none(),
            "with an admin token given, no other is made"
        );
        TestServer {
            base: format!("http://{}", server.addr),
            token,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .expect("client"),
            data,
            catalog_url,
            server: Some(server),
            dir,
            _pg: pg,
        }
    }

    pub fn tmp(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the server gracefully.
    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.expect("graceful shutdown");
        }
    }

    /// One request with the admin token; answers status and JSON body
    /// (`Null` when the body is empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_as(Some(&self.token), method, path, body).await
    }

    /// Tries to create vault `sneaky` without a token: the status.
    pub async fn create_vault_anonymously(&self) -> StatusCode {
        let body = json!({"name": "sneaky", "kind": "backup"});
        let (st, _) = self
            .call_as(None, Method::POST, "/api/v1/vaults", Some(body))
            .await;
        st
    }

    pub async fn call_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// GET that must succeed.
    pub async fn ok(&self, path: &str) -> Value {
        let (s, v) = self.get(path).await;
        assert_eq!(s, StatusCode::OK, "GET {path}: {v}");
        v
    }

    /// Creates a vault, which must succeed.
    pub async fn vault(&self, name: &str) -> Value {
        let (s, v) = self
            .post(
                "/api/v1/vaults",
                json!({"name": name, "kind": "recovery-services"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "create vault {name}: {v}");
        v
    }

    /// Protects `source` in `vault` with `DefaultPolicy`.
    pub async fn protect(&self, vault: &str, name: &str, workload: &str, source: &Path) -> Value {
        let (s, v) = self
            .post(
                &format!("/api/v1/vaults/{vault}/items"),
                json!({"name": name, "workload": workload,
                       "source": source.to_str().expect("utf-8 path"),
                       "policy": "DefaultPolicy"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "protect {source:?}: {v}");
        v
    }

    /// Polls a job until it ends (bounded), and returns it.
    pub async fn wait_job(&self, id: i64) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(180);
        loop {
            let job = self.ok(&format!("/api/v1/jobs/{id}")).await;
            let status = job["status"].as_str().unwrap_or_default().to_owned();
            if ["Completed", "CompletedWithWarnings", "Failed", "Cancelled"]
                .contains(&status.as_str())
            {
                return job;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "job {id} did not end within 180 s: {job}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every row of a list, following `nextLink`.
    pub async fn all(&self, path: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut next = Some(path.to_owned());
        while let Some(p) = next {
            let page = self.ok(&p).await;
            out.extend(page["value"].as_array().cloned().unwrap_or_default());
            next = page["nextLink"].as_str().map(str::to_owned);
        }
        out
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // A server not stopped by its test (it panicked): stop accepting at
        // least; the runtime ending tears down the rest.
        drop(self.server.take());
    }
}

/// The `code` of an error answer (`""` when it has none).
pub fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or_default()
}

/// Asserts that an answer is the error `status` with `code`; the message
/// shows the answer.
#[track_caller]
pub fn assert_error(st: StatusCode, e: &Value, status: StatusCode, code: &str) {
    assert_eq!((st, self::code(e)), (status, code), "{e}");
}

/// Declares a test that runs once on SQLite and once on PostgreSQL, as
/// `NAME::sqlite` and `NAME::postgres`; the body sees `db: Db`.
#[macro_export]
macro_rules! both {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $db = $crate::support::Db::Sqlite;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let $db = $crate::support::Db::Postgres;
                $body
            }
        }
    };
}

/// Writes a small tree of files with varied content.
pub fn make_tree(root: &Path) {
    std::fs::create_dir_all(root.join("sub/deeper")).expect("mkdir");
    std::fs::write(root.join("a.txt"), b"hello lifeboat\n").expect("write");
    let big: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(root.join("sub/big.bin"), &big).expect("write");
    std::fs::write(root.join("sub/deeper/empty"), b"").expect("write");
    std::fs::write(root.join("sub/deeper/c.txt"), "ü".repeat(1000)).expect("write");
}

/// Asserts two trees hold the same files with the same bytes.
pub fn assert_same_tree(a: &Path, b: &Path) {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read_dir {dir:?}: {e}"))
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for p in entries {
            let rel = p
                .strip_prefix(root)
                .expect("prefix")
                .to_string_lossy()
                .into_owned();
            if p.is_dir() {
                out.push((format!("{rel}/"), Vec::new()));
                walk(root, &p, out);
            } else {
                out.push((rel, std::fs::read(&p).expect("read")));
            }
        }
    }
    let (mut x, mut y) = (Vec::new(), Vec::new());
    walk(a, a, &mut x);
    walk(b, b, &mut y);
    let names = |v: &Vec<(String, Vec<u8>)>| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&x), names(&y), "same file names");
    assert!(x == y, "same file contents");
}
