//! `lifeboat backup …` and `lifeboat login` against a real `lifeboat server`
//! (SQLite catalog in a temporary data folder, an ephemeral loopback port,
//! the administrator token from LIFEBOAT_ADMIN_TOKEN), driven through the
//! real binary: exit codes, stderr error lines and every output format are
//! checked on what the server really answers.

use std::collections::BTreeMap;
use std::io::{BufRead, Read};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// At least 32 characters, as the server requires of LIFEBOAT_ADMIN_TOKEN.
const TOKEN: &str = "backup-cli-test-admin-token-0123456789abcdef";

/// Exit codes of `lifeboat backup` (docs/cli-backup.md).
mod exit {
    pub const OK: i32 = 0;
    pub const USAGE: i32 = 2;
    pub const NOT_FOUND: i32 = 4;
    pub const AUTH: i32 = 5;
    pub const UNREACHABLE: i32 = 8;
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_lifeboat")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// A port nothing listens on right now (bound, then released).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local address").port()
}

/// One finished CLI run.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> Run {
        assert_eq!(
            self.code,
            exit::OK,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Fails unless the run exited with `code` and printed `ERROR: (CODE)`.
    fn failed(self, code: i32, error_code: &str) -> Run {
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

/// A running `lifeboat server` with its own data folder, plus a folder for
/// the CLI's configuration and the test's files.
struct Server {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
    port: u16,
    catalog: Option<String>,
}

/// Starts `lifeboat server` on `port` with its data (and log) in `dir`.
fn spawn_server(dir: &Path, port: u16, catalog: Option<&str>) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .expect("log file");
    let mut cmd = Command::new(bin());
    cmd.args(["server", "--data", s(&dir.join("data"))]);
    if let Some(url) = catalog {
        cmd.args(["--catalog", url]);
    }
    cmd.args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--time-zone", "UTC", "--max-jobs", "2"])
        .env("LIFEBOAT_ADMIN_TOKEN", TOKEN)
        .env_remove("LIFEBOAT_CATALOG")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .spawn()
        .expect("start lifeboat server")
}

impl Server {
    fn start() -> Server {
        Server::start_with(None)
    }

    /// A server on `catalog` (a PostgreSQL URL), else SQLite in its data folder.
    fn start_with(catalog: Option<&str>) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("home")).expect("home");
        // The port is free when picked but may be taken before the server
        // binds it; try a few.
        for _ in 0..5 {
            let port = free_port();
            let mut child = spawn_server(dir.path(), port, catalog);
            let url = format!("http://127.0.0.1:{port}");
            if wait_ready(&mut child, &url) {
                return Server {
                    child,
                    url,
                    dir,
                    port,
                    catalog: catalog.map(str::to_owned),
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "lifeboat server did not start; log:\n{}",
            read_log(dir.path())
        );
    }

    /// Kills the server (SIGKILL).
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port and data after [`Server::kill`].
    fn restart(&mut self) {
        for _ in 0..50 {
            self.child = spawn_server(self.dir.path(), self.port, self.catalog.as_deref());
            if wait_ready(&mut self.child, &self.url) {
                return;
            }
            // The port may linger for a moment after the kill.
            let _ = self.child.wait();
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "lifeboat server did not restart; log:\n{}",
            read_log(self.dir.path())
        );
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `lifeboat backup ARGS` with the server and token in the environment
    /// and a private configuration folder.
    fn backup(&self, args: &[&str]) -> Run {
        self.run(&prepend("backup", args), &[("LIFEBOAT_TOKEN", TOKEN)])
    }

    /// `lifeboat ARGS` with extra environment (`LIFEBOAT_SERVER` is set
    /// unless `envs` overrides or the empty value removes it).
    fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        self.run_input(args, envs, None)
    }

    /// Like [`Server::run`], with `input` on stdin (else stdin is empty).
    fn run_input(&self, args: &[&str], envs: &[(&str, &str)], input: Option<&str>) -> Run {
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("HOME", self.path("home"))
            .env("LIFEBOAT_SERVER", &self.url)
            .env_remove("LIFEBOAT_TOKEN")
            .env_remove("LIFEBOAT_OUTPUT")
            .env_remove("LIFEBOAT_PAGE_SIZE")
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            if v.is_empty() {
                cmd.env_remove(k);
            } else {
                cmd.env(k, v);
            }
        }
        run_bounded(cmd, args, input)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("server log:\n{}", read_log(self.dir.path()));
        }
    }
}

/// Polls `/healthz` until it answers; false if the server exited.
fn wait_ready(child: &mut Child, url: &str) -> bool {
    let Ok(http) = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    else {
        return false;
    };
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
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
}

fn prepend<'a>(first: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![first];
    v.extend_from_slice(rest);
    v
}

