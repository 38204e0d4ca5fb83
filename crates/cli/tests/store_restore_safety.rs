//! Restore never writes outside its target. Hostile points are written with
//! the library (as `backup.rs` does: lease, uploader, tree writer, point
//! manifest) and restored with the real binary; a canary folder next to the
//! target must stay untouched, hostile entries must be reported as
//! UNSAFE_PATH, and the safe entries must still be restored.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use lifeboat_store::Vault;
use lifeboat_store::backend::{Backend, open_location};
use lifeboat_store::format::KIND_DATA;
use lifeboat_store::lease::Lease;
use lifeboat_store::manifest::{
    ChunkRef, Consistency, Entry, EntryType, Point, Summary, Workload, point_name,
};
use lifeboat_store::tree::TreeWriter;
use lifeboat_store::upload::{Progress, Uploader};

/// The test vault's backend, opened by its location as the binary opens it.
fn vault_backend(env: &Env) -> Arc<dyn Backend> {
    open_location(&env.vault.display().to_string()).expect("open the vault's backend")
}

/// One crafted entry and, for files and disks, its content.
struct Item(Entry, Option<Vec<u8>>);

fn entry(path: &str, kind: EntryType, mode: u32) -> Entry {
    Entry {
        mode,
        mtime: 1_700_000_000_000_000_000,
        atime: 1_700_000_000_000_000_000,
        ctime: 1_700_000_000_000_000_000,
        nlink: 1,
        ..Entry::new(path.to_string(), kind)
    }
}

fn file(path: &str, content: &[u8]) -> Item {
    Item(
        entry(path, EntryType::File, 0o100644),
        Some(content.to_vec()),
    )
}

fn dir(path: &str) -> Item {
    Item(entry(path, EntryType::Dir, 0o040755), None)
}

fn symlink(path: &str, target: &str) -> Item {
    let mut e = entry(path, EntryType::Symlink, 0o120777);
    e.target = Some(target.to_string());
    Item(e, None)
}

fn hardlink(path: &str, link: &str) -> Item {
    let mut e = entry(path, EntryType::Hardlink, 0o100644);
    e.link = Some(link.to_string());
    Item(e, None)
}

fn fifo(path: &str) -> Item {
    Item(entry(path, EntryType::Fifo, 0o010644), None)
}

fn disk(path: &str, content: &[u8]) -> Item {
    let mut e = entry(path, EntryType::Disk, 0o100644);
    e.chunk_size = Some(1 << 20);
    Item(e, Some(content.to_vec()))
}

/// Writes a point whose tree stream is exactly `items`, mirroring
/// the point writer's frame (`writer.rs`): lease, index, uploader, tree, commit.
fn craft_point(env: &Env, kind: Workload, items: Vec<Item>) -> String {
    let vault = Vault::open(vault_backend(env), env.pass.as_bytes())
        .expect("open vault")
        .with_cache_root(env.cache.clone());
    let lease = Lease::acquire(vault.backend_arc(), "backup").expect("lease");
    let index = vault.load_index().expect("index");
    let mut up = Uploader::start(
        vault.backend_arc(),
        vault.keys(),
        &index,
        lease.id,
        vault.config().compression_level,
        vault.config().pack_size as usize,
        Arc::new(Progress::default()),
    );
    let mut tree = TreeWriter::new(vault.keys().chunker_seed());
    for Item(mut e, content) in items {
        if let Some(c) = content {
            e.size = c.len() as u64;
            if !c.is_empty() {
                let (id, _) = up.store(KIND_DATA, c).expect("store chunk");
                e.chunks = vec![ChunkRef::Id(id)];
            }
        }
        tree.push(&e, &mut up).expect("push entry");
    }
    let ids = tree.finish(&mut up).expect("finish tree");
    up.finish().expect("finish upload");
    let point = Point {
        version: 2,
        time: chrono::Utc::now(),
        host: "attacker".into(),
        user: "mallory".into(),
        kind,
        meta: Default::default(),
        paths: vec!["/crafted".into()],
        tags: vec![],
        parent: None,
        tree: ids,
        consistency: Consistency::Consistent,
        summary: Summary::default(),
        warnings: vec![],
    };
    lease.check_fresh().expect("lease fresh");
    let (id, bytes) = point.encode(vault.keys());
    vault
        .backend()
        .put_if_absent(&point_name(&id), &bytes)
        .expect("put point");
    lease.release().expect("release");
    id.to_hex()
}

