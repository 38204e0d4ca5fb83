//! What the multi-server and DST tests share: real `lifeboat server`
//! processes (on ephemeral loopback ports, with LIFEBOAT_ADMIN_TOKEN),
//! the real `lifeboat` binary as the client, a PostgreSQL database of the
//! test's own, a clock file, and file trees to back up and compare.
//!
//! Each test file uses only part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

/// At least 32 characters, as the server requires of LIFEBOAT_ADMIN_TOKEN.
pub const TOKEN: &str = "server-support-test-admin-token-0123456789";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_lifeboat")
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

pub use lifeboat_testkit::free_port;

/// One finished CLI run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Fails unless the run exited 0.
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Fails unless the run exited with `code` and printed `ERROR: (CODE)`.
    pub fn failed(self, code: i32, error_code: &str) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert!(
            self.stderr.contains(&format!("ERROR: ({error_code})")),
            "expected ERROR: ({error_code}) on stderr, got:\n{}",
            self.stderr
        );
        self
    }
}

/// Runs a command to the end; kills it if it hangs.
pub fn run_bounded(cmd: Command, what: &str) -> Run {
    run_bounded_input(cmd, what, None)
}

/// Like [`run_bounded`], with `input` written to stdin (else stdin is empty).
pub fn run_bounded_input(mut cmd: Command, what: &str, input: Option<&str>) -> Run {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run lifeboat");
    if let Some(text) = input {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("write stdin");
    }
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    // A guard against a hang, not a speed requirement.
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

/// How to start one `lifeboat server`.
#[derive(Debug, Clone)]
pub struct ServerOpts {
    /// `--data`.
    pub data: PathBuf,
    /// `--catalog` (else SQLite in the data folder).
    pub catalog: Option<String>,
    pub time_zone: String,
    pub clock_file: Option<PathBuf>,
    pub max_jobs: usize,
    pub job_lease_secs: Option<u64>,
    pub tick_ms: Option<u64>,
    /// `--backup-read-limit` in MiB/s.
    pub backup_read_limit: Option<u64>,
    /// Where the server's stdout and stderr go.
    pub log: PathBuf,
}

impl ServerOpts {
    pub fn new(data: &Path, log: &Path) -> ServerOpts {
        ServerOpts {
            data: data.to_path_buf(),
            catalog: None,
            time_zone: "UTC".to_owned(),
            clock_file: None,
            max_jobs: 2,
            job_lease_secs: None,
            tick_ms: None,
            backup_read_limit: None,
            log: log.to_path_buf(),
        }
    }
}

/// A running `lifeboat server` process.
pub struct ServerProc {
    pub child: Child,
    pub url: String,
    pub opts: ServerOpts,
}

fn spawn(opts: &ServerOpts, port: u16) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&opts.log)
        .expect("log file");
    let mut cmd = Command::new(bin());
    cmd.args(["server", "--data", s(&opts.data)])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--time-zone", &opts.time_zone])
        .args(["--max-jobs", &opts.max_jobs.to_string()])
        .args(["--log-format", "json"]);
    if let Some(url) = &opts.catalog {
        cmd.args(["--catalog", url]);
    }
    if let Some(f) = &opts.clock_file {
        cmd.args(["--clock-file", s(f)]);
    }
    if let Some(l) = opts.job_lease_secs {
        cmd.args(["--job-lease-secs", &l.to_string()]);
    }
    if let Some(t) = opts.tick_ms {
        cmd.args(["--tick-ms", &t.to_string()]);
    }
    if let Some(m) = opts.backup_read_limit {
        cmd.args(["--backup-read-limit", &m.to_string()]);
    }
    cmd.env("LIFEBOAT_ADMIN_TOKEN", TOKEN)
        .env_remove("LIFEBOAT_CATALOG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .spawn()
        .expect("start lifeboat server")
}

