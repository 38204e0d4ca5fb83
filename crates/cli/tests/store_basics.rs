//! The basic life of a vault through the real binary: init, backup, restore
//! byte for byte with metadata, incremental backups, ls / diff / points,
//! point selection, restore conflicts and subsets, forget and gc.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::*;

/// What `make_tree` made.
struct Made {
    /// Regular-file inodes (hard links counted once).
    files: u64,
    dirs: u64,
    xattrs: bool,
}

const SPARSE_SIZE: u64 = 48 << 20;

/// A tree with every kind of object the file backup records.
fn make_tree(root: &Path, rng: &mut Rng) -> Made {
    let mk = |p: &str| std::fs::create_dir_all(root.join(p)).expect("mkdir");
    let put = |p: &str, data: &[u8]| std::fs::write(root.join(p), data).expect("write");
    mk("text");
    mk("rand");
    mk("big");
    mk("nested/a/b/c/d");
    mk("nested/empty_dir");
    mk("links");
    mk("hard");
    mk("modes");
    mk("special");
    put("empty.txt", b"");
    put("one.txt", b"1");
    for (i, n) in [
        10usize, 100, 4095, 4096, 4097, 65536, 300_000, 700_000, 1_500_000,
    ]
    .iter()
    .enumerate()
    {
        put(&format!("text/t{i}_{n}.txt"), &rng.text(*n));
    }
    for (i, n) in [
        1usize,
        511,
        512 * 1024 - 1,
        512 * 1024,
        512 * 1024 + 1,
        1_000_000,
        3_000_000,
    ]
    .iter()
    .enumerate()
    {
        put(&format!("rand/r{i}_{n}.bin"), &rng.bytes(*n));
    }
    // More than the largest chunk (8 MiB): at least two chunks.
    put("big/huge.bin", &rng.bytes((9 << 20) + 12_345));
    put("nested/a/b/c/d/deep.txt", b"deep down\n");
    put("nested/a/mid.txt", &rng.text(2000));
    std::os::unix::fs::symlink("../one.txt", root.join("links/rel")).expect("symlink");
    std::os::unix::fs::symlink("/nonexistent/abs/target", root.join("links/abs")).expect("symlink");
    std::os::unix::fs::symlink("../nested", root.join("links/dir")).expect("symlink");
    std::os::unix::fs::symlink("nowhere", root.join("links/dangling")).expect("symlink");
    put("hard/h1", &rng.bytes(50_000));
    std::fs::hard_link(root.join("hard/h1"), root.join("hard/h2")).expect("link");
    std::fs::hard_link(root.join("hard/h1"), root.join("text/h3_link")).expect("link");
    // Sparse: a few islands of data in a mostly empty file.
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::create(root.join("sparse.bin")).expect("create");
        f.set_len(SPARSE_SIZE).expect("set_len");
        f.write_all_at(&rng.bytes(64 << 10), 0).expect("write");
        f.write_all_at(&rng.bytes(4096), 20 << 20).expect("write");
        f.write_all_at(&rng.bytes(4096), SPARSE_SIZE - 4096)
            .expect("write");
    }
    for (name, mode) in [
        ("m600", 0o600),
        ("m755", 0o755),
        ("m444", 0o444),
        ("m4750", 0o4750),
        ("m1777", 0o1777),
    ] {
        put(&format!("modes/{name}"), name.as_bytes());
        chmod(&root.join(format!("modes/{name}")), mode);
    }
    mkfifo(&root.join("special/fifo"), 0o640);
    if is_root() {
        put("owned.txt", b"owned by someone else");
        chown(&root.join("owned.txt"), 1234, 5678);
    }
    // Extended attributes, where the file system takes them.
    put("xattr.txt", b"has attributes");
    let xattrs = try_set_xattr(&root.join("xattr.txt"), "user.comment", b"hello")
        && try_set_xattr(&root.join("xattr.txt"), "user.bin", &[0, 1, 2, 255])
        && try_set_xattr(&root.join("nested"), "user.dir", b"folder attr");
    if !xattrs {
        eprintln!("note: this file system refuses user.* xattrs; not checking them");
    }
    // Distinct times with nanoseconds, deepest first so folders keep theirs.
    let mut all = walk(root);
    all.sort_by_key(|(r, _)| std::cmp::Reverse(r.matches('/').count()));
    for (i, (r, _)) in all.iter().enumerate() {
        set_times(
            &root.join(r),
            1_600_000_000 + i as i64 * 3600,
            123_456_789 + i as i64,
        );
    }
    chmod(&root.join("modes"), 0o750);
    set_times(&root.join("modes"), 1_500_000_000, 5);
    set_times(root, 1_500_000_001, 7);
    let mut inodes = HashSet::new();
    let mut dirs = 1;
    for (_, m) in walk(root) {
        if m.is_file() {
            inodes.insert(m.ino());
        } else if m.is_dir() {
            dirs += 1;
        }
    }
    Made {
        files: inodes.len() as u64,
        dirs,
        xattrs,
    }
}

