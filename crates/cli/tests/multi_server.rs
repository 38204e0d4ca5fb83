//! Two real `lifeboat server` processes on ONE PostgreSQL catalog and the
//! SAME data folder (docs/service.md, "Exactly-once scheduling, many
//! servers"), driven through the real `lifeboat backup` CLI:
//!
//! - scheduled slots (both servers read the same clock file, so both plan
//!   the same slots) and on-demand backups each run exactly once;
//! - a backup running on a server that is SIGKILLed is taken over by the
//!   other once its lease lapsed: the job ends `Failed` with `SERVER_LOST`
//!   and is queued again once (`RETRY`), the retry completes, every point
//!   the catalog lists restores byte for byte and the vault's store
//!   verifies with `--read-data`.

mod server_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::TimeDelta;
use serde_json::Value;
use server_support::*;

/// Job ids that ended in a server's log (`--log-format json`, the runner's
/// "job ended" line).
fn jobs_ended_in(log: &str) -> BTreeSet<i64> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "job ended")
        .filter_map(|v| v["fields"]["job"].as_i64())
        .collect()
}

/// Backup jobs per item (vault `prod`), as the API lists them.
fn backups_by_item(cli: &Cli, srv: &ServerProc) -> BTreeMap<String, Vec<Value>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for j in cli.jobs(srv, "prod", None) {
        if j["jobType"] == "Backup" {
            out.entry(str_of(&j, "item").to_owned())
                .or_default()
                .push(j);
        }
    }
    out
}

