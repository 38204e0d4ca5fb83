//! Faults and hostile conditions through the real binary: wrong passphrases,
//! folders that are not (or not yet) vaults, passphrase slots, damaged packs,
//! index segments and manifests, unreadable and changing sources, a full
//! disk, and concurrent writers.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::*;
use lifeboat_store::Vault;
use lifeboat_store::backend::{Backend, open_location};
use lifeboat_store::format::KIND_TREE;
use lifeboat_store::pack::{PackEntry, parse_pack};

/// The test vault's backend, opened by its location as the binary opens it.
fn vault_backend(env: &Env) -> Arc<dyn Backend> {
    open_location(&env.vault.display().to_string()).expect("open the vault's backend")
}

fn open_vault(env: &Env) -> Vault {
    Vault::open(vault_backend(env), env.pass.as_bytes()).expect("open vault in-process")
}

struct PackInfo {
    path: PathBuf,
    size: u64,
    entries: Vec<PackEntry>,
}

impl PackInfo {
    fn has_tree(&self) -> bool {
        self.entries.iter().any(|e| e.kind == KIND_TREE)
    }
    fn ids(&self) -> BTreeSet<String> {
        self.entries.iter().map(|e| e.id.to_hex()).collect()
    }
}

/// Every pack of the vault with its parsed header.
fn packs(env: &Env) -> Vec<PackInfo> {
    let v = open_vault(env);
    let root = env.vault.join("packs");
    walk(&root)
        .into_iter()
        .filter(|(_, m)| m.is_file())
        .map(|(r, m)| {
            let path = root.join(&r);
            let bytes = std::fs::read(&path).expect("read pack");
            let (_, entries) = parse_pack(v.keys(), &bytes, &r).expect("parse pack");
            PackInfo {
                path,
                size: m.len(),
                entries,
            }
        })
        .collect()
}