fn cmp_for(made: &Made) -> Cmp {
    Cmp {
        xattrs: made.xattrs,
        owner: is_root(),
        ..Cmp::ALL
    }
}

#[test]
fn round_trip_restores_every_byte_and_metadata() {
    let env = Env::new();
    let src = env.path("src");
    let made = make_tree(&src, &mut Rng(0xb0b));
    env.init();
    let (id, point) = env.backup_ok(&[&src]);
    assert_eq!(id.len(), 64, "point id is 64 hex digits: {id}");
    let sum = &point["summary"];
    assert_eq!(sum["files"], made.files, "summary: {sum}");
    assert_eq!(sum["dirs"], made.dirs, "summary: {sum}");
    assert_eq!(sum["warnings"], 0, "summary: {sum}");
    assert_eq!(point["consistency"], "consistent");
    assert_eq!(point["paths"][0], s(&src));
    let total: u64 = walk(&src)
        .iter()
        .filter(|(_, m)| m.is_file())
        .map(|(_, m)| (m.ino(), m.len()))
        .collect::<HashSet<_>>()
        .iter()
        .map(|(_, l)| l)
        .sum();
    assert_eq!(sum["bytes"], total, "summary bytes: {sum}");
    // The sparse file's long zero runs are recorded as holes, not stored.
    let r = rel(&src);
    let ls = env.ok_json(&["ls", &id, &format!("{r}/sparse.bin")]);
    let holes: u64 = ls[0]["chunks"]
        .as_array()
        .expect("chunks")
        .iter()
        .filter_map(|c| c.as_u64())
        .sum();
    assert!(
        holes >= 16 << 20,
        "only {holes} bytes of the sparse file's zeros are holes: {ls}"
    );
    let added = sum["added_bytes"].as_u64().expect("added_bytes");
    // (The tree stream, a few kB, counts as added too.)
    assert!(
        added <= total - holes + (256 << 10),
        "added {added} of {total} with {holes} in holes"
    );

    let target = env.path("restore");
    let out = env.restore(&id, &target, &[]).expect_code(exit::OK);
    let report = &out.json()["report"];
    assert_eq!(report["errors"].as_array().map(Vec::len), Some(0), "{out}");
    assert_eq!(report["files"], made.files, "{out}");
    let back = restored_root(&target, &src);
    assert_same_tree(&src, &back, cmp_for(&made));

    let sparse = back.join("sparse.bin");
    assert_eq!(std::fs::metadata(&sparse).expect("stat").len(), SPARSE_SIZE);
    assert!(
        allocated(&sparse) < SPARSE_SIZE,
        "restored sparse file is not sparse: {} bytes allocated of {SPARSE_SIZE}",
        allocated(&sparse)
    );
    if made.xattrs {
        assert_eq!(
            xattrs(&back.join("xattr.txt"))
                .get("user.bin")
                .map(Vec::as_slice),
            Some(&[0u8, 1, 2, 255][..])
        );
    }
    env.verify_clean("after first backup");
}

