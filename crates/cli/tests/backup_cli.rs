//! `lifeboat backup …` and `lifeboat login` against a real `lifeboat server`
//! (SQLite catalog in a temporary data folder, an ephemeral loopback port,
//! the administrator token from LIFEBOAT_ADMIN_TOKEN), driven through the
//! real binary: exit codes, stderr error lines and every output format are
//! checked on what the server really answers.

mod server_support;

use std::collections::BTreeMap;
use std::io::{BufRead, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{Value, json};
use server_support::{
    Cli, PgDb, Run, ServerOpts, ServerProc, TOKEN, free_port, prepend, restored_root, s, tree,
};

/// Exit codes of `lifeboat backup` (docs/cli-backup.md).
mod exit {
    pub const OK: i32 = 0;
    pub const USAGE: i32 = 2;
    pub const NOT_FOUND: i32 = 4;
    pub const AUTH: i32 = 5;
    pub const UNREACHABLE: i32 = 8;
}

/// A running `lifeboat server` with its own data folder, plus a folder for
/// the CLI's configuration and the test's files.
struct Server {
    proc: ServerProc,
    cli: Cli,
    url: String,
    dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        Server::start_with(None)
    }

    /// A server on `catalog` (a PostgreSQL URL), else SQLite in its data folder.
    fn start_with(catalog: Option<&str>) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut opts = ServerOpts::new(&dir.path().join("data"), &dir.path().join("server.log"));
        opts.catalog = catalog.map(str::to_owned);
        let proc = ServerProc::start(opts);
        let cli = Cli::new(&dir.path().join("home"));
        let url = proc.url.clone();
        Server {
            proc,
            cli,
            url,
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Where `lifeboat login` saves the server and token.
    fn config_file(&self) -> PathBuf {
        self.cli.home.join("config/lifeboat/config.json")
    }

    /// `lifeboat backup ARGS` with the server and token in the environment
    /// and a private configuration folder.
    fn backup(&self, args: &[&str]) -> Run {
        self.cli.backup(&self.proc, args)
    }

    /// `lifeboat ARGS` with extra environment (`LIFEBOAT_SERVER` is set
    /// unless `envs` overrides or the empty value removes it).
    fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        self.cli.run(&self.url, args, envs, None)
    }

    /// Like [`Server::run`], with `input` on stdin.
    fn run_input(&self, args: &[&str], envs: &[(&str, &str)], input: &str) -> Run {
        self.cli.run(&self.url, args, envs, Some(input))
    }
}

/// `protection enable` of `src` as item `data` of vault `prod` under
/// DefaultPolicy.
fn protect_args(src: &Path) -> Vec<&str> {
    enable_args("--path", src, "data")
}

/// `protection enable --vault prod --policy DefaultPolicy KIND PATH --name NAME`
/// (KIND: `--path` or `--disk`).
fn enable_args<'a>(kind: &'a str, path: &'a Path, name: &'a str) -> Vec<&'a str> {
    let mut v = vec!["protection", "enable", "--vault", "prod"];
    v.extend(["--policy", "DefaultPolicy", kind, s(path), "--name", name]);
    v
}

/// `policy VERB --vault prod --name NAME EXTRA`.
fn policy_args<'a>(verb: &'a str, name: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["policy", verb, "--vault", "prod", "--name", name];
    v.extend_from_slice(extra);
    v
}

/// `CMD --vault prod --item ITEM EXTRA`.
fn on_item<'a>(item: &'a str, cmd: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = cmd.to_vec();
    v.extend(["--vault", "prod", "--item", item]);
    v.extend_from_slice(extra);
    v
}

/// [`on_item`] on `data`, the item most tests protect.
fn on_data<'a>(cmd: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    on_item("data", cmd, extra)
}

/// `restore files` of item `data` from `point` to `target`, waiting.
fn restore_args<'a>(point: &'a str, target: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = on_data(
        &["restore", "files"],
        &["--point", point, "--target-path", s(target), "--wait"],
    );
    v.extend_from_slice(extra);
    v
}