/// path → chunk ids of every file entry of a point (from `ls -o json`).
fn file_chunks(env: &Env, point: &str) -> BTreeMap<String, Vec<String>> {
    let ls = env.ok_json(&["ls", point]);
    ls.as_array()
        .expect("ls array")
        .iter()
        .filter(|e| e["type"] == "file")
        .map(|e| {
            let ids = e["chunks"]
                .as_array()
                .map(|c| {
                    c.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            (e["path"].as_str().expect("path").to_string(), ids)
        })
        .collect()
}

/// Files with at least one chunk in `ids`.
fn files_using(chunks: &BTreeMap<String, Vec<String>>, ids: &BTreeSet<String>) -> BTreeSet<String> {
    chunks
        .iter()
        .filter(|(_, c)| c.iter().any(|id| ids.contains(id)))
        .map(|(p, _)| p.clone())
        .collect()
}

/// A source of `n` incompressible files of `size` bytes (one chunk each when
/// under 512 KiB), so that with 1 MiB packs the files spread over several packs.
fn make_source(root: &Path, n: usize, size: usize, seed: u64) {
    let mut rng = Rng(seed);
    std::fs::create_dir_all(root).expect("mkdir");
    for i in 0..n {
        std::fs::write(root.join(format!("f{i:02}.bin")), rng.bytes(size)).expect("write");
    }
}

fn flip_byte(p: &Path, at: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(p)
        .expect("open");
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, at).expect("read");
    b[0] ^= 0x5a;
    f.write_all_at(&b, at).expect("write");
}

fn report_files(v: &serde_json::Value, point: &str) -> BTreeSet<String> {
    let dps = v["report"]["damaged_points"]
        .as_array()
        .expect("damaged_points");
    let dp = dps
        .iter()
        .find(|d| d["id"] == point)
        .unwrap_or_else(|| panic!("point {point} is not among the damaged: {v}"));
    dp["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f.as_str().expect("file").to_string())
        .collect()
}

/// Restores `point`, requires exit 3 with errors for exactly `bad`, and every
/// other file of `src` byte-identical.
fn restore_expect_partial(env: &Env, point: &str, src: &Path, bad: &BTreeSet<String>, ctx: &str) {
    let t = env.path(&format!("restore-{ctx}"));
    let out = env.restore(point, &t, &[]);
    assert_eq!(
        out.code,
        exit::PARTIAL,
        "{ctx}: restore of a damaged point: {out}"
    );
    let errors: Vec<String> = out.json()["report"]["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e.as_str().expect("error").to_string())
        .collect();
    let failed: BTreeSet<String> = errors
        .iter()
        .map(|e| e.split(": ").next().expect("path").to_string())
        .collect();
    assert_eq!(
        &failed, bad,
        "{ctx}: files restore reported as failed: {errors:#?}"
    );
    let back = restored_root(&t, src);
    let r = rel(src);
    for (name, data) in file_contents(src) {
        if bad.contains(&format!("{r}/{name}")) {
            continue;
        }
        let got = std::fs::read(back.join(&name)).unwrap_or_default();
        assert!(
            got == data,
            "{ctx}: intact file {name} did not restore identically"
        );
    }
}

// ---------------------------------------------------------------- opening

#[test]
fn wrong_passphrase_is_refused_with_exit_5_and_changes_nothing() {
    let env = Env::new();
    let src = env.path("src");
    make_source(&src, 2, 1000, 1);
    env.init();
    let (id, _) = env.backup_ok(&[&src]);
    let state = dir_state(&env.vault);
    for args in [
        vec!["points"],
        vec!["backup", s(&src)],
        vec!["restore", &id, "--target", s(&env.path("t"))],
        vec!["verify"],
        vec!["gc"],
        vec!["key", "list"],
    ] {
        let mut a = args.clone();
        a.extend(["-o", "json"]);
        let out = Out::of(env.cmd_with_pass(&a, "not the passphrase"), &a);
        out.expect_error(exit::WRONG_PASSPHRASE, "WRONG_PASSPHRASE");
    }
    assert!(
        dir_state(&env.vault) == state,
        "a refused command changed the vault"
    );
    assert!(
        !env.path("t").exists(),
        "restore with a wrong passphrase made its target"
    );
}

#[test]
fn a_folder_that_is_not_a_vault_is_refused_with_exit_4() {
    let mut env = Env::new();
    let src = env.path("src");
    make_source(&src, 1, 10, 1);
    // An empty folder, a folder with other things in it, and no folder at all.
    let empty = env.path("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let busy = env.path("busy");
    std::fs::create_dir_all(busy.join("keys")).expect("mkdir");
    std::fs::write(busy.join("notes.txt"), b"not a vault").expect("write");
    let missing = env.path("missing");
    for dir in [&empty, &busy, &missing] {
        env.vault = dir.clone();
        let before = dir_state(dir);
        for args in [
            vec!["points"],
            vec!["backup", s(&src)],
            vec!["verify", "--read-data"],
            vec!["gc"],
            vec!["ls", "latest"],
            vec!["key", "add"],
        ] {
            env.run_json(&args)
                .expect_error(exit::NO_VAULT, "NOT_A_VAULT");
        }
        assert!(dir_state(dir) == before, "{} was changed", dir.display());
    }
    assert!(
        !missing.exists(),
        "a command created the missing vault folder"
    );
    // A config that is not JSON is damage, not "no vault".
    env.vault = env.path("garbled");
    env.init();
    std::fs::write(env.vault.join("config"), b"\x00\x01 not json").expect("write");
    env.run_json(&["points"])
        .expect_error(exit::DAMAGE, "DATA_CORRUPT");
}

#[test]
fn a_vault_of_a_newer_format_is_refused_and_left_untouched() {
    let env = Env::new();
    let src = env.path("src");
    make_source(&src, 3, 2000, 2);
    env.init();
    let (id, _) = env.backup_ok(&[&src]);
    let cfg_path = env.vault.join("config");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cfg_path).expect("read config")).expect("json");
    cfg["lifeboat_vault"] = 99.into();
    std::fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg).expect("json")).expect("write");
    let state = dir_state(&env.vault);
    let t = env.path("t");
    for args in [
        vec!["points"],
        vec!["ls", "latest"],
        vec!["backup", s(&src)],
        vec!["restore", &id, "--target", s(&t)],
        vec!["diff", &id, "latest"],
        vec!["verify", "--read-data"],
        vec!["verify", "--repair-index"],
        vec!["forget", "--keep-last", "1"],
        vec!["gc"],
        vec!["key", "add"],
        vec!["key", "list"],
        vec!["key", "remove", "00"],
    ] {
        let mut c = env.cmd(&args);
        c.args(["-o", "json"]).env("LIFEBOAT_NEW_PASSPHRASE", "x");
        Out::of(c, &args).expect_error(exit::NO_VAULT, "VAULT_FORMAT_NEWER");
    }
    // Even with a wrong passphrase the version is what is reported.
    let a = ["points", "-o", "json"];
    Out::of(env.cmd_with_pass(&a, "wrong"), &a).expect_error(exit::NO_VAULT, "VAULT_FORMAT_NEWER");
    assert!(
        dir_state(&env.vault) == state,
        "the newer vault was modified"
    );
    assert!(!t.exists(), "restore from a newer vault made its target");
}