/// A restore target with a canary folder beside it.
struct Case {
    root: PathBuf,
    target: PathBuf,
    outside: PathBuf,
}

impl Case {
    fn new(env: &Env, name: &str) -> Self {
        let root = env.path(name);
        let target = root.join("work/target");
        let outside = root.join("outside");
        std::fs::create_dir_all(&target).expect("mkdir");
        std::fs::create_dir_all(&outside).expect("mkdir");
        Self {
            root,
            target,
            outside,
        }
    }

    fn outside_state(&self) -> DirState {
        dir_state(&self.outside)
    }

    /// Nothing exists in the case folder but the target's contents and the
    /// canary folder as it was.
    #[track_caller]
    fn assert_contained(&self, outside_before: &DirState) {
        for (p, _) in walk(&self.root) {
            let ok = p == "work"
                || p == "work/target"
                || p.starts_with("work/target/")
                || p == "outside"
                || p.starts_with("outside/");
            assert!(
                ok,
                "restore wrote outside the target: {}",
                self.root.join(&p).display()
            );
        }
        assert!(
            &self.outside_state() == outside_before,
            "the canary folder changed: {:?}",
            walk(&self.outside)
                .into_iter()
                .map(|(p, _)| p)
                .collect::<Vec<_>>()
        );
    }

    /// Paths in the target.
    fn restored(&self) -> Vec<String> {
        walk(&self.target).into_iter().map(|(p, _)| p).collect()
    }
}