/// Runs a command to the end; kills it if it hangs (a job that never ends).
fn run_bounded(mut cmd: Command, args: &[&str], input: Option<&str>) -> Run {
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
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("lifeboat {args:?} did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

/// A folder with nested files, an empty file and a few hundred KiB of
/// pseudo-random data.
fn make_source(root: &Path) {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut bytes = |n: usize| {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect::<Vec<u8>>()
    };
    std::fs::create_dir_all(root.join("etc/conf.d")).expect("mkdir");
    std::fs::create_dir_all(root.join("www/img")).expect("mkdir");
    std::fs::write(root.join("etc/app.conf"), b"port = 8080\nname = lifeboat\n").expect("write");
    std::fs::write(root.join("etc/conf.d/empty"), b"").expect("write");
    std::fs::write(root.join("www/index.html"), b"<h1>hello</h1>\n").expect("write");
    std::fs::write(root.join("www/img/blob.bin"), bytes(300 * 1024)).expect("write");
    std::fs::write(root.join("notes.txt"), bytes(4096)).expect("write");
}

/// Relative path → file contents (`None` for folders) under `root`.
fn tree(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
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
/// its original absolute path inside the target (docs/cli-backup.md).
fn restored_root(target: &Path, source: &Path) -> PathBuf {
    target.join(source.strip_prefix("/").expect("absolute source"))
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|x| x["name"].as_str().expect("a name").to_owned())
        .collect()
}

#[test]
fn vaults_backup_and_restore_through_the_cli_in_every_format() {
    let srv = Server::start();

    // Vaults.
    let prod = srv
        .backup(&["vault", "create", "--name", "prod"])
        .ok()
        .json();
    assert_eq!(prod["name"], "prod");
    assert_eq!(prod["kind"], "recovery-services");
    srv.backup(&["vault", "create", "--name", "lab", "--kind", "backup"])
        .ok();

    let list = srv.backup(&["vault", "list"]).ok().json();
    let mut got = names(&list);
    got.sort();
    assert_eq!(got, ["lab", "prod"]);

    let table = srv.backup(&["vault", "list", "-o", "table"]).ok().stdout;
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("Name")
            && lines[0].contains("Kind")
            && lines[0].contains("ProtectedItems"),
        "{table}"
    );
    assert!(lines[1].starts_with("----"), "{table}");
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        table.contains("recovery-services") && table.contains("backup"),
        "{table}"
    );

    let tsv = srv
        .backup(&["vault", "list", "--query", "[].name", "-o", "tsv"])
        .ok()
        .stdout;
    let mut tsv_names: Vec<&str> = tsv.lines().collect();
    tsv_names.sort();
    assert_eq!(tsv_names, ["lab", "prod"]);

    let only_backup = srv
        .backup(&["vault", "list", "--query", "[?kind=='backup'].name"])
        .ok()
        .json();
    assert_eq!(only_backup, json!(["lab"]));

    let shown = srv.backup(&["vault", "show", "--name", "prod"]).ok().json();
    assert_eq!(shown["usage"]["protectedItems"], 0);
    let yaml = srv
        .backup(&["vault", "show", "--name", "prod", "-o", "yaml"])
        .ok()
        .stdout;
    let from_yaml: Value = serde_yaml::from_str(&yaml).expect("yaml output parses");
    assert_eq!(from_yaml, shown);

    let q_table = srv
        .backup(&[
            "vault",
            "list",
            "--query",
            "[?name=='prod'].{Vault:name, Items:usage.protectedItems}",
            "-o",
            "table",
        ])
        .ok()
        .stdout;
    assert_eq!(q_table, "Vault  Items\n-----  -----\nprod   0\n");

    let none = srv.backup(&["vault", "list", "-o", "none"]).ok();
    assert_eq!(none.stdout, "");

    // A recovery-services vault comes with DefaultPolicy.
    let policies = srv
        .backup(&[
            "policy", "list", "--vault", "prod", "--query", "[].name", "-o", "tsv",
        ])
        .ok()
        .stdout;
    assert_eq!(policies, "DefaultPolicy\n");

    // Protect a folder and back it up now.
    let src = srv.path("src");
    make_source(&src);
    let item = srv
        .backup(&[
            "protection",
            "enable",
            "--vault",
            "prod",
            "--policy",
            "DefaultPolicy",
            "--path",
            s(&src),
            "--name",
            "data",
        ])
        .ok()
        .json();
    assert_eq!(item["name"], "data");
    assert_eq!(item["protectionState"], "Protected");
    assert_eq!(item["source"], s(&src));

    let items = srv
        .backup(&["item", "list", "--vault", "prod", "-o", "table"])
        .ok()
        .stdout;
    assert!(
        items
            .lines()
            .nth(2)
            .is_some_and(|l| l.starts_with("data ") && l.contains("Protected")),
        "{items}"
    );

    let job = srv
        .backup(&[
            "protection",
            "backup-now",
            "--vault",
            "prod",
            "--item",
            "data",
            "--wait",
        ])
        .ok()
        .json();
    assert_eq!(job["status"], "Completed", "{job}");
    assert_eq!(job["jobType"], "Backup");

    let points = srv
        .backup(&["recoverypoint", "list", "--vault", "prod", "--item", "data"])
        .ok()
        .json();
    let points = points.as_array().expect("a list");
    assert_eq!(points.len(), 1, "{points:?}");
    let point_id = points[0]["id"].as_str().expect("point id").to_owned();
    assert!(
        points[0]["retentionTags"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("on-demand"))),
        "{points:?}"
    );
    let latest = srv
        .backup(&[
            "recoverypoint",
            "show",
            "--vault",
            "prod",
            "--item",
            "data",
            "--point",
            "latest",
        ])
        .ok()
        .json();
    assert_eq!(latest["id"], point_id.as_str());
    let rp_tsv = srv
        .backup(&[
            "recoverypoint",
            "list",
            "--vault",
            "prod",
            "--item",
            "data",
            "--query",
            "[].[id, tier]",
            "-o",
            "tsv",
        ])
        .ok()
        .stdout;
    assert_eq!(rp_tsv, format!("{point_id}\tvault\n"));

    let shown = srv.backup(&["vault", "show", "--name", "prod"]).ok().json();
    assert_eq!(shown["usage"]["protectedItems"], 1);
    assert_eq!(shown["usage"]["recoveryPoints"], 1);

    // Restore to an alternate folder: byte-identical.
    let target = srv.path("restored");
    let restore = srv
        .backup(&[
            "restore",
            "files",
            "--vault",
            "prod",
            "--item",
            "data",
            "--point",
            &point_id,
            "--target-path",
            s(&target),
            "--wait",
        ])
        .ok()
        .json();
    assert_eq!(restore["status"], "Completed", "{restore}");
    assert_eq!(restore["jobType"], "Restore");
    assert_eq!(tree(&restored_root(&target, &src)), tree(&src));

    // Jobs.
    let jobs = srv.backup(&["job", "list", "--vault", "prod"]).ok().json();
    let jobs = jobs.as_array().expect("a list");
    let mut types: Vec<&str> = jobs.iter().filter_map(|j| j["jobType"].as_str()).collect();
    types.sort();
    assert_eq!(types, ["Backup", "Restore"], "{jobs:?}");
    let restore_status = srv
        .backup(&[
            "job",
            "list",
            "--vault",
            "prod",
            "--operation",
            "Restore",
            "--query",
            "[].status",
            "-o",
            "tsv",
        ])
        .ok()
        .stdout;
    assert_eq!(restore_status, "Completed\n");
    let id = job["id"].to_string();
    let one = srv.backup(&["job", "show", "--id", &id]).ok().json();
    assert_eq!(one["id"], job["id"]);
    assert_eq!(one["item"], "data");
    let job_table = srv
        .backup(&["job", "show", "--id", &id, "-o", "table"])
        .ok()
        .stdout;
    assert!(job_table.starts_with("Name"), "{job_table}");
    assert!(
        job_table
            .lines()
            .nth(2)
            .is_some_and(|l| l.starts_with(&id) && l.contains("Backup") && l.contains("Completed")),
        "{job_table}"
    );
    // A finished job cannot be stopped; an unknown one is not found.
    let stop = srv.backup(&["job", "stop", "--id", &id]);
    assert_eq!(stop.code, exit::USAGE, "{stop:?}");
    let unknown = srv.backup(&["job", "stop", "--id", "999999"]);
    assert_eq!(unknown.code, exit::NOT_FOUND, "{unknown:?}");
    let waited = srv.backup(&["job", "wait", "--id", &id]).ok().json();
    assert_eq!(waited["status"], "Completed");
    let top = srv.backup(&["job", "list", "--top", "1"]).ok().json();
    assert_eq!(top.as_array().map(Vec::len), Some(1));
}