#[test]
fn passphrase_slots_add_list_remove() {
    let env = Env::new();
    let src = env.path("src");
    make_source(&src, 3, 5000, 3);
    env.init();
    env.backup_ok(&[&src]);
    let second = "the second passphrase";

    let mut c = env.cmd(&["key", "add", "--label", "backup-admin", "-o", "json"]);
    c.env("LIFEBOAT_NEW_PASSPHRASE", second);
    let added = Out::of(c, &["key", "add"]).expect_code(exit::OK).json();
    let new_id = added["added"].as_str().expect("added id").to_string();

    let list = env.ok_json(&["key", "list"]);
    let slots = list.as_array().expect("slots");
    assert_eq!(slots.len(), 2, "{list}");
    let old_id = slots
        .iter()
        .find(|k| k["id"] != new_id.as_str())
        .and_then(|k| k["id"].as_str())
        .expect("first slot")
        .to_string();
    for k in slots {
        let is_old = k["id"] == old_id.as_str();
        assert_eq!(
            k["current"], is_old,
            "current marks the slot that opened: {list}"
        );
    }
    assert!(
        slots.iter().any(|k| k["label"] == "backup-admin"),
        "label kept: {list}"
    );

    // The new passphrase opens the vault and reads its data.
    let with_second = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        Out::of(env.cmd_with_pass(&a, second), &a)
    };
    let t = env.path("t1");
    with_second(&["restore", "latest", "--target", s(&t)]).expect_code(exit::OK);
    assert!(file_contents(&restored_root(&t, &src)) == file_contents(&src));
    let list2 = with_second(&["key", "list"]).expect_code(exit::OK).json();
    let cur: Vec<&str> = list2
        .as_array()
        .expect("slots")
        .iter()
        .filter(|k| k["current"] == true)
        .map(|k| k["id"].as_str().expect("id"))
        .collect();
    assert_eq!(cur, [new_id.as_str()], "{list2}");

    // Remove the original slot (by prefix) using the new passphrase.
    let removed = with_second(&["key", "remove", &old_id[..10]])
        .expect_code(exit::OK)
        .json();
    assert_eq!(removed["removed"], old_id.as_str());
    env.run_json(&["points"])
        .expect_error(exit::WRONG_PASSPHRASE, "WRONG_PASSPHRASE");
    with_second(&["points"]).expect_code(exit::OK);

    // The last slot can never go.
    with_second(&["key", "remove", &new_id]).expect_error(exit::USAGE, "LAST_KEY");
    with_second(&["key", "remove", &new_id[..8]]).expect_error(exit::USAGE, "LAST_KEY");
    with_second(&["points"]).expect_code(exit::OK);
    assert_eq!(
        std::fs::read_dir(env.vault.join("keys"))
            .expect("keys")
            .count(),
        1
    );
    // A prefix that names no slot is a usage error, and removes nothing.
    with_second(&["key", "remove", "zzzz"]).expect_error(exit::USAGE, "INVALID_ARGUMENT");
    let t = env.path("t2");
    with_second(&["restore", "latest", "--target", s(&t)]).expect_code(exit::OK);
    assert!(file_contents(&restored_root(&t, &src)) == file_contents(&src));
}

// ---------------------------------------------------------------- damage

/// A vault with one point whose files spread over several 1 MiB packs.
fn damaged_setup(seed: u64) -> (Env, PathBuf, String, BTreeMap<String, Vec<String>>) {
    let env = Env::new();
    let src = env.path("src");
    make_source(&src, 16, 200_000, seed);
    env.init_with(&["--pack-size-mib", "1"]);
    let (id, _) = env.backup_ok(&[&src]);
    let chunks = file_chunks(&env, &id);
    assert_eq!(chunks.len(), 16);
    (env, src, id, chunks)
}