#[test]
fn incremental_backups_ls_diff_points_and_point_selection() {
    let env = Env::new();
    let src = env.path("src");
    let made = make_tree(&src, &mut Rng(0xcafe));
    env.init();
    let (id1, p1) = env.backup_ok(&[&src]);
    assert_eq!(p1["summary"]["unchanged_files"], 0);
    assert!(p1["parent"].is_null(), "first point has no parent: {p1}");

    // Nothing changed: every file is taken from the parent unread, ~nothing is added.
    let (id2, p2) = env.backup_ok(&[&src]);
    assert_ne!(id1, id2);
    assert_eq!(p2["parent"], id1.as_str(), "parent of the second point");
    let sum = &p2["summary"];
    assert_eq!(sum["unchanged_files"], made.files, "summary: {sum}");
    assert!(
        sum["added_bytes"].as_u64().expect("added") < 64 * 1024,
        "an unchanged tree added data: {sum}"
    );

    // Change one file, add one, delete one.
    let mut rng = Rng(7);
    let changed = src.join("rand/r5_1000000.bin");
    let mut data = std::fs::read(&changed).expect("read");
    data.extend_from_slice(&rng.bytes(1000));
    std::fs::write(&changed, &data).expect("write");
    std::fs::write(src.join("nested/new.txt"), rng.text(5000)).expect("write");
    std::fs::remove_file(src.join("text/t1_100.txt")).expect("rm");
    let (id3, p3) = env.backup_ok(&[&src]);
    let sum = &p3["summary"];
    assert_eq!(sum["files"], made.files, "one added, one removed: {sum}");
    assert_eq!(
        sum["unchanged_files"],
        made.files - 2,
        "the changed and the new file are read, nothing else: {sum}"
    );
    let added = sum["added_bytes"].as_u64().expect("added");
    assert!(
        (5000..=1_001_000 + 5000 + 64 * 1024).contains(&added),
        "added {added} bytes for a 1 MB change and a 5 kB file"
    );

    // points -o json: three points, oldest first, with their summaries.
    let (ids, pj) = env.points();
    assert_eq!(ids, vec![id1.clone(), id2.clone(), id3.clone()], "{pj}");
    assert_eq!(pj["unreadable"].as_array().map(Vec::len), Some(0));
    assert_eq!(pj["points"][2]["point"]["summary"], p3["summary"]);
    assert_eq!(pj["points"][0]["point"]["kind"], "files");

    // diff: exactly one +, one -, one M; metadata lines only for folders.
    let out = env.run(&["diff", &id2, &id3]).expect_code(exit::OK);
    let r = rel(&src);
    let mut lines: BTreeSet<String> = BTreeSet::new();
    for l in out.stdout.lines() {
        if let Some(p) = l.strip_prefix("U ") {
            let p = p.trim_start_matches('/');
            let m = std::fs::symlink_metadata(format!("/{p}")).expect("U line names a path");
            assert!(m.is_dir(), "metadata change reported for a non-folder: {l}");
        } else {
            lines.insert(l.to_string());
        }
    }
    let want: BTreeSet<String> = [
        format!("M /{r}/rand/r5_1000000.bin"),
        format!("+ /{r}/nested/new.txt"),
        format!("- /{r}/text/t1_100.txt"),
    ]
    .into_iter()
    .collect();
    assert_eq!(lines, want, "diff output:\n{}", out.stdout);
    let out = env.run(&["diff", &id1, &id2]).expect_code(exit::OK);
    assert!(
        out.stdout.lines().all(|l| l.starts_with("U ")),
        "unchanged backups differ: {}",
        out.stdout
    );

    // ls: every path, with the leading slash; -l shows symlink targets; a subtree.
    let out = env.run(&["ls", "latest"]).expect_code(exit::OK);
    let listed: BTreeSet<&str> = out.stdout.lines().collect();
    for (p, _) in walk(&src) {
        let want = format!("/{r}/{p}");
        assert!(listed.contains(want.as_str()), "ls lacks {want}");
    }
    assert!(listed.contains(format!("/{r}").as_str()));
    let sub = format!("{r}/links");
    let out = env.run(&["ls", "latest", &sub, "-l"]).expect_code(exit::OK);
    assert_eq!(out.stdout.lines().count(), 5, "{out}");
    assert!(
        out.stdout
            .contains(&format!("/{r}/links/rel -> ../one.txt")),
        "{out}"
    );
    let json = env.ok_json(&["ls", "latest", &format!("/{r}/hard")]);
    let types: Vec<&str> = json
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    assert_eq!(types, ["dir", "file", "hardlink"], "{json}");
    env.run_json(&["ls", "latest", &format!("{r}/no/such/path")])
        .expect_error(exit::USAGE, "PATH_NOT_FOUND");

    // latest is the newest point; unique prefixes select points.
    let latest = env.run(&["ls", "latest"]).stdout;
    let by_id = env.run(&["ls", &id3[..8]]).expect_code(exit::OK).stdout;
    assert_eq!(latest, by_id);
    let first = env.ok_json(&["ls", &id1[..6], &format!("{r}/text")]);
    let names: Vec<&str> = first
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["path"].as_str().expect("path"))
        .collect();
    assert!(
        names.contains(&format!("{r}/text/t1_100.txt").as_str()),
        "the first point still has the deleted file: {names:?}"
    );
    let upper = id1[..10].to_ascii_uppercase();
    env.run_json(&["ls", &upper]).expect_code(exit::OK);
    env.run_json(&["ls", &id1[..3]])
        .expect_error(exit::USAGE, "POINT_NOT_FOUND");
    let absent = (0..0x10000u32)
        .map(|i| format!("{i:04x}"))
        .find(|p| !ids.iter().any(|id| id.starts_with(p.as_str())))
        .expect("a free prefix");
    env.run_json(&["restore", &absent, "--target", s(&env.path("x"))])
        .expect_error(exit::USAGE, "POINT_NOT_FOUND");
    env.run_json(&["ls", "newest"])
        .expect_error(exit::USAGE, "POINT_NOT_FOUND");

    // Each point restores to its own state: the first one by prefix.
    let target = env.path("r1");
    env.restore(&id1[..8], &target, &[]).expect_code(exit::OK);
    let back = restored_root(&target, &src);
    assert!(back.join("text/t1_100.txt").exists());
    assert!(!back.join("nested/new.txt").exists());
    assert_eq!(
        std::fs::read(back.join("rand/r5_1000000.bin"))
            .expect("read")
            .len(),
        1_000_000
    );
    let target = env.path("r3");
    env.restore("latest", &target, &[]).expect_code(exit::OK);
    assert_same_tree(&src, &restored_root(&target, &src), cmp_for(&made));
}