#[test]
fn errors_print_codes_and_exit_with_documented_codes() {
    let srv = Server::start();
    srv.backup(&["vault", "create", "--name", "prod"]).ok();

    // An invalid policy: the server's code, the field, exit 2.
    let bad = srv
        .backup(&[
            "policy",
            "create",
            "--vault",
            "prod",
            "--name",
            "Short",
            "--daily",
            "--daily-retention",
            "3",
        ])
        .failed(exit::USAGE, "INVALID_POLICY");
    assert!(
        bad.stderr
            .contains("Target: retentionPolicy.dailySchedule.retentionDuration.count"),
        "{}",
        bad.stderr
    );
    assert_eq!(bad.stdout, "");

    // Storage redundancy beyond LRS is accepted by name and refused for now.
    let geo = srv.backup(&[
        "vault",
        "create",
        "--name",
        "geo",
        "--storage-redundancy",
        "GeoRedundant",
    ]);
    assert_eq!(geo.code, exit::USAGE, "{geo:?}");
    assert!(geo.stderr.contains("ERROR: (NOT_SUPPORTED)"), "{geo:?}");

    // Not found: exit 4.
    let missing = srv.backup(&["vault", "show", "--name", "nosuch"]);
    assert_eq!(missing.code, exit::NOT_FOUND, "{missing:?}");
    assert!(missing.stderr.starts_with("ERROR: ("), "{missing:?}");

    // A wrong token, and none at all: exit 5.
    let wrong = srv.run(
        &["backup", "vault", "list"],
        &[("LIFEBOAT_TOKEN", "not-the-token")],
    );
    assert_eq!(wrong.code, exit::AUTH, "{wrong:?}");
    let none = srv.run(&["backup", "vault", "list"], &[]);
    assert_eq!(none.code, exit::AUTH, "{none:?}");
    assert!(none.stderr.contains("lifeboat login"), "{none:?}");

    // Nothing listening: exit 8 and a hint.
    let port = free_port();
    let down = srv.backup(&[
        "vault",
        "list",
        "--server",
        &format!("http://127.0.0.1:{port}"),
    ]);
    let down = down.failed(exit::UNREACHABLE, "SERVER_UNREACHABLE");
    assert!(
        down.stderr.contains(&format!("http://127.0.0.1:{port}")),
        "{down:?}"
    );
    assert!(down.stderr.contains("lifeboat server"), "{down:?}");

    // A vault with a protected item cannot be deleted.
    let src = srv.path("src");
    make_source(&src);
    srv.backup(&[
        "protection",
        "enable",
        "--vault",
        "prod",
        "--policy",
        "DefaultPolicy",
        "--path",
        s(&src),
        "--name",
        "data",
    ])
    .ok();
    srv.backup(&["vault", "delete", "--name", "prod", "--yes"])
        .failed(exit::USAGE, "VAULT_NOT_EMPTY");

    // Deleting backup data needs confirmation; without a terminal, --yes.
    srv.backup(&[
        "protection",
        "disable",
        "--vault",
        "prod",
        "--item",
        "data",
        "--delete-data",
    ])
    .failed(exit::USAGE, "NOT_CONFIRMED");
    srv.backup(&["item", "show", "--vault", "prod", "--name", "data"])
        .ok();

    // Client-side mistakes.
    srv.backup(&["vault", "list", "--query", "[?name=="])
        .failed(exit::USAGE, "INVALID_ARGUMENT");
    let clap = srv.backup(&["vault", "list", "-o", "xml"]);
    assert_eq!(clap.code, exit::USAGE, "{clap:?}");
    srv.backup(&[
        "protection",
        "backup-now",
        "--vault",
        "prod",
        "--item",
        "data",
        "--retain-until",
        "soon",
    ])
    .failed(exit::USAGE, "INVALID_ARGUMENT");
}