/// The biggest pack without tree blobs (so the file list stays readable).
fn data_pack(env: &Env) -> PackInfo {
    let mut ps: Vec<PackInfo> = packs(env).into_iter().filter(|p| !p.has_tree()).collect();
    assert!(!ps.is_empty(), "no pack holds only file data");
    ps.sort_by_key(|p| std::cmp::Reverse(p.size));
    let p = ps.remove(0);
    assert!(p.entries.len() >= 2, "the chosen pack holds one blob only");
    p
}

#[test]
fn a_flipped_bit_in_a_pack_is_found_and_the_rest_restores() {
    let (env, src, id, chunks) = damaged_setup(11);
    let pack = data_pack(&env);
    let mid = pack.size / 2;
    let hit = pack
        .entries
        .iter()
        .find(|e| (e.offset as u64..(e.offset + e.sealed_len) as u64).contains(&mid))
        .expect("the middle of the pack is inside a blob");
    flip_byte(&pack.path, mid);
    let bad = files_using(&chunks, &[hit.id.to_hex()].into());
    let in_pack = files_using(&chunks, &pack.ids());
    assert_eq!(bad.len(), 1);

    let out = env.verify(&["--read-data"]);
    assert_eq!(out.code, exit::DAMAGE, "{out}");
    let v = out.json();
    assert_eq!(v["clean"], false);
    let named = report_files(&v, &id);
    assert!(
        named.is_superset(&bad) && named.is_subset(&in_pack),
        "verify named {named:?}; damaged blob is in {bad:?}, the pack holds {in_pack:?}"
    );
    // Without --read-data the damage inside the pack cannot be seen.
    env.verify(&[]).expect_code(exit::OK);
    restore_expect_partial(&env, &id, &src, &bad, "bitflip");
}

/// verify names exactly the files whose data is damaged, not every file that
/// shares a pack with it (restore gets those back intact).
#[test]
fn a_flipped_bit_names_only_the_files_it_damaged() {
    let (env, _src, id, chunks) = damaged_setup(12);
    let pack = data_pack(&env);
    let hit = pack.entries[pack.entries.len() / 2];
    flip_byte(&pack.path, hit.offset as u64 + hit.sealed_len as u64 / 2);
    let bad = files_using(&chunks, &[hit.id.to_hex()].into());
    let v = env
        .verify(&["--read-data"])
        .expect_code(exit::DAMAGE)
        .json();
    assert_eq!(report_files(&v, &id), bad, "{v}");
}

#[test]
fn a_truncated_pack_is_found_and_the_rest_restores() {
    let (env, src, id, chunks) = damaged_setup(13);
    let pack = data_pack(&env);
    let cut = pack.size / 2;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&pack.path)
        .expect("open");
    f.set_len(cut).expect("truncate");
    drop(f);
    let lost: BTreeSet<String> = pack
        .entries
        .iter()
        .filter(|e| (e.offset + e.sealed_len) as u64 > cut)
        .map(|e| e.id.to_hex())
        .collect();
    let bad = files_using(&chunks, &lost);
    assert!(!bad.is_empty());

    // The size check alone finds it, exactly.
    let out = env.verify(&[]);
    assert_eq!(out.code, exit::DAMAGE, "{out}");
    assert_eq!(report_files(&out.json(), &id), bad, "{out}");
    let out = env.verify(&["--read-data"]);
    assert_eq!(out.code, exit::DAMAGE, "{out}");
    let v = out.json();
    assert!(
        !v["report"]["damaged_packs"]
            .as_array()
            .expect("packs")
            .is_empty(),
        "{v}"
    );
    let named = report_files(&v, &id);
    assert!(
        named.is_superset(&bad),
        "verify named {named:?}, lost {bad:?}"
    );
    restore_expect_partial(&env, &id, &src, &bad, "truncated");
}

