//! What the library-level store tests share: a fresh vault in a temporary
//! folder (cheap KDF parameters) and a file backup with default options.

use std::path::Path;
use std::sync::Arc;

use lifeboat_store::Vault;
use lifeboat_store::backend::{Backend, BackendUrl, open};
use lifeboat_store::backup::{BackupOptions, BackupOutcome, backup_files};
use lifeboat_store::config::VaultConfig;
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