#[test]
fn policies_from_flags_and_from_json() {
    let srv = Server::start();
    srv.backup(&["vault", "create", "--name", "prod"]).ok();

    let nightly = srv
        .backup(&[
            "policy",
            "create",
            "--vault",
            "prod",
            "--name",
            "Nightly",
            "--daily",
            "--time",
            "22:00",
            "--time-zone",
            "Europe/Berlin",
            "--daily-retention",
            "30",
            "--weekly-retention",
            "12",
            "--weekly-days",
            "Sun",
            "--monthly-retention",
            "12",
            "--yearly-retention",
            "5",
            "--instant-restore-days",
            "2",
        ])
        .ok()
        .json();
    let p = &nightly["properties"];
    assert_eq!(p["timeZone"], "Europe/Berlin");
    assert_eq!(p["schedulePolicy"]["scheduleRunFrequency"], "Daily");
    let r = &p["retentionPolicy"];
    assert_eq!(r["dailySchedule"]["retentionDuration"]["count"], 30);
    assert_eq!(r["weeklySchedule"]["retentionDuration"]["count"], 12);
    assert_eq!(r["weeklySchedule"]["daysOfTheWeek"], json!(["Sunday"]));
    assert_eq!(r["monthlySchedule"]["retentionDuration"]["count"], 12);
    assert_eq!(r["yearlySchedule"]["retentionDuration"]["count"], 5);

    // set edits the server's copy with the flags given.
    srv.backup(&[
        "policy",
        "set",
        "--vault",
        "prod",
        "--name",
        "Nightly",
        "--daily-retention",
        "60",
    ])
    .ok();
    let count = srv
        .backup(&[
            "policy",
            "show",
            "--vault",
            "prod",
            "--name",
            "Nightly",
            "--query",
            "properties.retentionPolicy.dailySchedule.retentionDuration.count",
            "-o",
            "tsv",
        ])
        .ok()
        .stdout;
    assert_eq!(count, "60\n");
    let weekly_kept = srv
        .backup(&[
            "policy",
            "show",
            "--vault",
            "prod",
            "--name",
            "Nightly",
            "--query",
            "properties.retentionPolicy.weeklySchedule.retentionDuration.count",
        ])
        .ok()
        .json();
    assert_eq!(weekly_kept, json!(12));

    let hourly = srv
        .backup(&[
            "policy",
            "create",
            "--vault",
            "prod",
            "--name",
            "Hourly",
            "--hourly",
            "--interval",
            "4",
            "--window-start",
            "08:00",
            "--window-hours",
            "12",
            "--daily-retention",
            "14",
        ])
        .ok()
        .json();
    assert_eq!(hourly["properties"]["policyType"], "V2");
    assert_eq!(
        hourly["properties"]["schedulePolicy"]["hourlySchedule"]["interval"],
        4
    );

    let weekly = srv
        .backup(&[
            "policy",
            "create",
            "--vault",
            "prod",
            "--name",
            "Weekly",
            "--weekly",
            "--days",
            "Sat",
            "--time",
            "23:00",
            "--weekly-retention",
            "52",
        ])
        .ok()
        .json();
    assert_eq!(
        weekly["properties"]["schedulePolicy"]["scheduleRunDays"],
        json!(["Saturday"])
    );

    // JSON from a file, as `policy show` prints it, under a new name.
    let shown = srv
        .backup(&["policy", "show", "--vault", "prod", "--name", "Nightly"])
        .ok()
        .json();
    let file = srv.path("policy.json");
    std::fs::write(
        &file,
        serde_json::to_string(&json!({"name": "FromFile", "properties": shown["properties"]}))
            .expect("json"),
    )
    .expect("write policy file");
    let from_file = srv
        .backup(&[
            "policy",
            "create",
            "--vault",
            "prod",
            "--policy",
            &format!("@{}", s(&file)),
        ])
        .ok()
        .json();
    assert_eq!(from_file["name"], "FromFile");
    assert_eq!(
        from_file["properties"]["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"],
        60
    );
    // Inline JSON with an out-of-range value: refused by the server.
    let inline = r#"{"schedulePolicy":{"scheduleRunFrequency":"Daily","scheduleRunTimes":["22:15"]},
        "retentionPolicy":{"dailySchedule":{"retentionDuration":{"count":30,"durationType":"Days"}}}}"#;
    srv.backup(&[
        "policy", "create", "--vault", "prod", "--name", "Odd", "--policy", inline,
    ])
    .failed(exit::USAGE, "INVALID_POLICY");

    let table = srv
        .backup(&["policy", "list", "--vault", "prod", "-o", "table"])
        .ok()
        .stdout;
    for name in ["DefaultPolicy", "Nightly", "Hourly", "Weekly", "FromFile"] {
        assert!(
            table.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name} in\n{table}"
        );
    }
    srv.backup(&["policy", "delete", "--vault", "prod", "--name", "FromFile"])
        .ok();
    let left = srv
        .backup(&["policy", "list", "--vault", "prod", "--query", "[].name"])
        .ok()
        .json();
    assert!(
        !left.as_array().expect("list").contains(&json!("FromFile")),
        "{left}"
    );
}

