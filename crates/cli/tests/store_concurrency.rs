//! No global lock: backups run at the same time as each other and as
//! `forget` and `gc`, in a loop; afterwards every remaining point must
//! verify and restore byte for byte. Content that was forgotten comes back
//! in later backups, so backups keep reusing chunks the garbage collector is
//! condemning at that very moment — the race the two-phase delete exists for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

mod common;
use common::Env;

/// Deterministic pseudo-random bytes for (variant, file).
fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Writes round `r` of worker `w` into `dir`: a file every round shares, the
/// files of variant r % 4 (so forgotten content returns), and a unique file.
fn write_round(dir: &Path, w: u64, r: u64) -> BTreeMap<String, Vec<u8>> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("mkdir");
    let mut files = BTreeMap::new();
    files.insert("shared.bin".to_string(), content(1, 700_000));
    for f in 0..3 {
        files.insert(
            format!("variant-{f}.bin"),
            content(100 + (r % 4) * 10 + f, 600_000 + f as usize * 1000),
        );
    }
    files.insert(
        "unique.bin".to_string(),
        content(10_000 + w * 1000 + r, 300_000),
    );
    for (k, v) in &files {
        std::fs::write(dir.join(k), v).expect("write");
    }
    files
}

/// Point id → (folder it backed up, files it held).
type Expected = BTreeMap<String, (PathBuf, BTreeMap<String, Vec<u8>>)>;

fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| {
            let e = e.expect("entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect()
}

#[test]
fn backups_forget_and_gc_run_together_and_lose_nothing() {
    let env = Arc::new(Env::new());
    env.init_with(&["--pack-size-mib", "1"]);
    let rounds: u64 = std::env::var("LIFEBOAT_CONCURRENCY_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let expected: Arc<Mutex<Expected>> = Default::default();
    let done = Arc::new(AtomicBool::new(false));
    let gc_runs = Arc::new(AtomicUsize::new(0));
    let rescued = Arc::new(AtomicUsize::new(0));

    // The collector: forget and gc, over and over, while backups run.
    let collector = {
        let (env, done, gc_runs, rescued) =
            (env.clone(), done.clone(), gc_runs.clone(), rescued.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                env.ok_json(&["forget", "--keep-last", "2"]);
                let r = env.ok_json(&["gc"]);
                rescued.fetch_add(
                    r["packs_rescued"].as_u64().unwrap_or(0) as usize,
                    Ordering::Relaxed,
                );
                gc_runs.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    // Two writers, each backing up its own folder round after round.
    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            let (env, expected) = (env.clone(), expected.clone());
            std::thread::spawn(move || {
                let dir = env.path(&format!("src{w}"));
                for r in 0..rounds {
                    let files = write_round(&dir, w, r);
                    let out = env.ok_json(&["backup", dir.to_str().expect("utf8")]);
                    let id = out["id"].as_str().expect("id").to_string();
                    expected
                        .lock()
                        .expect("lock")
                        .insert(id, (dir.clone(), files));
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer thread");
    }
    done.store(true, Ordering::Relaxed);
    collector.join().expect("collector thread");
    assert!(
        gc_runs.load(Ordering::Relaxed) >= 3,
        "gc hardly ran alongside the backups"
    );

    eprintln!(
        "{} gc runs alongside the backups; {} condemned packs rescued because a backup reused them",
        gc_runs.load(Ordering::Relaxed),
        rescued.load(Ordering::Relaxed)
    );
    // Let the last condemnations mature, then check everything.
    env.ok_json(&["forget", "--keep-last", "2"]);
    for _ in 0..3 {
        env.ok_json(&["gc"]);
    }
    let verify = env
        .cmd(&["verify", "--read-data", "-o", "json"])
        .output()
        .expect("run lifeboat");
    assert!(
        verify.status.success(),
        "verify: {}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let points = env.ok_json(&["points"]);
    let list = points["points"].as_array().expect("points");
    assert_eq!(list.len(), 4, "keep-last 2 for each of the two folders");
    let expected = expected.lock().expect("lock");
    for p in list {
        let id = p["id"].as_str().expect("id");
        let (dir, files) = &expected[id];
        let target = env.path("restore").join(id);
        env.ok_json(&["restore", id, "--target", target.to_str().expect("utf8")]);
        let got = read_tree(&target.join(dir.strip_prefix("/").expect("absolute")));
        assert!(
            got == *files,
            "point {id} does not restore to what was backed up"
        );
    }
    // Space really is reclaimed: the vault holds little more than the live points.
    let stored: u64 = walk_size(&env.vault.join("packs"));
    assert!(
        stored < 16 << 20,
        "{stored} bytes of packs remain for 4 small points"
    );
}

fn walk_size(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let m = e.metadata().expect("metadata");
        total += if m.is_dir() {
            walk_size(&e.path())
        } else {
            m.len()
        };
    }
    total
}