#[test]
fn restore_subsets_and_conflict_modes() {
    let env = Env::new();
    let src = env.path("src");
    let mut rng = Rng(99);
    for d in ["a", "a/inner", "b", "c"] {
        std::fs::create_dir_all(src.join(d)).expect("mkdir");
    }
    for (p, n) in [
        ("a/one", 1000),
        ("a/inner/two", 600_000),
        ("b/three", 3000),
        ("c/four", 10),
        ("top", 77),
    ] {
        std::fs::write(src.join(p), rng.bytes(n)).expect("write");
    }
    std::os::unix::fs::symlink("one", src.join("a/link")).expect("symlink");
    env.init();
    let (id, _) = env.backup_ok(&[&src]);
    let r = rel(&src);

    // --include: only that subtree (and its ancestors) comes back.
    let t = env.path("subset");
    env.restore(
        &id,
        &t,
        &[
            "--include",
            &format!("{r}/a"),
            "--include",
            &format!("/{r}/c/four"),
        ],
    )
    .expect_code(exit::OK);
    let back = restored_root(&t, &src);
    assert_same_tree(&src.join("a"), &back.join("a"), Cmp::ALL);
    assert_eq!(
        std::fs::read(back.join("c/four")).ok(),
        std::fs::read(src.join("c/four")).ok()
    );
    let got: BTreeSet<String> = walk(&back).into_iter().map(|(p, _)| p).collect();
    let want: BTreeSet<String> = [
        "a",
        "a/inner",
        "a/inner/two",
        "a/link",
        "a/one",
        "c",
        "c/four",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(got, want, "--include restored more or less than asked");

    // A full restore, then local edits to the restored tree.
    let t = env.path("full");
    env.restore(&id, &t, &[]).expect_code(exit::OK);
    let back = restored_root(&t, &src);
    assert_same_tree(&src, &back, Cmp::ALL);
    std::fs::write(back.join("a/one"), b"edited locally").expect("write");
    std::fs::remove_file(back.join("b/three")).expect("rm");

    // Default: refuse with TARGET_EXISTS and leave the edit alone.
    env.restore(&id, &t, &[])
        .expect_error(exit::USAGE, "TARGET_EXISTS");
    assert_eq!(
        std::fs::read(back.join("a/one")).expect("read"),
        b"edited locally"
    );

    // --skip-existing: keeps the edit, brings back the missing file.
    let out = env
        .restore(&id, &t, &["--skip-existing"])
        .expect_code(exit::OK);
    let rep = &out.json()["report"];
    assert!(rep["skipped"].as_u64().expect("skipped") >= 4, "{out}");
    assert_eq!(rep["files"], 1, "only the missing file is written: {out}");
    assert_eq!(
        std::fs::read(back.join("a/one")).expect("read"),
        b"edited locally"
    );
    assert_eq!(
        std::fs::read(back.join("b/three")).ok(),
        std::fs::read(src.join("b/three")).ok()
    );

    // --overwrite: everything as backed up again.
    std::fs::write(back.join("top"), b"x").expect("write");
    env.restore(&id, &t, &["--overwrite"]).expect_code(exit::OK);
    assert_same_tree(&src, &back, Cmp::ALL);

    // --overwrite and --skip-existing together are a usage error.
    let out = env.restore(&id, &t, &["--overwrite", "--skip-existing"]);
    assert_eq!(out.code, exit::USAGE, "{out}");
}

#[test]
fn forget_and_gc_free_space_and_keep_the_rest_restorable() {
    let env = Env::new();
    let src = env.path("src");
    let mut rng = Rng(2024);
    std::fs::create_dir_all(src.join("d")).expect("mkdir");
    std::fs::write(src.join("d/big.bin"), rng.bytes(12 << 20)).expect("write");
    for i in 0..20 {
        std::fs::write(src.join(format!("d/f{i}")), rng.bytes(20_000)).expect("write");
    }
    env.init_with(&["--pack-size-mib", "2"]);
    env.backup_ok(&[&src]);
    std::fs::write(src.join("d/f3"), rng.bytes(30_000)).expect("write");
    env.backup_ok(&[&src]);
    // The big file goes: only the forgotten points need its 12 MiB.
    std::fs::remove_file(src.join("d/big.bin")).expect("rm");
    std::fs::write(src.join("d/small"), rng.text(4000)).expect("write");
    let (keep, _) = env.backup_ok(&[&src]);
    let (ids, _) = env.points();
    assert_eq!(ids.len(), 3);
    let packs_before = du(&env.vault.join("packs"));
    assert!(packs_before > 12 << 20, "packs hold {packs_before} bytes");

    // A dry run plans but deletes nothing.
    let state = dir_state(&env.vault);
    let plan = env.ok_json(&["forget", "--keep-last", "1", "--dry-run"]);
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["removed"], 0);
    let items = plan["plan"].as_array().expect("plan");
    assert_eq!(items.len(), 3, "{plan}");
    let kept: Vec<&str> = items
        .iter()
        .filter(|i| i["keep"] == true)
        .map(|i| i["id"].as_str().expect("id"))
        .collect();
    assert_eq!(kept, [keep.as_str()], "{plan}");
    assert!(
        dir_state(&env.vault) == state,
        "forget --dry-run changed the vault"
    );
    assert_eq!(env.points().0.len(), 3);
    env.ok_json(&["gc", "--dry-run"]);
    assert!(
        dir_state(&env.vault) == state,
        "gc --dry-run changed the vault"
    );

    let done = env.ok_json(&["forget", "--keep-last", "1"]);
    assert_eq!(done["removed"], 2, "{done}");
    assert_eq!(env.points().0, vec![keep.clone()]);

    // Two gc runs: the first condemns, the second deletes.
    let g1 = env.ok_json(&["gc"]);
    assert!(
        g1["packs_condemned"].as_u64().expect("condemned") > 0,
        "first gc condemned nothing: {g1}"
    );
    let g2 = env.ok_json(&["gc"]);
    assert!(
        g2["packs_deleted"].as_u64().expect("deleted") > 0,
        "second gc deleted nothing: {g2}"
    );
    let packs_after = du(&env.vault.join("packs"));
    assert!(
        packs_after + (11 << 20) < packs_before,
        "gc freed too little: packs {packs_before} -> {packs_after} bytes"
    );
    env.verify_clean("after forget and gc");
    let t = env.path("restore");
    env.restore("latest", &t, &[]).expect_code(exit::OK);
    assert_same_tree(&src, &restored_root(&t, &src), Cmp::ALL);
}

/// A sparse file with a few small islands of data must come back about as
/// sparse as it was: zero runs inside stored chunks should not be written out.
#[test]
fn sparse_file_keeps_its_holes() {
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    let f = src.join("sparse.img");
    {
        use std::os::unix::fs::FileExt;
        let mut rng = Rng(5);
        let file = std::fs::File::create(&f).expect("create");
        file.set_len(64 << 20).expect("set_len");
        for at in [0u64, 24 << 20, (60 << 20) + 12_345] {
            file.write_all_at(&rng.bytes(4096), at).expect("write");
        }
    }
    let before = allocated(&f);
    env.init();
    env.backup_ok(&[&src]);
    let t = env.path("restore");
    env.restore("latest", &t, &[]).expect_code(exit::OK);
    let back = restored_root(&t, &src).join("sparse.img");
    assert_same_tree(&src, &restored_root(&t, &src), Cmp::ALL);
    let after = allocated(&back);
    eprintln!("sparse file: {before} bytes allocated in the source, {after} restored");
    assert!(
        after <= before + (1 << 20),
        "restored sparse file has {after} bytes allocated; the source had {before}"
    );
}