#[test]
fn login_then_stop_resume_and_delete_protection() {
    let srv = Server::start();

    // A wrong token is refused and nothing is saved.
    let wrong = srv.run(
        &["login", "--server", &srv.url, "--token", "wrong-token"],
        &[("LIFEBOAT_SERVER", "")],
    );
    assert_eq!(wrong.code, exit::AUTH, "{wrong:?}");
    let cfg = srv.path("config").join("lifeboat").join("config.json");
    assert!(!cfg.exists());

    // No token and no terminal to ask on: a usage error, not a hang.
    srv.run(&["login", "--server", &srv.url], &[("LIFEBOAT_SERVER", "")])
        .failed(exit::USAGE, "INVALID_ARGUMENT");
    assert!(!cfg.exists());

    srv.run_input(
        &["login", "--server", &srv.url, "--token-stdin"],
        &[("LIFEBOAT_SERVER", "")],
        Some(&format!("{TOKEN}\n")),
    )
    .ok();
    let mode = std::fs::metadata(&cfg)
        .expect("config written")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg).expect("read config")).expect("json");
    assert_eq!(saved["server"], srv.url.as_str());
    assert_eq!(saved["tokens"][srv.url.as_str()], TOKEN);

    // From now on neither the server nor the token needs to be given.
    let as_user = |args: &[&str]| srv.run(&prepend("backup", args), &[("LIFEBOAT_SERVER", "")]);
    as_user(&["vault", "create", "--name", "prod"]).ok();
    as_user(&[
        "policy",
        "create",
        "--vault",
        "prod",
        "--name",
        "Other",
        "--daily",
        "--time",
        "03:00",
        "--time-zone",
        "UTC",
        "--daily-retention",
        "7",
    ])
    .ok();
    let src = srv.path("src");
    make_source(&src);
    as_user(&[
        "protection",
        "enable",
        "--vault",
        "prod",
        "--policy",
        "DefaultPolicy",
        "--path",
        s(&src),
        "--name",
        "data",
    ])
    .ok();

    let state = |srv: &Server| {
        srv.backup(&["item", "show", "--vault", "prod", "--name", "data"])
            .ok()
            .json()
    };
    let stopped = as_user(&[
        "protection",
        "disable",
        "--vault",
        "prod",
        "--item",
        "data",
        "--retain-data",
    ])
    .ok()
    .json();
    assert_eq!(stopped["protectionState"], "ProtectionStopped", "{stopped}");
    assert_eq!(state(&srv)["protectionState"], "ProtectionStopped");

    let resumed = as_user(&[
        "protection",
        "resume",
        "--vault",
        "prod",
        "--item",
        "data",
        "--policy",
        "DefaultPolicy",
    ])
    .ok()
    .json();
    assert_eq!(resumed["protectionState"], "Protected", "{resumed}");

    let moved = as_user(&[
        "item",
        "set-policy",
        "--vault",
        "prod",
        "--name",
        "data",
        "--policy",
        "Other",
    ])
    .ok()
    .json();
    assert_eq!(moved["policyName"], "Other", "{moved}");

    as_user(&[
        "protection",
        "disable",
        "--vault",
        "prod",
        "--item",
        "data",
        "--retain-as-per-policy",
    ])
    .ok();
    assert_eq!(state(&srv)["protectionState"], "BackupsSuspended");

    let deleted = as_user(&[
        "protection",
        "disable",
        "--vault",
        "prod",
        "--item",
        "data",
        "--delete-data",
        "--yes",
        "--wait",
    ])
    .ok()
    .json();
    assert_eq!(deleted["jobType"], "DeleteBackupData", "{deleted}");
    assert_eq!(deleted["status"], "Completed", "{deleted}");
    // Soft delete is on by default: the item is soft-deleted, with times.
    let soft = as_user(&["item", "show", "--vault", "prod", "--name", "data"])
        .ok()
        .json();
    assert_eq!(soft["protectionState"], "SoftDeleted", "{soft}");
    assert!(soft["purgeTime"].is_string(), "{soft}");
    let table = as_user(&["item", "list", "--vault", "prod", "-o", "table"]).ok();
    assert!(table.stdout.contains("PurgeTime"), "{}", table.stdout);
    assert!(table.stdout.contains("SoftDeleted"), "{}", table.stdout);

    // Undelete, resume, and the soft-delete and immutability settings.
    let back = as_user(&[
        "protection",
        "undelete",
        "--vault",
        "prod",
        "--item",
        "data",
    ])
    .ok()
    .json();
    assert_eq!(back["protectionState"], "ProtectionStopped", "{back}");
    as_user(&[
        "protection",
        "undelete",
        "--vault",
        "prod",
        "--item",
        "data",
    ])
    .failed(exit::USAGE, "INVALID_ITEM_STATE");
    as_user(&["vault", "update", "--name", "prod"]).failed(exit::USAGE, "INVALID_ARGUMENT");
    let v = as_user(&[
        "vault",
        "update",
        "--name",
        "prod",
        "--soft-delete",
        "AlwaysON",
        "--soft-delete-days",
        "21",
    ])
    .ok()
    .json();
    let sd = &v["properties"]["securitySettings"]["softDeleteSettings"];
    assert_eq!(sd["softDeleteState"], "AlwaysON", "{v}");
    assert_eq!(sd["softDeleteRetentionPeriodInDays"], 21, "{v}");
    as_user(&[
        "vault",
        "update",
        "--name",
        "prod",
        "--soft-delete",
        "Disabled",
    ])
    .failed(exit::USAGE, "SOFT_DELETE_ALWAYS_ON");
    as_user(&[
        "vault",
        "update",
        "--name",
        "prod",
        "--immutability",
        "Locked",
    ])
    .failed(exit::USAGE, "IMMUTABILITY_NOT_UNLOCKED");
    as_user(&[
        "vault",
        "update",
        "--name",
        "prod",
        "--immutability",
        "Unlocked",
    ])
    .ok();
    as_user(&[
        "vault",
        "update",
        "--name",
        "prod",
        "--immutability",
        "Disabled",
    ])
    .ok();

    // Delete again; the vault holds only a soft-deleted item, so deleting
    // it soft-deletes it too, and it can come back.
    as_user(&[
        "protection",
        "disable",
        "--vault",
        "prod",
        "--item",
        "data",
        "--delete-data",
        "--yes",
        "--wait",
    ])
    .ok();
    as_user(&["vault", "delete", "--name", "prod", "--yes"]).ok();
    assert_eq!(as_user(&["vault", "list"]).ok().json(), json!([]));
    let dv = as_user(&["deleted-vault", "list"]).ok().json();
    assert_eq!(dv[0]["name"], "prod", "{dv}");
    let shown = as_user(&["deleted-vault", "show", "--name", "prod"])
        .ok()
        .json();
    assert!(shown["purgeTime"].is_string(), "{shown}");
    let gone = as_user(&["deleted-vault", "show", "--name", "nope"]);
    assert_eq!(gone.code, exit::NOT_FOUND, "{gone:?}");
    as_user(&["deleted-vault", "undelete", "--name", "prod"]).ok();
    assert_eq!(as_user(&["vault", "list"]).ok().json()[0]["name"], "prod");
    let pts = as_user(&[
        "recoverypoint",
        "list",
        "--vault",
        "prod",
        "--item",
        "data",
        "--include-deleted",
    ])
    .ok()
    .json();
    assert!(pts.is_array(), "{pts}");
}