fn errors(out: &Out) -> Vec<String> {
    out.json()["report"]["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e.as_str().expect("error").to_string())
        .collect()
}

/// Some error mentions `what` (quoted, as errors quote paths) and says the path is unsafe.
#[track_caller]
fn assert_unsafe_reported(errs: &[String], what: &str) {
    let quoted = format!("{what:?}");
    assert!(
        errs.iter().any(
            |e| e.contains(&quoted) && (e.contains("UNSAFE_PATH") || e.contains("unsafe path"))
        ),
        "no UNSAFE_PATH error for {quoted}: {errs:#?}"
    );
}

/// Some entries were refused, the rest restored: exit 3 (per docs/cli.md a
/// restore that could not write some files) or 6 (a manifest held an unsafe path).
#[track_caller]
fn assert_partial_or_damage(out: &Out) {
    assert!(
        out.code == exit::PARTIAL || out.code == exit::DAMAGE,
        "expected exit 3 or 6: {out}"
    );
}

fn vault_env() -> Env {
    let env = Env::new();
    env.init();
    env
}

#[test]
fn entries_with_unsafe_paths_are_refused() {
    let env = vault_env();
    let case = Case::new(&env, "paths");
    let abs_evil = format!("{}/evil", s(&case.outside));
    let etc_evil = format!("/etc/lifeboat-evil-{}", std::process::id());
    let hostile = [
        "../escape",
        "../../escape2",
        "a/../../x",
        "",
        "safe/./dot",
        "safe//double",
        "safe/",
        "..",
        abs_evil.as_str(),
        etc_evil.as_str(),
    ];
    let mut items = vec![dir("safe"), file("safe/ok.txt", b"ok")];
    for h in hostile {
        items.push(file(h, b"pwned"));
    }
    items.push(dir("../evil-dir"));
    items.push(symlink("../evil-link", "/etc/passwd"));
    items.push(fifo("../evil-fifo"));
    items.push(file("zz-last.txt", b"last"));
    let id = craft_point(&env, Workload::FILES, items);
    let before = case.outside_state();

    let out = env.restore(&id, &case.target, &[]);
    assert_partial_or_damage(&out);
    let errs = errors(&out);
    for h in hostile
        .iter()
        .copied()
        .chain(["../evil-dir", "../evil-link", "../evil-fifo"])
    {
        assert_unsafe_reported(&errs, h);
    }
    assert_eq!(errs.len(), hostile.len() + 3, "{errs:#?}");
    case.assert_contained(&before);
    assert!(!Path::new(&etc_evil).exists(), "restore wrote {etc_evil}");
    assert_eq!(case.restored(), ["safe", "safe/ok.txt", "zz-last.txt"]);
    assert_eq!(
        std::fs::read(case.target.join("safe/ok.txt")).expect("read"),
        b"ok"
    );
    assert_eq!(
        std::fs::read(case.target.join("zz-last.txt")).expect("read"),
        b"last"
    );

    // --include naming a hostile path does not let it through either.
    let case2 = Case::new(&env, "paths-include");
    let before2 = case2.outside_state();
    let out = env.restore(&id, &case2.target, &["--include", "../escape"]);
    assert_ne!(out.code, exit::OK, "{out}");
    case2.assert_contained(&before2);
}

/// Scripts read `report.errors`: each carries its code in brackets, as other
/// per-file errors do (`path: [CODE] message`).
#[test]
fn unsafe_path_errors_carry_their_code() {
    let env = vault_env();
    let case = Case::new(&env, "codes");
    let id = craft_point(
        &env,
        Workload::FILES,
        vec![file("../escape", b"x"), file("ok", b"ok")],
    );
    let out = env.restore(&id, &case.target, &[]);
    let errs = errors(&out);
    assert_eq!(errs.len(), 1, "{out}");
    assert!(errs[0].contains("[UNSAFE_PATH]"), "{errs:?}");
}

#[test]
fn a_symlink_in_the_manifest_is_never_followed() {
    let env = vault_env();
    let case = Case::new(&env, "symlinks");
    let out_abs = s(&case.outside).to_string();
    let id = craft_point(
        &env,
        Workload::FILES,
        vec![
            symlink("link", &out_abs),
            file("link/pwned", b"pwned"),
            dir("link/sub"),
            symlink("link/sym", "/etc/passwd"),
            fifo("link/fifo"),
            hardlink("link/hl", "safe.txt"),
            symlink("rel", "../../outside"),
            file("rel/pwned2", b"pwned"),
            dir("nest"),
            symlink("nest/up", ".."),
            file("nest/up/up-file", b"not outside, but through a symlink"),
            file("safe.txt", b"safe"),
        ],
    );
    let before = case.outside_state();
    let out = env.restore(&id, &case.target, &[]);
    assert_partial_or_damage(&out);
    let errs = errors(&out);
    for p in [
        "link/pwned",
        "link/sub",
        "link/sym",
        "link/fifo",
        "link/hl",
        "rel/pwned2",
        "nest/up/up-file",
    ] {
        assert_unsafe_reported(&errs, p);
    }
    assert_eq!(errs.len(), 7, "{errs:#?}");
    case.assert_contained(&before);
    // The symlinks themselves are data and come back as they were.
    assert_eq!(
        std::fs::read_link(case.target.join("link")).expect("readlink"),
        case.outside
    );
    assert_eq!(
        std::fs::read_link(case.target.join("rel")).expect("readlink"),
        Path::new("../../outside")
    );
    assert_eq!(
        std::fs::read(case.target.join("safe.txt")).expect("read"),
        b"safe"
    );
    assert!(!case.target.join("up-file").exists());
    assert_eq!(
        case.restored(),
        ["link", "nest", "nest/up", "rel", "safe.txt"]
    );
}

#[test]
fn symlinks_planted_in_the_target_are_never_followed() {
    let env = vault_env();
    let id = craft_point(
        &env,
        Workload::FILES,
        vec![
            file("dir/file", b"pwned"),
            file("victim", b"restored content"),
            file("safe.txt", b"safe"),
        ],
    );
    let plant = |case: &Case| {
        std::fs::write(case.outside.join("victim.txt"), b"precious").expect("write");
        std::os::unix::fs::symlink(&case.outside, case.target.join("dir")).expect("symlink");
        std::os::unix::fs::symlink(case.outside.join("victim.txt"), case.target.join("victim"))
            .expect("symlink");
    };

    // Default: something is in the way; nothing is written through it.
    let case = Case::new(&env, "planted-default");
    plant(&case);
    let before = case.outside_state();
    let out = env.restore(&id, &case.target, &[]);
    assert_ne!(out.code, exit::OK, "{out}");
    case.assert_contained(&before);

    // --skip-existing: the planted links stay, nothing goes through them.
    let case = Case::new(&env, "planted-skip");
    plant(&case);
    let before = case.outside_state();
    let out = env.restore(&id, &case.target, &["--skip-existing"]);
    assert_partial_or_damage(&out);
    assert_unsafe_reported(&errors(&out), "dir/file");
    case.assert_contained(&before);
    assert!(case.target.join("victim").is_symlink());

    // --overwrite: the planted file link is replaced, never written through;
    // the planted folder link is refused.
    let case = Case::new(&env, "planted-overwrite");
    plant(&case);
    let before = case.outside_state();
    let out = env.restore(&id, &case.target, &["--overwrite"]);
    assert_partial_or_damage(&out);
    let errs = errors(&out);
    assert_unsafe_reported(&errs, "dir/file");
    assert_eq!(errs.len(), 1, "{errs:#?}");
    case.assert_contained(&before);
    let victim = case.target.join("victim");
    assert!(!victim.is_symlink(), "the planted link is still there");
    assert_eq!(std::fs::read(&victim).expect("read"), b"restored content");
    assert_eq!(
        std::fs::read(case.target.join("safe.txt")).expect("read"),
        b"safe"
    );
    assert_eq!(
        std::fs::read(case.outside.join("victim.txt")).expect("read"),
        b"precious"
    );
}

#[test]
fn hard_links_never_reach_outside_the_target() {
    let env = vault_env();
    let case = Case::new(&env, "hardlinks");
    std::fs::write(case.outside.join("secret"), b"secret").expect("write");
    let passwd_links = std::fs::metadata("/etc/passwd").map(|m| m.nlink()).ok();
    let secret_abs = format!("{}/secret", s(&case.outside));
    let id = craft_point(
        &env,
        Workload::FILES,
        vec![
            file("safe.txt", b"safe"),
            hardlink("hl1", "../../etc/passwd"),
            hardlink("hl2", "/etc/passwd"),
            hardlink("hl3", &secret_abs),
            hardlink("hl4", "../outside/secret"),
            symlink("ln", s(&case.outside)),
            // Listed as restored before it fails; the link must still not follow `ln`.
            file("ln/secret", b"x"),
            hardlink("hl5", "ln/secret"),
            hardlink("hl6", "ln"),
            hardlink("good", "safe.txt"),
        ],
    );
    let before = case.outside_state();
    let out = env.restore(&id, &case.target, &[]);
    assert_partial_or_damage(&out);
    let errs = errors(&out);
    for p in [
        "../../etc/passwd",
        "/etc/passwd",
        secret_abs.as_str(),
        "../outside/secret",
        "ln/secret",
    ] {
        assert_unsafe_reported(&errs, p);
    }
    case.assert_contained(&before);
    for h in ["hl1", "hl2", "hl3", "hl4", "hl5", "hl6"] {
        assert!(
            std::fs::symlink_metadata(case.target.join(h)).is_err(),
            "{h} was created: {errs:#?}"
        );
    }
    assert_eq!(
        std::fs::metadata(case.outside.join("secret"))
            .expect("stat")
            .nlink(),
        1
    );
    assert_eq!(
        std::fs::metadata("/etc/passwd").map(|m| m.nlink()).ok(),
        passwd_links
    );
    let good = std::fs::metadata(case.target.join("good")).expect("good link");
    let safe = std::fs::metadata(case.target.join("safe.txt")).expect("safe");
    assert_eq!(
        good.ino(),
        safe.ino(),
        "the legitimate hard link is restored"
    );
}

#[test]
fn disk_points_with_unsafe_names_are_refused() {
    let env = vault_env();
    let case = Case::new(&env, "disks");
    let before = case.outside_state();
    let abs = format!("{}/abs.raw", s(&case.outside));
    for name in ["../escape.raw", "sub/x.raw", abs.as_str(), "..", ""] {
        let id = craft_point(
            &env,
            Workload::DISK,
            vec![disk(name, &Rng(9).bytes(10_000))],
        );
        let out = env.restore(&id, &case.target, &[]);
        assert_ne!(out.code, exit::OK, "disk named {name:?}: {out}");
        assert_eq!(
            out.error_code().as_deref(),
            Some("UNSAFE_PATH"),
            "disk named {name:?}: {out}"
        );
        case.assert_contained(&before);
        assert!(case.restored().is_empty(), "{:?}", case.restored());
    }
    // A well-named disk in the same kind of point restores.
    let id = craft_point(&env, Workload::DISK, vec![disk("ok.raw", b"disk bytes")]);
    env.restore(&id, &case.target, &[]).expect_code(exit::OK);
    assert_eq!(
        std::fs::read(case.target.join("ok.raw")).expect("read"),
        b"disk bytes"
    );
}