#[test]
fn a_deleted_pack_is_reported_missing_by_a_plain_verify() {
    let (env, src, id, chunks) = damaged_setup(14);
    let pack = data_pack(&env);
    std::fs::remove_file(&pack.path).expect("rm pack");
    let bad = files_using(&chunks, &pack.ids());
    let out = env.verify(&[]);
    assert_eq!(out.code, exit::DAMAGE, "{out}");
    let v = out.json();
    assert_eq!(report_files(&v, &id), bad, "{v}");
    let dp = &v["report"]["damaged_points"][0];
    assert!(
        dp["reason"].as_str().expect("reason").contains("missing"),
        "{v}"
    );
    assert_eq!(dp["affected_files"], bad.len());
    restore_expect_partial(&env, &id, &src, &bad, "deleted");
}

fn index_segments(env: &Env) -> Vec<PathBuf> {
    walk(&env.vault.join("index"))
        .into_iter()
        .filter(|(_, m)| m.is_file())
        .map(|(r, _)| env.vault.join("index").join(r))
        .collect()
}

fn repair_and_check(env: &Env, src: &Path, ctx: &str) {
    let out = env.verify(&["--repair-index"]);
    assert_eq!(out.code, exit::OK, "{ctx}: verify --repair-index: {out}");
    let v = out.json();
    assert_eq!(v["report"]["index_repaired"], true);
    assert_eq!(v["clean"], true, "{ctx}: {v}");
    env.verify_clean(ctx);
    let t = env.path(&format!("restore-{ctx}"));
    env.restore("latest", &t, &[]).expect_code(exit::OK);
    assert!(file_contents(&restored_root(&t, src)) == file_contents(src));
    // A backup after the repair deduplicates against the rebuilt index.
    let (_, p) = env.backup_ok(&[src]);
    assert!(
        p["summary"]["added_bytes"].as_u64().expect("added") < 64 << 10,
        "{ctx}: the rebuilt index does not know the data: {p}"
    );
}

#[test]
fn a_deleted_index_segment_is_found_and_repaired() {
    let (env, src, id, chunks) = damaged_setup(15);
    let segs = index_segments(&env);
    assert!(!segs.is_empty());
    for s in &segs {
        std::fs::remove_file(s).expect("rm segment");
    }
    let out = env.verify(&[]);
    assert_eq!(out.code, exit::DAMAGE, "{out}");
    let v = out.json();
    let dp = &v["report"]["damaged_points"][0];
    assert_eq!(dp["id"], id.as_str(), "{v}");
    let _ = chunks;
    repair_and_check(&env, &src, "deleted-index");
}

/// Damages the vault's first index segment; returns its file name.
fn corrupt_first_segment(env: &Env) -> String {
    let segs = index_segments(env);
    let seg = &segs[0];
    let len = std::fs::metadata(seg).expect("stat").len();
    flip_byte(seg, len / 2);
    seg.file_name()
        .and_then(|n| n.to_str())
        .expect("name")
        .to_string()
}

#[test]
fn a_corrupt_index_segment_is_reported() {
    let (mut env, _src, _id, _) = damaged_setup(16);
    let seg_name = corrupt_first_segment(&env);
    // Seen from a machine without a cached copy of the segment.
    env.cache = env.path("fresh-cache");
    let out = env.verify(&[]);
    assert_eq!(out.code, exit::DAMAGE, "{out}");
    let v = out.json();
    let named = v["report"]["damaged_index_segments"]
        .as_array()
        .expect("segments");
    assert!(
        named.len() == 1 && named[0].as_str().expect("str").contains(&seg_name),
        "{v}"
    );
}

#[test]
fn verify_repair_index_replaces_a_corrupt_segment() {
    let (mut env, src, _id, _) = damaged_setup(18);
    let seg_name = corrupt_first_segment(&env);
    env.cache = env.path("fresh-cache");
    repair_and_check(&env, &src, "corrupt-index");
    assert!(
        !env.vault.join("index").join(&seg_name).exists(),
        "the damaged segment is still in the vault"
    );
}

