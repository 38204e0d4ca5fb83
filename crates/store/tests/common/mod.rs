//! What the library-level store tests share: a fresh vault in a temporary
//! folder (cheap KDF parameters), a file backup with default options, and
//! a source folder of pseudo-random data.

#![allow(dead_code)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lifeboat_store::Vault;
use lifeboat_store::backend::{Backend, BackendUrl, open};
use lifeboat_store::backup::{BackupOptions, BackupOutcome, backup_files};
use lifeboat_store::config::VaultConfig;
use lifeboat_store::id::PackId;
use lifeboat_store::keyfile::KdfParams;
use lifeboat_store::upload::Progress;

/// A new vault in `dir/vault`, its index cache in `dir/cache`.
pub fn vault_at(dir: &Path) -> Vault {
    let backend: Arc<dyn Backend> =
        open(&BackendUrl::file(dir.join("vault"))).expect("open backend");
    Vault::init(
        backend,
        b"pw",
        KdfParams::MINIMAL,
        VaultConfig::new_default(),
    )
    .expect("init")
    .with_cache_root(dir.join("cache"))
}

/// Backs up one folder with default options.
pub fn backup(v: &Vault, src: &Path) -> BackupOutcome {
    backup_files(
        v,
        &[src.to_path_buf()],
        &BackupOptions::default(),
        Arc::new(Progress::default()),
        &mut |_| {},
    )
    .expect("backup")
}

/// `dir/name` holding one 600 kB file of pseudo-random bytes that depend
/// on `seed` (made anew on each call).
pub fn source_with(dir: &Path, name: &str, seed: u8) -> PathBuf {
    let src = dir.join(name);
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(&src).expect("mkdir");
    let body: Vec<u8> = (0..600_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ seed)
        .collect();
    std::fs::write(src.join("data.bin"), body).expect("write");
    src
}

/// The packs the vault's index names.
pub fn indexed_packs(v: &Vault) -> HashSet<PackId> {
    v.load_index().expect("index").packs().expect("packs")
}