#[test]
fn scheduled_and_on_demand_backups_run_once_across_two_servers() {
    let db = PgDb::create_blocking("lifeboat_test_multi_once");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let clock = dir.path().join("clock");
    // 12:00 UTC; the policy below runs at 22:00 UTC.
    let t0 = utc("2026-06-01T12:00:00Z");
    set_clock(&clock, t0);
    let opts = |name: &str| ServerOpts {
        catalog: Some(db.url.clone()),
        clock_file: Some(clock.clone()),
        tick_ms: Some(200),
        ..ServerOpts::new(&data, &dir.path().join(format!("{name}.log")))
    };
    let a = ServerProc::start(opts("a"));
    let b = ServerProc::start(opts("b"));
    let servers = [&a, &b];
    let cli = Cli::new(&dir.path().join("client"));

    cli.backup(&a, &["vault", "create", "--name", "prod"]).ok();
    // Created through A, seen through B: one catalog.
    let shown = cli
        .backup(&b, &["vault", "show", "--name", "prod"])
        .ok()
        .json();
    assert_eq!(shown["name"], "prod");
    cli.backup(
        &b,
        &[
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
            "UTC",
            "--daily-retention",
            "7",
        ],
    )
    .ok();

    const ITEMS: usize = 8;
    let names: Vec<String> = (0..ITEMS).map(|i| format!("item{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        let src = dir.path().join("src").join(name);
        make_tree(&src, 100 + i as u64, 3, 48 * 1024);
        cli.backup(
            servers[i % 2],
            &[
                "protection",
                "enable",
                "--vault",
                "prod",
                "--policy",
                "Nightly",
                "--path",
                s(&src),
                "--name",
                name,
            ],
        )
        .ok();
    }

    // One on-demand backup per item, asked alternately of A and B.
    for (i, name) in names.iter().enumerate() {
        cli.backup(
            servers[i % 2],
            &[
                "protection",
                "backup-now",
                "--vault",
                "prod",
                "--item",
                name,
            ],
        )
        .ok();
    }
    let guard = Duration::from_secs(180);
    let settled = |want: usize| {
        wait_for(&format!("{want} finished backups per item"), guard, || {
            let by_item = backups_by_item(&cli, &a);
            let done = names.iter().all(|n| {
                by_item
                    .get(n)
                    .is_some_and(|js| js.len() >= want && js.iter().all(terminal))
            });
            done.then_some(by_item)
        })
    };
    let by_item = settled(1);
    for n in &names {
        let js = &by_item[n];
        assert_eq!(js.len(), 1, "{n}: {js:?}");
        assert_eq!(js[0]["status"], "Completed", "{}", js[0]);
    }

    // Two scheduled slots: 2026-06-01T22:00 and 2026-06-02T22:00. Both
    // servers plan every item from the same clock; each slot is one job.
    let slots = [utc("2026-06-01T22:00:00Z"), utc("2026-06-02T22:00:00Z")];
    for (k, slot) in slots.iter().enumerate() {
        set_clock(&clock, *slot + TimeDelta::seconds(30));
        settled(k + 2);
        // Give both schedulers many more ticks at this time: nothing more
        // may be queued.
        std::thread::sleep(Duration::from_secs(2));
        let by_item = settled(k + 2);
        for n in &names {
            let js = &by_item[n];
            assert_eq!(js.len(), k + 2, "{n}: one job per slot: {js:?}");
            // Newest first: the newest is this slot's.
            let j = &js[0];
            assert_eq!(j["status"], "Completed", "{j}");
            assert_eq!(time_of(j, "queuedTime"), *slot, "{j}");
        }
    }

    // Every backup ran on exactly one of the two servers.
    let all: BTreeSet<i64> = backups_by_item(&cli, &b)
        .values()
        .flatten()
        .map(|j| j["id"].as_i64().expect("job id"))
        .collect();
    assert_eq!(all.len(), ITEMS * 3);
    let on_a = jobs_ended_in(&a.log());
    let on_b = jobs_ended_in(&b.log());
    for id in &all {
        assert!(
            on_a.contains(id) ^ on_b.contains(id),
            "job {id} should have ended on exactly one server (A: {}, B: {})",
            on_a.contains(id),
            on_b.contains(id)
        );
    }
    eprintln!(
        "backups run by A: {}, by B: {}",
        all.intersection(&on_a).count(),
        all.intersection(&on_b).count()
    );

    // And each item has a point per job, listed the same by both servers.
    for n in &names {
        let pa = cli.points(&a, "prod", n);
        let pb = cli.points(&b, "prod", n);
        assert_eq!(pa.len(), 3, "{n}: {pa:?}");
        assert_eq!(pa, pb);
    }
}

#[test]
fn a_backup_on_a_killed_server_is_taken_over_by_the_other() {
    let db = PgDb::create_blocking("lifeboat_test_multi_takeover");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    // System clock; a 4 s lease (renewed every second) so that the
    // survivor takes over soon after the kill; backups read at most
    // 8 MiB/s, so the big one runs for about 8 s and the kill lands in
    // the middle of it whatever the machine's speed.
    let opts = |name: &str| ServerOpts {
        catalog: Some(db.url.clone()),
        job_lease_secs: Some(4),
        tick_ms: Some(200),
        backup_read_limit: Some(8),
        ..ServerOpts::new(&data, &dir.path().join(format!("{name}.log")))
    };
    let mut a = ServerProc::start(opts("a"));
    let mut b = ServerProc::start(opts("b"));
    let cli = Cli::new(&dir.path().join("client"));

    cli.backup(&a, &["vault", "create", "--name", "prod"]).ok();
    // 64 MiB of incompressible data: at the read cap the backup runs long
    // enough to be killed in the middle.
    let big = dir.path().join("big");
    make_tree(&big, 7, 16, 4 * 1024 * 1024);
    let small = dir.path().join("small");
    make_tree(&small, 8, 2, 64 * 1024);
    for (src, name) in [(&big, "big"), (&small, "small")] {
        cli.protect_path(&a, src, name);
    }

    let job = cli
        .backup(
            &b,
            &[
                "protection",
                "backup-now",
                "--vault",
                "prod",
                "--item",
                "big",
            ],
        )
        .ok()
        .json();
    let id = job["id"].as_i64().expect("job id").to_string();
    let show = |srv: &ServerProc| cli.backup(srv, &["job", "show", "--id", &id]).ok().json();
    // Wait until the transfer has reported progress, so the kill lands in
    // the middle of it; whichever server claimed the job runs it, and its
    // /metrics says so.
    wait_for("the big backup's transfer", Duration::from_secs(60), || {
        let j = show(&a);
        assert!(!terminal(&j), "the backup ended before the kill: {j}");
        (j["status"] == "InProgress" && j["progress"]["bytesDone"].as_u64() > Some(0)).then_some(())
    });
    let a_runs = a.metric("lifeboat_running_jobs") == Some(1.0);
    let b_runs = b.metric("lifeboat_running_jobs") == Some(1.0);
    assert!(a_runs ^ b_runs, "exactly one server runs the job");
    let (victim, survivor) = if a_runs {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    let victim_pid = victim.pid();
    victim.kill();
    assert!(!victim.alive());
    let held = show(survivor);
    eprintln!(
        "killed server pid {victim_pid} with the job at {}",
        held["progress"]
    );
    assert_eq!(
        held["status"], "InProgress",
        "the backup must still run when its server is killed (make the source bigger?): {held}"
    );
    assert!(
        held["progress"]["bytesTotal"].is_null()
            || held["progress"]["bytesDone"].as_u64() < held["progress"]["bytesTotal"].as_u64(),
        "{held}"
    );

    // The survivor keeps serving and running jobs meanwhile.
    let small_job = cli
        .backup(
            survivor,
            &[
                "protection",
                "backup-now",
                "--vault",
                "prod",
                "--item",
                "small",
                "--wait",
            ],
        )
        .ok()
        .json();
    assert_eq!(small_job["status"], "Completed", "{small_job}");

    // Once the lease lapsed the survivor takes the job over: the backup
    // fails with SERVER_LOST naming the dead server, and is queued again
    // once with a RETRY warning (docs/service.md, "Taking over").
    let lost = wait_for("the takeover", Duration::from_secs(120), || {
        let j = show(survivor);
        terminal(&j).then_some(j)
    });
    assert_eq!(lost["status"], "Failed", "{lost}");
    assert_eq!(codes(&lost, "errors"), ["SERVER_LOST"], "{lost}");
    let why = lost["errors"][0]["errorString"].as_str().unwrap_or("");
    assert!(
        why.contains(&format!(":{victim_pid}:")),
        "the error names the lost server (pid {victim_pid}): {why}"
    );

    let retry = wait_for("the retry to end", Duration::from_secs(180), || {
        let js: Vec<Value> = cli
            .jobs(survivor, "prod", Some("big"))
            .into_iter()
            .filter(|j| j["jobType"] == "Backup")
            .collect();
        assert!(js.len() <= 2, "queued again once, not more: {js:?}");
        (js.len() == 2 && terminal(&js[0])).then(|| js[0].clone())
    });
    assert_ne!(retry["id"], lost["id"]);
    assert!(
        matches!(
            retry["status"].as_str(),
            Some("Completed" | "CompletedWithWarnings")
        ),
        "{retry}"
    );
    assert_eq!(codes(&retry, "warnings"), ["RETRY"], "{retry}");
    eprintln!("the retry took {}", retry["duration"]);
    assert!(codes(&retry, "errors").is_empty(), "{retry}");

    // Every point the catalog lists restores, byte for byte.
    for (src, name) in [(&big, "big"), (&small, "small")] {
        let points = cli.points(survivor, "prod", name);
        assert!(!points.is_empty(), "{name} has a point");
        for (k, p) in points.iter().enumerate() {
            let target = dir.path().join(format!("restore-{name}-{k}"));
            let done = cli
                .backup(
                    survivor,
                    &[
                        "restore",
                        "files",
                        "--vault",
                        "prod",
                        "--item",
                        name,
                        "--point",
                        str_of(p, "id"),
                        "--target-path",
                        s(&target),
                        "--wait",
                    ],
                )
                .ok()
                .json();
            assert_eq!(done["status"], "Completed", "{done}");
            assert!(
                tree(&restored_root(&target, src)) == tree(src),
                "point {} of {name} restores the source",
                p["id"]
            );
            std::fs::remove_dir_all(&target).expect("remove restore");
        }
    }

    // The store itself: every byte of every point reads back, and every
    // point row names a point the store has.
    let (store, key) = only_vault_store(&data);
    let verify = cli
        .store(&[
            "verify",
            "--vault",
            s(&store),
            "--passphrase-file",
            s(&key),
            "--read-data",
        ])
        .ok();
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    let listed = cli
        .store(&[
            "points",
            "--vault",
            s(&store),
            "--passphrase-file",
            s(&key),
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(listed["unreadable"], serde_json::json!([]), "{listed}");
    let store_points: BTreeSet<String> = as_list(listed["points"].clone())
        .iter()
        .map(|p| str_of(p, "id").to_owned())
        .collect();
    for name in ["big", "small"] {
        for p in cli.points(survivor, "prod", name) {
            let id = str_of(&p, "id");
            assert!(
                store_points.iter().any(|sp| sp == id),
                "row {id} names a store point: {store_points:?}"
            );
        }
    }
}