#[test]
fn lists_follow_next_link_across_pages() {
    let srv = Server::start();
    let mut want = Vec::new();
    for i in 0..5 {
        let name = format!("v{i}");
        srv.backup(&["vault", "create", "--name", &name, "--kind", "backup"])
            .ok();
        want.push(name);
    }
    let paged = srv.run(
        &["backup", "vault", "list", "--query", "[].name"],
        &[("LIFEBOAT_TOKEN", TOKEN), ("LIFEBOAT_PAGE_SIZE", "2")],
    );
    let mut got: Vec<String> = serde_json::from_str(&paged.ok().stdout).expect("json list");
    got.sort();
    assert_eq!(got, want);
    let top = srv.run(
        &["backup", "vault", "list", "--top", "3"],
        &[("LIFEBOAT_TOKEN", TOKEN), ("LIFEBOAT_PAGE_SIZE", "2")],
    );
    assert_eq!(top.ok().json().as_array().map(Vec::len), Some(3));
}

#[test]
fn restores_honour_conflicts_includes_and_disk_images() {
    let srv = Server::start();
    srv.backup(&["vault", "create", "--name", "prod"]).ok();
    let src = srv.path("src");
    make_source(&src);
    srv.backup(&[
        "protection",
        "enable",
        "--vault",
        "prod",
        "--policy",
        "DefaultPolicy",
        "--path",
        s(&src),
        "--name",
        "data",
    ])
    .ok();
    let job = srv
        .backup(&[
            "protection",
            "backup-now",
            "--vault",
            "prod",
            "--item",
            "data",
            "--retain-until",
            "31-12-2030",
            "--wait",
            "-o",
            "jsonc",
        ])
        .ok();
    // jsonc without a terminal is plain json.
    assert_eq!(job.json()["status"], "Completed");
    assert!(!job.stdout.contains('\x1b'), "{}", job.stdout);
    let expiry = srv
        .backup(&[
            "recoverypoint",
            "show",
            "--vault",
            "prod",
            "--item",
            "data",
            "--point",
            "latest",
            "--query",
            "expiryTime",
            "-o",
            "tsv",
        ])
        .ok()
        .stdout;
    assert!(expiry.starts_with("2030-12-31T23:59:59"), "{expiry}");

    let restore = |target: &Path, extra: &[&str]| {
        let mut args = vec![
            "restore",
            "files",
            "--vault",
            "prod",
            "--item",
            "data",
            "--point",
            "latest",
            "--target-path",
            s(target),
            "--wait",
        ];
        args.extend_from_slice(extra);
        srv.backup(&args)
    };
    let target = srv.path("restored");
    let root = restored_root(&target, &src);
    restore(&target, &[]).ok();
    assert_eq!(tree(&root), tree(&src));

    // Existing files: fail (the default), skip, overwrite.
    let again = restore(&target, &[]).failed(1, "TARGET_EXISTS");
    assert_eq!(again.json()["status"], "Failed");
    assert!(again.stderr.contains("ended Failed"), "{}", again.stderr);
    std::fs::write(root.join("etc/app.conf"), b"edited\n").expect("edit");
    restore(&target, &["--skip-existing"]).ok();
    assert_eq!(
        std::fs::read(root.join("etc/app.conf")).expect("read"),
        b"edited\n"
    );
    restore(&target, &["--overwrite"]).ok();
    assert_eq!(tree(&root), tree(&src));

    // A subset.
    let part = srv.path("part");
    restore(&part, &["--include", "etc"]).ok();
    let want: BTreeMap<_, _> = tree(&src)
        .into_iter()
        .filter(|(k, _)| k == "etc" || k.starts_with("etc/"))
        .collect();
    assert_eq!(tree(&restored_root(&part, &src)), want);

    // A disk image, with a hole, restored to a new file.
    let image = srv.path("disk.raw");
    {
        let mut data = vec![0u8; 3 * 1024 * 1024];
        let mut x: u32 = 12345;
        for (i, b) in data.iter_mut().enumerate() {
            // Data in the first and last MiB, zeros between.
            if !(1024 * 1024..2 * 1024 * 1024).contains(&i) {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                *b = (x >> 16) as u8;
            }
        }
        std::fs::write(&image, &data).expect("write image");
    }
    srv.backup(&[
        "protection",
        "enable",
        "--vault",
        "prod",
        "--policy",
        "DefaultPolicy",
        "--disk",
        s(&image),
        "--name",
        "disk",
    ])
    .ok();
    srv.backup(&[
        "protection",
        "backup-now",
        "--vault",
        "prod",
        "--item",
        "disk",
        "--wait",
    ])
    .ok();
    let out = srv.path("out/disk-restored.raw");
    let disk_restore = |extra: &[&str]| {
        let mut args = vec![
            "restore",
            "disk",
            "--vault",
            "prod",
            "--item",
            "disk",
            "--point",
            "latest",
            "--target-file",
            s(&out),
            "--wait",
        ];
        args.extend_from_slice(extra);
        srv.backup(&args)
    };
    let done = disk_restore(&[]).ok().json();
    assert_eq!(done["jobType"], "Restore");
    assert_eq!(
        std::fs::read(&out).expect("restored image"),
        std::fs::read(&image).expect("image")
    );
    disk_restore(&[]).failed(1, "TARGET_EXISTS");
}

