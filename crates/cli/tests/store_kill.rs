//! Crash safety: SIGKILL `lifeboat store backup`, `forget` and `gc` at many
//! random moments. After every kill the vault must verify with
//! `--read-data`, every point in it must restore exactly, and the next backup
//! must succeed.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{Env, Rng, restored_root};

/// path → content of every file under `root` (relative paths).
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let e = e.expect("entry");
            let p = e.path();
            if e.file_type().expect("type").is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .expect("under root")
                    .display()
                    .to_string();
                out.insert(rel, std::fs::read(&p).expect("read"));
            }
        }
    }
    out
}

/// Changes a few files and adds one, so each backup has new data to write.
fn mutate(src: &Path, rng: &mut Rng, round: usize) {
    for i in 0..3 {
        let n = rng.below(40);
        let p = src.join(format!("d{}", n % 4)).join(format!("f{n}.bin"));
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        let size = 20_000 + rng.below(400_000) as usize;
        std::fs::write(&p, rng.bytes(size)).expect("write");
        let _ = i;
    }
    let big = src.join(format!("new{round}.bin"));
    let size = 1_500_000 + rng.below(1_500_000) as usize;
    std::fs::write(&big, rng.bytes(size)).expect("write");
    // Keep the tree from growing without bound.
    if round >= 4 {
        let _ = std::fs::remove_file(src.join(format!("new{}.bin", round - 4)));
    }
}

/// Every point in the vault restores to exactly what was backed up.
fn check_all_points(
    env: &Env,
    expected: &HashMap<String, BTreeMap<String, Vec<u8>>>,
    src: &Path,
    ctx: &str,
) {
    let points = env.ok_json(&["points"]);
    let list = points["points"].as_array().expect("points array");
    assert!(
        points["unreadable"]
            .as_array()
            .is_some_and(|u| u.is_empty()),
        "{ctx}: unreadable points"
    );
    for p in list {
        let id = p["id"].as_str().expect("id").to_string();
        let want = expected.get(&id).unwrap_or_else(|| {
            panic!("{ctx}: point {id} appeared that no backup attempt explains")
        });
        let target = env.path("restore");
        let _ = std::fs::remove_dir_all(&target);
        env.ok_json(&["restore", &id, "--target", target.to_str().expect("utf8")]);
        let got = snapshot(&restored_root(&target, src));
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{ctx}: point {id} file list"
        );
        for (k, v) in want {
            assert!(got[k] == *v, "{ctx}: point {id} file {k} differs");
        }
    }
}

