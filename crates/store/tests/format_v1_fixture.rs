//! A vault written by format version 1 is kept in `tests/fixtures/vault-v1`
//! and must stay readable by every later Lifeboat. The content it holds is
//! made by `fixture_source` below; regenerate the fixture only when
//! introducing a format version (then keep the old one too):
//! `LIFEBOAT_WRITE_FIXTURE=1 cargo test -p lifeboat-store --test format_v1_fixture -- --ignored`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lifeboat_store::Vault;
use lifeboat_store::backend::{Backend, BackendUrl, open};
use lifeboat_store::restore::{RestoreOptions, restore};
use lifeboat_store::upload::Progress;
use lifeboat_store::verify::{ReadData, verify};

const PASSPHRASE: &[u8] = b"lifeboat format v1 fixture";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vault-v1")
}

/// The files the fixture's point holds: (relative path, content).
fn fixture_source() -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    m.insert(
        "src/readme.txt".into(),
        b"Lifeboat format v1 fixture\n".to_vec(),
    );
    m.insert("src/empty".into(), Vec::new());
    m.insert(
        "src/logs/app.log".into(),
        b"2026-11-25 INFO started\n".repeat(2000),
    );
    // The same bytes as when the fixture was made (the seed is odd, so
    // `noise` starts from it unchanged).
    let random = lifeboat_testkit::noise(0x1234_5678_9abc_def1, 150_000);
    m.insert("src/data/random.bin".into(), random);
    m
}

fn read_tree(root: &Path, base: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    for e in std::fs::read_dir(root).expect("read_dir") {
        let e = e.expect("entry");
        if e.file_type().expect("type").is_dir() {
            read_tree(&e.path(), base, out);
        } else {
            let rel = e
                .path()
                .strip_prefix(base)
                .expect("under base")
                .display()
                .to_string();
            out.insert(rel, std::fs::read(e.path()).expect("read"));
        }
    }
}

#[test]
fn a_format_v1_vault_still_opens_verifies_and_restores() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Work on a copy: reading must not need to write, but the test should
    // never be able to change the fixture either.
    let copy = tmp.path().join("vault");
    copy_dir(&fixture_dir(), &copy);
    let backend: Arc<dyn Backend> = open(&BackendUrl::file(&copy)).expect("open backend");
    let vault = Vault::open(backend, PASSPHRASE)
        .expect("open the v1 fixture")
        .with_cache_root(tmp.path().join("cache"));
    assert_eq!(vault.config().lifeboat_vault, 1);
    let report = verify(&vault, ReadData::All, false).expect("verify");
    assert!(report.is_clean(), "{report:?}");
    let (points, bad) = vault.points().expect("points");
    assert!(bad.is_empty());
    assert_eq!(points.len(), 1);
    let (id, p) = &points[0];
    let target = tmp.path().join("out");
    let r = restore(
        &vault,
        id,
        p,
        &target,
        &RestoreOptions::default(),
        Arc::new(Progress::default()),
    )
    .expect("restore");
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    // The point was made from a folder named `fixture-source`, wherever it was.
    let root = target.join(p.paths[0].trim_start_matches('/'));
    let mut got = BTreeMap::new();
    read_tree(&root, root.parent().expect("parent"), &mut got);
    let want: BTreeMap<String, Vec<u8>> = fixture_source()
        .into_iter()
        .map(|(k, v)| (k.replacen("src", "fixture-source", 1), v))
        .collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    assert!(
        got == want,
        "restored content differs from what format v1 stored"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).expect("copy");
        }
    }
}

#[test]
#[ignore = "writes the fixture; run only when introducing a format version"]
fn write_fixture() {
    if std::env::var_os("LIFEBOAT_WRITE_FIXTURE").is_none() {
        return;
    }
    use lifeboat_store::backup::{BackupOptions, backup_files};
    use lifeboat_store::config::VaultConfig;
    use lifeboat_store::keyfile::KdfParams;
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("fixture-source");
    for (rel, content) in fixture_source() {
        let p = src.join(rel.trim_start_matches("src/"));
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }
    let dir = fixture_dir();
    let _ = std::fs::remove_dir_all(&dir);
    let backend: Arc<dyn Backend> = open(&BackendUrl::file(&dir)).expect("open backend");
    let vault = Vault::init(
        backend,
        PASSPHRASE,
        KdfParams::MINIMAL,
        VaultConfig::new_default(),
    )
    .expect("init")
    .with_cache_root(tmp.path().join("cache"));
    let opts = BackupOptions {
        host: Some("fixture".into()),
        ..Default::default()
    };
    backup_files(
        &vault,
        &[src],
        &opts,
        Arc::new(Progress::default()),
        &mut |_| {},
    )
    .expect("backup");
}