/// The machine that made the backup has the segment cached; verify must
/// still check the vault's own copy.
#[test]
fn a_corrupt_index_segment_is_reported_despite_a_warm_cache() {
    let (env, _src, _id, _) = damaged_setup(17);
    let segs = index_segments(&env);
    let len = std::fs::metadata(&segs[0]).expect("stat").len();
    flip_byte(&segs[0], len / 2);
    let out = env.verify(&["--read-data"]);
    assert_eq!(out.code, exit::DAMAGE, "{out}");
    let v = out.json();
    assert_eq!(
        v["report"]["damaged_index_segments"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{v}"
    );
}

#[test]
fn a_corrupt_point_manifest_is_listed_unreadable_and_others_work() {
    let env = Env::new();
    let src = env.path("src");
    make_source(&src, 4, 10_000, 21);
    env.init();
    let (a, _) = env.backup_ok(&[&src]);
    std::fs::write(src.join("f00.bin"), b"changed").expect("write");
    let (b, _) = env.backup_ok(&[&src]);
    let pa = env.vault.join("points").join(&a);
    let len = std::fs::metadata(&pa).expect("stat").len();
    flip_byte(&pa, len / 2);

    let out = env.run_json(&["points"]);
    assert_eq!(out.code, exit::DAMAGE, "{out}");
    let v = out.json();
    let ok: Vec<&str> = v["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| p["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ok, [b.as_str()], "{v}");
    let bad: Vec<&str> = v["unreadable"]
        .as_array()
        .expect("unreadable")
        .iter()
        .map(|p| p["id"].as_str().expect("id"))
        .collect();
    assert_eq!(bad, [a.as_str()], "{v}");

    let t = env.path("t");
    env.restore(&b, &t, &[]).expect_code(exit::OK);
    assert!(file_contents(&restored_root(&t, &src)) == file_contents(&src));
    env.restore(&a, &env.path("ta"), &[])
        .expect_error(exit::DAMAGE, "DATA_CORRUPT");
    let out = env.verify(&[]);
    assert_eq!(out.code, exit::DAMAGE, "{out}");
    let v = out.json();
    let dps = v["report"]["damaged_points"].as_array().expect("damaged");
    assert_eq!(dps.len(), 1, "{v}");
    assert_eq!(dps[0]["id"], a.as_str());

    // Not knowing what the unreadable point needs, gc must free nothing.
    let before: BTreeSet<String> = walk(&env.vault.join("packs"))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    let _ = env.run_json(&["gc"]);
    let _ = env.run_json(&["gc"]);
    let after: BTreeSet<String> = walk(&env.vault.join("packs"))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(
        before, after,
        "gc deleted packs while a point was unreadable"
    );
}

// ---------------------------------------------------------------- sources

#[test]
fn an_unreadable_source_file_gives_a_warning_and_the_point_is_made() {
    // As root every file is readable: run lifeboat as nobody (65534) instead.
    let mut env = Env::new();
    let nobody = 65534;
    if is_root() {
        open_up(env.dir.path());
        for d in [&env.vault, &env.cache] {
            std::fs::create_dir_all(d).expect("mkdir");
            chown(d, nobody, nobody);
        }
    }
    let src = env.path("src");
    make_source(&src, 5, 3000, 31);
    std::fs::write(src.join("secret.bin"), b"for root only").expect("write");
    chmod(&src.join("secret.bin"), 0o000);
    std::fs::create_dir_all(src.join("locked")).expect("mkdir");
    std::fs::write(src.join("locked/inside.txt"), b"hidden").expect("write");
    chmod(&src.join("locked"), 0o000);
    if is_root() {
        env.run_as = Some(nobody);
    }
    env.init();

    let out = env.run_json(&["backup", s(&src)]);
    assert_eq!(out.code, exit::PARTIAL, "{out}");
    let v = out.json();
    let id = v["id"].as_str().expect("id").to_string();
    let point = &v["point"];
    assert_eq!(point["summary"]["files"], 5, "{v}");
    assert!(point["summary"]["warnings"].as_u64() >= Some(2), "{v}");
    let warnings = point["warnings"].to_string();
    assert!(
        warnings.contains("secret.bin") && warnings.contains("locked"),
        "{v}"
    );
    let (ids, _) = env.points();
    assert_eq!(ids, std::slice::from_ref(&id), "the point was made");
    let listed = file_chunks(&env, &id);
    let r = rel(&src);
    assert!(
        !listed.contains_key(&format!("{r}/secret.bin")),
        "{listed:?}"
    );
    assert!(!listed.contains_key(&format!("{r}/locked/inside.txt")));
    assert_eq!(listed.len(), 5);

    let t = env.path("t");
    std::fs::create_dir_all(&t).expect("mkdir");
    if is_root() {
        chown(&t, nobody, nobody);
    }
    env.restore(&id, &t, &[]).expect_code(exit::OK);
    let back = restored_root(&t, &src);
    assert!(!back.join("secret.bin").exists());
    assert!(back.join("locked").is_dir());
    assert!(!back.join("locked/inside.txt").exists());
    for i in 0..5 {
        let name = format!("f{i:02}.bin");
        let want = std::fs::read(src.join(&name)).expect("read");
        assert!(std::fs::read(back.join(&name)).ok() == Some(want), "{name}");
    }
    chmod(&src.join("locked"), 0o755);
    chmod(&back.join("locked"), 0o755);
}

#[test]
fn a_file_that_grows_during_backup_marks_the_point() {
    let (env, src, id, _) = backup_growing_file();
    let (ids, pj) = env.points();
    assert_eq!(ids, std::slice::from_ref(&id));
    assert_eq!(
        pj["points"][0]["point"]["consistency"],
        "changed-during-backup"
    );
    let ls = env.ok_json(&["ls", &id]);
    let r = rel(&src);
    let log = format!("{r}/growing.log");
    assert!(
        ls.as_array()
            .expect("ls")
            .iter()
            .any(|e| e["path"] == log.as_str()),
        "the changed file is in the point"
    );
    for e in ls.as_array().expect("ls") {
        let changed = e["changed"] == true;
        let is_growing = e["path"] == format!("{r}/growing.log").as_str();
        assert_eq!(changed, is_growing, "changed flag of {}", e["path"]);
    }

    // The other files restore exactly.
    let t = env.path("t");
    let mut args = Vec::new();
    for i in 0..3 {
        args.push("--include".to_string());
        args.push(format!("{r}/f{i:02}.bin"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.restore(&id, &t, &args).expect_code(exit::OK);
    let back = restored_root(&t, &src);
    for i in 0..3 {
        let n = format!("f{i:02}.bin");
        assert!(std::fs::read(back.join(&n)).ok() == std::fs::read(src.join(&n)).ok());
    }
}

/// Backs up a file that is appended to while it is read; returns the env,
/// the source, the point id and the file's content before the backup.
fn backup_growing_file() -> (Env, PathBuf, String, Vec<u8>) {
    let env = Env::new();
    let src = env.path("src");
    make_source(&src, 3, 10_000, 41);
    let growing = src.join("growing.log");
    let original = Rng(42).bytes(48 << 20);
    std::fs::write(&growing, &original).expect("write");
    env.init();
    let stop = Arc::new(AtomicBool::new(false));
    let appender = {
        let (stop, path) = (stop.clone(), growing.clone());
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .expect("open");
            let mut rng = Rng(43);
            while !stop.load(Ordering::Relaxed) {
                f.write_all(&rng.text(4096)).expect("append");
                std::thread::sleep(std::time::Duration::from_micros(500));
            }
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = env.run_json(&["backup", s(&src)]);
    stop.store(true, Ordering::Relaxed);
    appender.join().expect("appender");
    assert_eq!(
        out.code,
        exit::PARTIAL,
        "a changed file is a warning: {out}"
    );
    let v = out.json();
    assert_eq!(v["point"]["consistency"], "changed-during-backup", "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    (env, src, id, original)
}

/// A file that grew while it was read restores as what was read: a prefix
/// of what it became, at least as long as it was.
#[test]
fn a_file_that_grew_during_backup_restores() {
    let (env, src, id, original) = backup_growing_file();
    let v = env.verify(&["--read-data"]);
    eprintln!("verify --read-data on the point: exit {}", v.code);
    let t = env.path("t");
    let out = env.restore(&id, &t, &[]);
    assert_eq!(
        out.code,
        exit::OK,
        "restore of a changed-during-backup point: {out}"
    );
    let got = std::fs::read(restored_root(&t, &src).join("growing.log")).expect("read");
    let now = std::fs::read(src.join("growing.log")).expect("read");
    assert!(
        got.len() >= original.len(),
        "restored log is shorter than it ever was"
    );
    assert!(
        got[..] == now[..got.len()],
        "restored log is not a prefix of the file"
    );
}

// ---------------------------------------------------------------- storage

struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_full_disk_fails_cleanly_and_the_vault_stays_usable() {
    if !is_root() {
        eprintln!("SKIPPED: mounting a small tmpfs for the full-disk test needs root");
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the full-disk test as root"
        );
        return;
    }
    let mut env = Env::new();
    let small = env.path("small");
    std::fs::create_dir_all(&small).expect("mkdir");
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=24m", "tmpfs"])
        .arg(&small)
        .status()
        .expect("run mount");
    assert!(st.success(), "mount -t tmpfs failed");
    let _guard = Mount(small.clone());
    env.vault = small.join("vault");
    let src = env.path("src");
    make_source(&src, 4, 5000, 51);
    std::fs::write(src.join("big.bin"), Rng(52).bytes(60 << 20)).expect("write");
    env.init();

    env.run_json(&["backup", s(&src)])
        .expect_error(exit::STORAGE_FULL, "STORAGE_FULL");
    assert!(env.points().0.is_empty(), "a point was committed");
    let leftovers: Vec<String> = walk(&env.vault)
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.contains(".tmp-") || p.starts_with("leases/"))
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");

    std::fs::remove_file(src.join("big.bin")).expect("rm");
    let (id, _) = env.backup_ok(&[&src]);
    env.verify_clean("after ENOSPC");
    let t = env.path("t");
    env.restore(&id, &t, &[]).expect_code(exit::OK);
    assert!(file_contents(&restored_root(&t, &src)) == file_contents(&src));

    // The failed run's packs are garbage that two gc runs reclaim.
    let before = du(&env.vault.join("packs"));
    env.ok_json(&["gc"]);
    env.ok_json(&["gc"]);
    let after = du(&env.vault.join("packs"));
    assert!(
        after + (8 << 20) < before,
        "gc did not reclaim the failed backup's packs: {before} -> {after}"
    );
    env.verify_clean("after gc");
    let t = env.path("t2");
    env.restore(&id, &t, &[]).expect_code(exit::OK);
    assert!(file_contents(&restored_root(&t, &src)) == file_contents(&src));
}

#[test]
fn two_backups_at_once_into_one_vault_both_succeed() {
    let env = Env::new();
    let (a, b) = (env.path("a"), env.path("b"));
    make_source(&a, 24, 400_000, 61);
    make_source(&b, 24, 400_000, 62);
    // Shared content, so both writers race to store the same chunks.
    let mut rng = Rng(63);
    for i in 0..6 {
        let data = rng.bytes(1_000_000);
        std::fs::write(a.join(format!("shared{i}")), &data).expect("write");
        std::fs::write(b.join(format!("shared{i}")), &data).expect("write");
    }
    env.init_with(&["--pack-size-mib", "1"]);
    let spawn = |src: &Path| {
        env.cmd(&["backup", s(src), "-o", "json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (ca, cb) = (spawn(&a), spawn(&b));
    let (oa, ob) = (
        ca.wait_with_output().expect("wait"),
        cb.wait_with_output().expect("wait"),
    );
    for (o, name) in [(&oa, "a"), (&ob, "b")] {
        assert!(
            o.status.success(),
            "backup {name}: {}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let id_of = |o: &std::process::Output| -> String {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        v["id"].as_str().expect("id").to_string()
    };
    let (ia, ib) = (id_of(&oa), id_of(&ob));
    let span = |o: &std::process::Output| -> (i64, i64) {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        let t = chrono::DateTime::parse_from_rfc3339(v["point"]["time"].as_str().expect("time"))
            .expect("time")
            .timestamp_millis();
        let d = v["point"]["summary"]["duration_ms"]
            .as_i64()
            .expect("duration");
        (t, t + d)
    };
    let ((a0, a1), (b0, b1)) = (span(&oa), span(&ob));
    eprintln!(
        "backups ran {a0}..{a1} and {b0}..{b1} ms: {}",
        if a0 < b1 && b0 < a1 {
            "overlapping"
        } else {
            "NOT overlapping"
        }
    );
    let (ids, _) = env.points();
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>(),
        [&ia, &ib].into_iter().collect()
    );
    env.verify_clean("after concurrent backups");
    for (id, src) in [(&ia, &a), (&ib, &b)] {
        let t = env.path(&format!("t-{}", &id[..8]));
        env.restore(id, &t, &[]).expect_code(exit::OK);
        assert_same_tree(src, &restored_root(&t, src), Cmp::ALL);
    }
}