/// Polls `/healthz` until it answers; false if the server exited.
fn wait_ready(child: &mut Child, url: &str) -> bool {
    let http = http();
    // A guard against a hang, not a speed requirement.
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if let Ok(r) = http.get(format!("{url}/healthz")).send()
            && r.status().is_success()
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

impl ServerProc {
    /// Starts a server; retries on another port if the picked one was
    /// taken before the server bound it.
    pub fn start(opts: ServerOpts) -> ServerProc {
        for _ in 0..5 {
            let port = free_port();
            let mut child = spawn(&opts, port);
            let url = format!("http://127.0.0.1:{port}");
            if wait_ready(&mut child, &url) {
                return ServerProc { child, url, opts };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "lifeboat server did not start; log:\n{}",
            std::fs::read_to_string(&opts.log).unwrap_or_default()
        );
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts the server again on the same port and options after
    /// [`ServerProc::kill`].
    pub fn restart(&mut self) {
        let port: u16 = self
            .url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the URL ends in a port");
        for _ in 0..50 {
            self.child = spawn(&self.opts, port);
            if wait_ready(&mut self.child, &self.url) {
                return;
            }
            // The port may linger for a moment after the kill.
            let _ = self.child.kill();
            let _ = self.child.wait();
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("lifeboat server did not restart; log:\n{}", self.log());
    }

    /// SIGKILL: no shutdown, the jobs it held keep their leases.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.opts.log).unwrap_or_default()
    }

    /// `GET /metrics` (this process's counters, cluster-wide job counts).
    pub fn metrics(&self) -> String {
        let r = http()
            .get(format!("{}/metrics", self.url))
            .bearer_auth(TOKEN)
            .send()
            .expect("GET /metrics");
        assert!(r.status().is_success(), "GET /metrics: {}", r.status());
        r.text().expect("metrics text")
    }

    /// A metric's value from [`ServerProc::metrics`] (the line `name value`).
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics().lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == name).then(|| v.trim().parse().ok()).flatten()
        })
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- log of the server at {} ----\n{}",
                self.url,
                self.log()
            );
        }
    }
}

/// The `lifeboat` client, with a private configuration folder.
pub struct Cli {
    pub home: PathBuf,
}

impl Cli {
    pub fn new(home: &Path) -> Cli {
        std::fs::create_dir_all(home).expect("client home");
        Cli {
            home: home.to_path_buf(),
        }
    }

    /// `lifeboat backup ARGS` against `srv`, JSON output.
    pub fn backup(&self, srv: &ServerProc, args: &[&str]) -> Run {
        self.backup_at(&srv.url, args)
    }

    /// `lifeboat backup ARGS` against the server at `url`.
    /// `lifeboat backup protection enable` of folder `src` as item `name`
    /// of vault `prod` under DefaultPolicy; requires success.
    pub fn protect_path(&self, srv: &ServerProc, src: &Path, name: &str) -> Run {
        let mut args = vec!["protection", "enable", "--vault", "prod"];
        args.extend([
            "--policy",
            "DefaultPolicy",
            "--path",
            s(src),
            "--name",
            name,
        ]);
        self.backup(srv, &args).ok()
    }

    pub fn backup_at(&self, url: &str, args: &[&str]) -> Run {
        let mut cmd = self.command(url, &prepend("backup", args));
        cmd.env("LIFEBOAT_TOKEN", TOKEN);
        run_bounded(cmd, &format!("lifeboat backup {args:?}"))
    }

    /// `lifeboat ARGS` with this client's configuration folder and
    /// LIFEBOAT_SERVER=`url`, and none of the test's own LIFEBOAT_TOKEN,
    /// LIFEBOAT_OUTPUT or LIFEBOAT_PAGE_SIZE.
    pub fn command(&self, url: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .env("XDG_CONFIG_HOME", self.home.join("config"))
            .env("HOME", &self.home)
            .env("LIFEBOAT_SERVER", url)
            .env_remove("LIFEBOAT_TOKEN")
            .env_remove("LIFEBOAT_OUTPUT")
            .env_remove("LIFEBOAT_PAGE_SIZE");
        cmd
    }

    /// `lifeboat ARGS` against `srv` as the holder of `token`.
    pub fn as_token(&self, srv: &ServerProc, token: &str, args: &[&str]) -> Run {
        let mut cmd = self.command(&srv.url, args);
        cmd.env("LIFEBOAT_TOKEN", token);
        run_bounded(cmd, &format!("lifeboat {args:?}"))
    }

    /// [`Cli::command`] with extra environment (an empty value removes the
    /// variable) and `input` on stdin, run to the end.
    pub fn run(&self, url: &str, args: &[&str], envs: &[(&str, &str)], input: Option<&str>) -> Run {
        let mut cmd = self.command(url, args);
        for (k, v) in envs {
            if v.is_empty() {
                cmd.env_remove(k);
            } else {
                cmd.env(k, v);
            }
        }
        run_bounded_input(cmd, &format!("lifeboat {args:?}"), input)
    }

    /// `lifeboat store ARGS` (a vault folder directly).
    pub fn store(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(bin());
        cmd.arg("store")
            .args(args)
            .env("HOME", &self.home)
            .env("XDG_CACHE_HOME", self.home.join("cache"))
            .env_remove("LIFEBOAT_PASSPHRASE")
            .env_remove("LIFEBOAT_CACHE_DIR");
        run_bounded(cmd, &format!("lifeboat store {args:?}"))
    }