fn verify_clean(env: &Env, ctx: &str) {
    let out = env
        .cmd(&["verify", "--read-data", "-o", "json"])
        .output()
        .expect("verify");
    assert!(
        out.status.success(),
        "{ctx}: verify --read-data failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// New point ids after an operation, mapped to the source state it backed up.
fn record_new_points(
    env: &Env,
    expected: &mut HashMap<String, BTreeMap<String, Vec<u8>>>,
    state: &BTreeMap<String, Vec<u8>>,
) {
    let points = env.ok_json(&["points"]);
    for p in points["points"].as_array().expect("points") {
        let id = p["id"].as_str().expect("id").to_string();
        expected.entry(id).or_insert_with(|| state.clone());
    }
}

fn kill_after(mut cmd: Command, delay: Duration) -> bool {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    while start.elapsed() < delay {
        if let Ok(Some(_)) = child.try_wait() {
            return false; // finished before the kill
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    let _ = child.kill();
    let _ = child.wait();
    true
}

#[test]
fn sigkill_at_random_moments_leaves_a_consistent_vault() {
    let env = Env::new();
    let src = env.path("src");
    let seed = std::env::var("LIFEBOAT_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_u64);
    let rounds: usize = std::env::var("LIFEBOAT_KILL_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);
    let mut rng = Rng(seed);
    eprintln!(
        "kill test: seed {seed:#x}, {rounds} rounds (LIFEBOAT_KILL_SEED / LIFEBOAT_KILL_ROUNDS)"
    );
    for i in 0..40u64 {
        let p = src.join(format!("d{}", i % 4)).join(format!("f{i}.bin"));
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        let size = rng.below(300_000) as usize;
        std::fs::write(&p, rng.bytes(size)).expect("write");
    }
    // Small packs: a backup writes several, so kills land between them.
    let st = env
        .cmd(&["init", "--pack-size-mib", "1"])
        .output()
        .expect("init");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let src_s = src.to_str().expect("utf8").to_string();

    let mut expected: HashMap<String, BTreeMap<String, Vec<u8>>> = HashMap::new();
    // Time each operation once so kill delays spread over its whole run.
    let t0 = Instant::now();
    env.ok_json(&["backup", &src_s]);
    let backup_time = t0.elapsed();
    record_new_points(&env, &mut expected, &snapshot(&src));
    let t0 = Instant::now();
    env.ok_json(&["gc"]);
    let gc_time = t0.elapsed();
    let t0 = Instant::now();
    env.ok_json(&["forget", "--keep-last", "3"]);
    let forget_time = t0.elapsed();
    // Kill somewhere in the first 90% of a typical run.
    let within = |rng: &mut Rng, d: Duration| {
        Duration::from_micros(rng.below(d.as_micros() as u64 * 9 / 10))
    };

    let mut kills = 0;
    for round in 0..rounds {
        let op = rng.below(3);
        let ctx = format!("round {round} (seed {seed:#x})");
        match op {
            0 => {
                mutate(&src, &mut rng, round);
                let state = snapshot(&src);
                let delay = within(&mut rng, backup_time);
                let mut c = env.cmd(&["backup", &src_s]);
                c.arg("-o").arg("json");
                if kill_after(c, delay) {
                    kills += 1;
                }
                record_new_points(&env, &mut expected, &state);
            }
            1 => {
                let delay = within(&mut rng, forget_time);
                if kill_after(env.cmd(&["forget", "--keep-last", "3"]), delay) {
                    kills += 1;
                }
            }
            _ => {
                let delay = within(&mut rng, gc_time);
                if kill_after(env.cmd(&["gc"]), delay) {
                    kills += 1;
                }
            }
        }
        verify_clean(&env, &ctx);
        if round % 8 == 0 || round + 1 == rounds {
            check_all_points(&env, &expected, &src, &ctx);
        }
        // The next backup always succeeds.
        if op == 0 {
            let state = snapshot(&src);
            env.ok_json(&["backup", &src_s]);
            record_new_points(&env, &mut expected, &state);
        }
    }
    // After all that, gc twice reclaims what was left behind and all is still well.
    env.ok_json(&["gc"]);
    env.ok_json(&["gc"]);
    verify_clean(&env, "final");
    check_all_points(&env, &expected, &src, "final");
    eprintln!("{kills} processes killed mid-run out of {rounds} rounds");
    assert!(
        kills >= rounds * 2 / 3,
        "only {kills} of {rounds} runs were killed before finishing"
    );
    if rounds >= 150 {
        assert!(
            kills >= 100,
            "only {kills} kill points; the suite promises at least 100"
        );
    }
}

#[test]
fn a_killed_backup_leaves_data_the_next_backup_reuses() {
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    let mut rng = Rng(42);
    // 40 MiB of incompressible data in one file: many packs, index flushed every 8.
    std::fs::write(src.join("big.bin"), rng.bytes(40 << 20)).expect("write");
    let st = env
        .cmd(&["init", "--pack-size-mib", "1"])
        .output()
        .expect("init");
    assert!(st.status.success());
    let src_s = src.to_str().expect("utf8").to_string();
    // Kill once a good part of the data is stored (index segments exist).
    let mut child = env
        .cmd(&["backup", &src_s])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let segs = std::fs::read_dir(env.path("vault/index"))
            .map(|r| r.count())
            .unwrap_or(0);
        if segs >= 2 || Instant::now() > deadline {
            break;
        }
        if let Ok(Some(_)) = child.try_wait() {
            panic!("backup finished before it could be killed; make the file bigger");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().expect("kill");
    child.wait().expect("wait");
    verify_clean(&env, "after kill");
    let out = env.ok_json(&["backup", &src_s]);
    let added = out["point"]["summary"]["added_bytes"]
        .as_u64()
        .expect("added_bytes");
    assert!(
        added < 32 << 20,
        "next backup re-stored {added} bytes of 40 MiB: the killed run's data was not reused"
    );
    verify_clean(&env, "after next backup");
    let target = env.path("restore");
    env.ok_json(&[
        "restore",
        "latest",
        "--target",
        target.to_str().expect("utf8"),
    ]);
    assert!(snapshot(&restored_root(&target, &src)) == snapshot(&src));
}