/// A PostgreSQL database of its own for one test, dropped at the end.
/// The server comes from LIFEBOAT_TEST_POSTGRES (default: the local one).
struct PgDb {
    admin: String,
    name: String,
    url: String,
}

fn pg_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

impl PgDb {
    fn new() -> PgDb {
        use sqlx::Connection;
        let admin = std::env::var("LIFEBOAT_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("lifeboat_test_cli_{}_{nanos}", std::process::id());
        pg_runtime().block_on(async {
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .unwrap_or_else(|e| {
                    panic!("PostgreSQL is unreachable at {admin}: {e}; start it or set LIFEBOAT_TEST_POSTGRES")
                });
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
            let _ = conn.close().await;
        });
        // Same server and credentials, the new database.
        let (base, query) = match admin.split_once('?') {
            Some((b, q)) => (b.to_owned(), format!("?{q}")),
            None => (admin.clone(), String::new()),
        };
        let host_end = base
            .find("://")
            .map(|i| i + 3)
            .and_then(|start| base[start..].find('/').map(|j| start + j))
            .unwrap_or(base.len());
        let url = format!("{}/{name}{query}", &base[..host_end]);
        PgDb { admin, name, url }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        use sqlx::Connection;
        let result = pg_runtime().block_on(async {
            let mut c = sqlx::PgConnection::connect(&self.admin).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .execute(&mut c)
            .await?;
            Ok::<_, sqlx::Error>(())
        });
        if let Err(e) = result {
            eprintln!("warning: could not drop test database {}: {e}", self.name);
        }
    }
}

#[test]
fn the_cli_drives_a_server_on_postgresql() {
    let db = PgDb::new();
    let srv = Server::start_with(Some(&db.url));
    srv.backup(&["vault", "create", "--name", "prod"]).ok();
    let src = srv.path("src");
    make_source(&src);
    srv.backup(&[
        "protection",
        "enable",
        "--vault",
        "prod",
        "--policy",
        "DefaultPolicy",
        "--path",
        s(&src),
        "--name",
        "data",
    ])
    .ok();
    let job = srv
        .backup(&[
            "protection",
            "backup-now",
            "--vault",
            "prod",
            "--item",
            "data",
            "--wait",
        ])
        .ok()
        .json();
    assert_eq!(job["status"], "Completed", "{job}");
    let points = srv
        .backup(&[
            "recoverypoint",
            "list",
            "--vault",
            "prod",
            "--item",
            "data",
            "-o",
            "table",
        ])
        .ok()
        .stdout;
    assert_eq!(points.lines().count(), 3, "{points}");
    let target = srv.path("restored");
    srv.backup(&[
        "restore",
        "files",
        "--vault",
        "prod",
        "--item",
        "data",
        "--point",
        "latest",
        "--target-path",
        s(&target),
        "--wait",
    ])
    .ok();
    assert_eq!(tree(&restored_root(&target, &src)), tree(&src));
    let statuses = srv
        .backup(&[
            "job",
            "list",
            "--vault",
            "prod",
            "--query",
            "[].[jobType, status]",
            "-o",
            "tsv",
        ])
        .ok()
        .stdout;
    let mut lines: Vec<&str> = statuses.lines().collect();
    lines.sort();
    assert_eq!(lines, ["Backup\tCompleted", "Restore\tCompleted"]);
    srv.backup(&["vault", "delete", "--name", "prod", "--yes"])
        .failed(exit::USAGE, "VAULT_NOT_EMPTY");
    drop(srv);
}

#[test]
fn waiting_rides_out_a_server_restart() {
    let mut srv = Server::start();
    srv.backup(&["vault", "create", "--name", "prod"]).ok();
    let src = srv.path("src");
    make_source(&src);
    srv.backup(&[
        "protection",
        "enable",
        "--vault",
        "prod",
        "--policy",
        "DefaultPolicy",
        "--path",
        s(&src),
        "--name",
        "data",
    ])
    .ok();
    let job = srv
        .backup(&[
            "protection",
            "backup-now",
            "--vault",
            "prod",
            "--item",
            "data",
            "--wait",
        ])
        .ok()
        .json();
    let id = job["id"].to_string();

    // The server is down when `job wait` starts and comes back while it waits.
    srv.kill();
    let mut cmd = Command::new(bin());
    cmd.args(["backup", "job", "wait", "--id", &id])
        .env("XDG_CONFIG_HOME", srv.path("config"))
        .env("HOME", srv.path("home"))
        .env("LIFEBOAT_SERVER", &srv.url)
        .env("LIFEBOAT_TOKEN", TOKEN)
        .env_remove("LIFEBOAT_OUTPUT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run lifeboat job wait");
    let mut stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    // Restart only once the waiter has found the server gone (it gives up
    // by itself after its retries, so this read cannot hang).
    let mut lines = std::io::BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("stderr line");
        let found = line.contains("still waiting for job");
        seen.push(line);
        if found {
            break;
        }
    }
    assert!(
        seen.last()
            .is_some_and(|l| l.starts_with("WARNING: cannot reach")),
        "{seen:?}"
    );
    srv.restart();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().expect("wait for job wait");
    let out = out_t.join().expect("stdout reader");
    assert_eq!(status.code(), Some(exit::OK), "{out}\n{rest:?}");
    let job: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(job["status"], "Completed");

    // With the server gone, a plain command fails at once with exit 8.
    srv.kill();
    srv.backup(&["vault", "list"])
        .failed(exit::UNREACHABLE, "SERVER_UNREACHABLE");
}