    /// Every job of `vault` (and `item`), newest first.
    pub fn jobs(&self, srv: &ServerProc, vault: &str, item: Option<&str>) -> Vec<Value> {
        let mut args = vec!["job", "list", "--vault", vault];
        if let Some(i) = item {
            args.extend(["--item", i]);
        }
        as_list(self.backup(srv, &args).ok().json())
    }

    /// Every recovery point of an item, newest first.
    pub fn points(&self, srv: &ServerProc, vault: &str, item: &str) -> Vec<Value> {
        as_list(
            self.backup(
                srv,
                &["recoverypoint", "list", "--vault", vault, "--item", item],
            )
            .ok()
            .json(),
        )
    }
}

/// `first` followed by `rest`.
pub fn prepend<'a>(first: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![first];
    v.extend_from_slice(rest);
    v
}

pub fn as_list(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        other => panic!("expected a list, got {other}"),
    }
}

pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

/// Whether a job's `status` is final.
pub fn terminal(job: &Value) -> bool {
    matches!(
        job["status"].as_str(),
        Some("Completed" | "CompletedWithWarnings" | "Failed" | "Cancelled")
    )
}

/// The error or warning codes of a job (`errors` or `warnings`).
pub fn codes(job: &Value, key: &str) -> Vec<String> {
    job[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|d| d["errorCode"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `check` until it returns `Some`; panics with `what` after a
/// generous guard (against a hang; no speed is asserted).
pub fn wait_for<T>(what: &str, guard: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + guard;
    loop {
        if let Some(t) = check() {
            return t;
        }
        if Instant::now() > deadline {
            panic!("gave up waiting: {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s:?}: {e}"))
        .with_timezone(&Utc)
}

/// A time the API printed (RFC 3339).
pub fn time_of(v: &Value, key: &str) -> DateTime<Utc> {
    utc(str_of(v, key))
}

/// Sets the server's clock: writes the file beside and renames it over, as
/// `--clock-file` asks.
pub fn set_clock(path: &Path, t: DateTime<Utc>) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, t.to_rfc3339_opts(SecondsFormat::Secs, true)).expect("write clock");
    std::fs::rename(&tmp, path).expect("rename clock");
}

/// The one folder under `<data>/vaults/` (the store of the only vault) and
/// a file with its passphrase: `<data>/secrets/vault-<id>.key` unwrapped
/// with the platform key-encryption key, written next to the data folder.
pub fn only_vault_store(data: &Path) -> (PathBuf, PathBuf) {
    let ids: Vec<String> = std::fs::read_dir(data.join("vaults"))
        .expect("vaults folder")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(ids.len(), 1, "one vault store expected: {ids:?}");
    let id = &ids[0];
    let wrapped = std::fs::read(data.join("secrets").join(format!("vault-{id}.key")))
        .expect("vault key file");
    let secret = lifeboat_service::VaultStorage::new(data)
        .keys()
        .unwrap(id, &wrapped)
        .expect("unwrap the vault secret with the platform key");
    let pass = data.with_file_name(format!("vault-{id}.passphrase"));
    std::fs::write(&pass, secret).expect("write the passphrase file");
    (data.join("vaults").join(id), pass)
}

/// Pseudo-random bytes (xorshift; deterministic per seed).
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Noise {
        Noise(seed | 1)
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
    }
}

/// A folder of `files` files of `size` pseudo-random bytes each, plus a
/// small text file and an empty one, under `root`.
pub fn make_tree(root: &Path, seed: u64, files: usize, size: usize) {
    let mut noise = Noise::new(seed);
    std::fs::create_dir_all(root.join("data")).expect("mkdir");
    let mut buf = vec![0u8; size];
    for i in 0..files {
        noise.fill(&mut buf);
        std::fs::write(root.join("data").join(format!("f{i:04}.bin")), &buf).expect("write");
    }
    std::fs::write(root.join("readme.txt"), format!("tree {seed}\n")).expect("write");
    std::fs::write(root.join("empty"), b"").expect("write");
}

/// Relative path → file contents (`None` for folders) under `root`.
pub fn tree(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read_dir") {
            let e = e.expect("dir entry");
            let p = e.path();
            let rel = p
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .into_owned();
            if e.file_type().expect("file type").is_dir() {
                out.insert(rel, None);
                stack.push(p);
            } else {
                out.insert(rel, Some(std::fs::read(&p).expect("read")));
            }
        }
    }
    out
}

/// Where a restore to `target` puts the protected folder `source`: under
/// its original absolute path inside the target.
pub fn restored_root(target: &Path, source: &Path) -> PathBuf {
    target.join(source.strip_prefix("/").expect("absolute source"))
}

/// A PostgreSQL database of this test's own on the test server, dropped
/// at the end.
#[allow(unused_imports)]
pub use lifeboat_testkit::pg::ScratchDb as PgDb;