/// Vault `prod` and the folder `src` ([`make_source`]) protected in it as
/// `data`; returns the folder.
fn protected_source(srv: &Server) -> PathBuf {
    srv.backup(&["vault", "create", "--name", "prod"]).ok();
    let src = srv.path("src");
    make_source(&src);
    srv.backup(&protect_args(&src)).ok();
    src
}

/// A folder with nested files, an empty file and a few hundred KiB of
/// pseudo-random data.
fn make_source(root: &Path) {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut bytes = |n: usize| {
        seed += 2;
        lifeboat_testkit::noise(seed, n)
    };
    std::fs::create_dir_all(root.join("etc/conf.d")).expect("mkdir");
    std::fs::create_dir_all(root.join("www/img")).expect("mkdir");
    std::fs::write(root.join("etc/app.conf"), b"port = 8080\nname = lifeboat\n").expect("write");
    std::fs::write(root.join("etc/conf.d/empty"), b"").expect("write");
    std::fs::write(root.join("www/index.html"), b"<h1>hello</h1>\n").expect("write");
    std::fs::write(root.join("www/img/blob.bin"), bytes(300 * 1024)).expect("write");
    std::fs::write(root.join("notes.txt"), bytes(4096)).expect("write");
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
    let item = srv.backup(&protect_args(&src)).ok().json();
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
        .backup(&on_data(&["protection", "backup-now"], &["--wait"]))
        .ok()
        .json();
    assert_eq!(job["status"], "Completed", "{job}");
    assert_eq!(job["jobType"], "Backup");

    let points = srv
        .backup(&on_data(&["recoverypoint", "list"], &[]))
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
        .backup(&on_data(&["recoverypoint", "show"], &["--point", "latest"]))
        .ok()
        .json();
    assert_eq!(latest["id"], point_id.as_str());
    let rp_tsv = srv
        .backup(&on_data(
            &["recoverypoint", "list"],
            &["--query", "[].[id, tier]", "-o", "tsv"],
        ))
        .ok()
        .stdout;
    assert_eq!(rp_tsv, format!("{point_id}\tvault\n"));

    let shown = srv.backup(&["vault", "show", "--name", "prod"]).ok().json();
    assert_eq!(shown["usage"]["protectedItems"], 1);
    assert_eq!(shown["usage"]["recoveryPoints"], 1);

    // Restore to an alternate folder: byte-identical.
    let target = srv.path("restored");
    let restore = srv
        .backup(&restore_args(&point_id, &target, &[]))
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
        .backup(&policy_args(
            "create",
            "Short",
            &["--daily", "--daily-retention", "3"],
        ))
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
    srv.backup(&protect_args(&src)).ok();
    srv.backup(&["vault", "delete", "--name", "prod", "--yes"])
        .failed(exit::USAGE, "VAULT_NOT_EMPTY");

    // Deleting backup data needs confirmation; without a terminal, --yes.
    srv.backup(&on_data(&["protection", "disable"], &["--delete-data"]))
        .failed(exit::USAGE, "NOT_CONFIRMED");
    srv.backup(&["item", "show", "--vault", "prod", "--name", "data"])
        .ok();

    // Client-side mistakes.
    srv.backup(&["vault", "list", "--query", "[?name=="])
        .failed(exit::USAGE, "INVALID_ARGUMENT");
    let clap = srv.backup(&["vault", "list", "-o", "xml"]);
    assert_eq!(clap.code, exit::USAGE, "{clap:?}");
    srv.backup(&on_data(
        &["protection", "backup-now"],
        &["--retain-until", "soon"],
    ))
    .failed(exit::USAGE, "INVALID_ARGUMENT");
}

