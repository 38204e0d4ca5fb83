//! `--vault` as a URL through the real binary, and `gc --dry-run` showing
//! its plan: `file:///…` opens the same vault as the plain path, `s3://` and
//! `azblob://` are refused as not built, a bad URL as invalid; the dry-run
//! plan lists the packs it would condemn, changes nothing, and the run that
//! follows condemns exactly those.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::*;

fn url_env(env: &Env) -> Env {
    let mut u = Env::new();
    u.vault = PathBuf::from(format!("file://{}", env.vault.display()));
    u.cache = env.cache.clone();
    u
}

#[test]
fn a_vault_opens_by_url_and_unbuilt_backends_are_refused() {
    let env = Env::new();
    let by_url = url_env(&env);
    by_url.init();
    let src = env.path("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(src.join("a"), b"hello").expect("write");
    let (id, _) = by_url.backup_ok(&[&src]);
    // The plain path names the same vault.
    assert_eq!(env.points().0, vec![id]);
    by_url.verify_clean("opened by URL");

    for (vault, code) in [
        ("s3://bucket/prefix", "BACKEND_NOT_BUILT"),
        ("azblob://container", "BACKEND_NOT_BUILT"),
        ("ftp://host/x", "INVALID_BACKEND_URL"),
        ("file://host/x", "INVALID_BACKEND_URL"),
    ] {
        let mut e = Env::new();
        e.vault = PathBuf::from(vault);
        let out = e.run_json(&["points"]);
        out.expect_error(exit::USAGE, code);
        let text = e.run(&["points"]);
        assert!(text.stderr.contains("hint:"), "{text}");
    }
}

#[test]
fn gc_dry_run_prints_the_plan_the_run_then_executes() {
    let env = Env::new();
    env.init();
    let mut rng = Rng(7);
    // Two points of one folder whose content is replaced in between:
    // forgetting the first leaves its packs unneeded.
    let a = env.path("a");
    std::fs::create_dir_all(&a).expect("mkdir");
    for _ in 0..2 {
        std::fs::write(a.join("data"), rng.bytes(2 << 20)).expect("write");
        env.backup_ok(&[&a]);
    }
    env.ok_json(&["forget", "--keep-last", "1"]);

    let state = dir_state(&env.vault);
    let plan = env.ok_json(&["gc", "--dry-run"]);
    assert_eq!(plan["dry_run"], true, "{plan}");
    let condemn: BTreeSet<String> = plan["condemn"]
        .as_array()
        .expect("condemn list")
        .iter()
        .map(|p| {
            assert_eq!(p["reason"], "unreferenced", "{p}");
            assert!(p["bytes"].as_u64().expect("bytes") > 0, "{p}");
            p["pack"].as_str().expect("pack id").to_string()
        })
        .collect();
    assert!(!condemn.is_empty(), "{plan}");
    assert!(plan["bytes_reclaimed_later"].as_u64().expect("later") > 1 << 20);
    assert_eq!(plan["bytes_reclaimed_now"], 0);
    let text = env.run(&["gc", "--dry-run"]).expect_code(exit::OK);
    for p in &condemn {
        assert!(
            text.stdout.contains(&format!("condemn  pack {}", &p[..8])),
            "{p} not shown: {text}"
        );
    }
    assert!(text.stdout.contains("would free"), "{text}");
    assert!(
        dir_state(&env.vault) == state,
        "gc --dry-run changed the vault"
    );

    let done = env.ok_json(&["gc"]);
    assert_eq!(done["dry_run"], false, "{done}");
    let condemned: BTreeSet<String> = done["condemn"]
        .as_array()
        .expect("condemn list")
        .iter()
        .map(|p| p["pack"].as_str().expect("pack id").to_string())
        .collect();
    assert_eq!(condemned, condemn);
    assert_eq!(done["packs_condemned"], condemn.len());
    let second = env.ok_json(&["gc"]);
    let deleted: BTreeSet<String> = second["delete"]
        .as_array()
        .expect("delete list")
        .iter()
        .map(|p| p["pack"].as_str().expect("pack id").to_string())
        .collect();
    assert_eq!(deleted, condemn);
    env.verify_clean("after gc");
}