#[test]
fn policies_from_flags_and_from_json() {
    let srv = Server::start();
    srv.backup(&["vault", "create", "--name", "prod"]).ok();

    let nightly = srv
        .backup(&policy_args(
            "create",
            "Nightly",
            &[
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
            ],
        ))
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
    srv.backup(&policy_args("set", "Nightly", &["--daily-retention", "60"]))
        .ok();
    let count = srv
        .backup(&policy_args(
            "show",
            "Nightly",
            &[
                "--query",
                "properties.retentionPolicy.dailySchedule.retentionDuration.count",
                "-o",
                "tsv",
            ],
        ))
        .ok()
        .stdout;
    assert_eq!(count, "60\n");
    let weekly_kept = srv
        .backup(&policy_args(
            "show",
            "Nightly",
            &[
                "--query",
                "properties.retentionPolicy.weeklySchedule.retentionDuration.count",
            ],
        ))
        .ok()
        .json();
    assert_eq!(weekly_kept, json!(12));

    let hourly = srv
        .backup(&policy_args(
            "create",
            "Hourly",
            &[
                "--hourly",
                "--interval",
                "4",
                "--window-start",
                "08:00",
                "--window-hours",
                "12",
                "--daily-retention",
                "14",
            ],
        ))
        .ok()
        .json();
    assert_eq!(hourly["properties"]["policyType"], "V2");
    assert_eq!(
        hourly["properties"]["schedulePolicy"]["hourlySchedule"]["interval"],
        4
    );

    let weekly = srv
        .backup(&policy_args(
            "create",
            "Weekly",
            &[
                "--weekly",
                "--days",
                "Sat",
                "--time",
                "23:00",
                "--weekly-retention",
                "52",
            ],
        ))
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
    let cfg = srv.config_file();
    assert!(!cfg.exists());

    // No token and no terminal to ask on: a usage error, not a hang.
    srv.run(&["login", "--server", &srv.url], &[("LIFEBOAT_SERVER", "")])
        .failed(exit::USAGE, "INVALID_ARGUMENT");
    assert!(!cfg.exists());

    srv.run_input(
        &["login", "--server", &srv.url, "--token-stdin"],
        &[("LIFEBOAT_SERVER", "")],
        &format!("{TOKEN}\n"),
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
    as_user(&policy_args(
        "create",
        "Other",
        &[
            "--daily",
            "--time",
            "03:00",
            "--time-zone",
            "UTC",
            "--daily-retention",
            "7",
        ],
    ))
    .ok();
    let src = srv.path("src");
    make_source(&src);
    as_user(&protect_args(&src)).ok();

    let state = |srv: &Server| {
        srv.backup(&["item", "show", "--vault", "prod", "--name", "data"])
            .ok()
            .json()
    };
    let stopped = as_user(&on_data(&["protection", "disable"], &["--retain-data"]))
        .ok()
        .json();
    assert_eq!(stopped["protectionState"], "ProtectionStopped", "{stopped}");
    assert_eq!(state(&srv)["protectionState"], "ProtectionStopped");

    let resumed = as_user(&on_data(
        &["protection", "resume"],
        &["--policy", "DefaultPolicy"],
    ))
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

    as_user(&on_data(
        &["protection", "disable"],
        &["--retain-as-per-policy"],
    ))
    .ok();
    assert_eq!(state(&srv)["protectionState"], "BackupsSuspended");

    let delete_data = on_data(
        &["protection", "disable"],
        &["--delete-data", "--yes", "--wait"],
    );
    let deleted = as_user(&delete_data).ok().json();
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
    let undelete = on_data(&["protection", "undelete"], &[]);
    let back = as_user(&undelete).ok().json();
    assert_eq!(back["protectionState"], "ProtectionStopped", "{back}");
    as_user(&undelete).failed(exit::USAGE, "INVALID_ITEM_STATE");
    let update = |extra: &[&str]| {
        let vault = ["vault", "update", "--name", "prod"];
        as_user(&[&vault[..], extra].concat())
    };
    update(&[]).failed(exit::USAGE, "INVALID_ARGUMENT");
    let v = update(&["--soft-delete", "AlwaysON", "--soft-delete-days", "21"])
        .ok()
        .json();
    let sd = &v["properties"]["securitySettings"]["softDeleteSettings"];
    assert_eq!(sd["softDeleteState"], "AlwaysON", "{v}");
    assert_eq!(sd["softDeleteRetentionPeriodInDays"], 21, "{v}");
    update(&["--soft-delete", "Disabled"]).failed(exit::USAGE, "SOFT_DELETE_ALWAYS_ON");
    update(&["--immutability", "Locked"]).failed(exit::USAGE, "IMMUTABILITY_NOT_UNLOCKED");
    update(&["--immutability", "Unlocked"]).ok();
    update(&["--immutability", "Disabled"]).ok();

    // Delete again; the vault holds only a soft-deleted item, so deleting
    // it soft-deletes it too, and it can come back.
    as_user(&delete_data).ok();
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
    let pts = as_user(&on_data(&["recoverypoint", "list"], &["--include-deleted"]))
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
    let src = protected_source(&srv);
    let job = srv
        .backup(&on_data(
            &["protection", "backup-now"],
            &["--retain-until", "31-12-2030", "--wait", "-o", "jsonc"],
        ))
        .ok();
    // jsonc without a terminal is plain json.
    assert_eq!(job.json()["status"], "Completed");
    assert!(!job.stdout.contains('\x1b'), "{}", job.stdout);
    let expiry = srv
        .backup(&on_data(
            &["recoverypoint", "show"],
            &["--point", "latest", "--query", "expiryTime", "-o", "tsv"],
        ))
        .ok()
        .stdout;
    assert!(expiry.starts_with("2030-12-31T23:59:59"), "{expiry}");

    let restore =
        |target: &Path, extra: &[&str]| srv.backup(&restore_args("latest", target, extra));
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
    srv.backup(&enable_args("--disk", &image, "disk")).ok();
    srv.backup(&on_item("disk", &["protection", "backup-now"], &["--wait"]))
        .ok();
    let out = srv.path("out/disk-restored.raw");
    let disk_restore = |extra: &[&str]| {
        let to = ["--point", "latest", "--target-file", s(&out), "--wait"];
        srv.backup(&on_item(
            "disk",
            &["restore", "disk"],
            &[&to[..], extra].concat(),
        ))
    };
    let done = disk_restore(&[]).ok().json();
    assert_eq!(done["jobType"], "Restore");
    assert_eq!(
        std::fs::read(&out).expect("restored image"),
        std::fs::read(&image).expect("image")
    );
    disk_restore(&[]).failed(1, "TARGET_EXISTS");
}

#[test]
fn the_cli_drives_a_server_on_postgresql() {
    let db = PgDb::create_blocking("lifeboat_test_cli");
    let srv = Server::start_with(Some(&db.url));
    let src = protected_source(&srv);
    let job = srv
        .backup(&on_data(&["protection", "backup-now"], &["--wait"]))
        .ok()
        .json();
    assert_eq!(job["status"], "Completed", "{job}");
    let points = srv
        .backup(&on_data(&["recoverypoint", "list"], &["-o", "table"]))
        .ok()
        .stdout;
    assert_eq!(points.lines().count(), 3, "{points}");
    let target = srv.path("restored");
    srv.backup(&restore_args("latest", &target, &[])).ok();
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
    protected_source(&srv);
    let job = srv
        .backup(&on_data(&["protection", "backup-now"], &["--wait"]))
        .ok()
        .json();
    let id = job["id"].to_string();

    // The server is down when `job wait` starts and comes back while it waits.
    srv.proc.kill();
    let mut cmd = srv
        .cli
        .command(&srv.url, &["backup", "job", "wait", "--id", &id]);
    cmd.env("LIFEBOAT_TOKEN", TOKEN)
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
    srv.proc.restart();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().expect("wait for job wait");
    let out = out_t.join().expect("stdout reader");
    assert_eq!(status.code(), Some(exit::OK), "{out}\n{rest:?}");
    let job: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(job["status"], "Completed");

    // With the server gone, a plain command fails at once with exit 8.
    srv.proc.kill();
    srv.backup(&["vault", "list"])
        .failed(exit::UNREACHABLE, "SERVER_UNREACHABLE");
}
