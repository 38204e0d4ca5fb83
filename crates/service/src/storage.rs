//! Vault storage on disk: one store per catalog vault in
//! `<data>/vaults/<vault id>/`, its passphrase a random 256-bit secret in
//! `<data>/secrets/vault-<vault id>.key` (mode 0600, folder 0700), and the
//! stores' local index caches in `<data>/cache/`.
//!
//! Every method here is blocking (file I/O, and opening a store runs its
//! key-derivation function): call it from `spawn_blocking`, or use the
//! `*_async` wrappers. Opened stores are kept, so the KDF runs once per
//! vault and process.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lifeboat_catalog::VaultId;
use lifeboat_store::Vault;
use lifeboat_store::backend::{Backend, LocalBackend};
use lifeboat_store::config::VaultConfig;
use lifeboat_store::keyfile::KdfParams;

use crate::error::{Result, ServiceError, codes};

/// The vault stores under one data folder. Cheap to clone.
#[derive(Clone)]
pub struct VaultStorage {
    inner: Arc<Inner>,
}

struct Inner {
    data_dir: PathBuf,
    open: Mutex<HashMap<VaultId, Arc<Vault>>>,
}

impl std::fmt::Debug for VaultStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultStorage")
            .field("data_dir", &self.inner.data_dir)
            .finish()
    }
}

impl VaultStorage {
    /// Storage under `data_dir` (created on first use).
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        VaultStorage {
            inner: Arc::new(Inner {
                data_dir: data_dir.into(),
                open: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// The folder of a vault's store.
    pub fn vault_dir(&self, id: VaultId) -> PathBuf {
        self.inner.data_dir.join("vaults").join(id.to_string())
    }

    /// The file holding a vault's passphrase.
    pub fn key_path(&self, id: VaultId) -> PathBuf {
        self.inner
            .data_dir
            .join("secrets")
            .join(format!("vault-{id}.key"))
    }

    fn cache_root(&self) -> PathBuf {
        self.inner.data_dir.join("cache")
    }

    /// Whether the vault's store exists.
    pub fn exists(&self, id: VaultId) -> bool {
        self.vault_dir(id).join("config").exists()
    }

    /// Creates the store of a new vault with a fresh random passphrase.
    /// `VAULT_STORAGE` when the vault already has a store or a key file
    /// (a catalog recreated over an old data folder).
    pub fn create(&self, id: VaultId) -> Result<()> {
        let dir = self.vault_dir(id);
        let key = self.key_path(id);
        if key.exists() || dir.join("config").exists() {
            return Err(ServiceError::refused(
                codes::VAULT_STORAGE,
                dir.display().to_string(),
                format!(
                    "vault {id} already has storage at {} (key {}); \
                     move the old data folder away or use a new --data folder",
                    dir.display(),
                    key.display()
                ),
            ));
        }
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| {
            ServiceError::Internal(format!("the operating system's random source failed: {e}"))
        })?;
        let passphrase = hex::encode(secret);
        write_secret(&key, passphrase.as_bytes())?;
        fs::create_dir_all(&dir).map_err(|e| ServiceError::io(dir.display().to_string(), e))?;
        let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(&dir));
        let vault = Vault::init(
            backend,
            passphrase.as_bytes(),
            KdfParams::from_env_or_default(),
            VaultConfig::new_default(),
        )?
        .with_cache_root(self.cache_root());
        self.lock().insert(id, Arc::new(vault));
        Ok(())
    }

    /// Opens a vault's store (once per process; later calls share it).
    pub fn open(&self, id: VaultId) -> Result<Arc<Vault>> {
        if let Some(v) = self.lock().get(&id) {
            return Ok(v.clone());
        }
        let dir = self.vault_dir(id);
        let key = self.key_path(id);
        let passphrase = fs::read(&key).map_err(|e| {
            ServiceError::refused(
                codes::VAULT_STORAGE,
                key.display().to_string(),
                format!(
                    "cannot read the key of vault {id} at {}: {e}",
                    key.display()
                ),
            )
        })?;
        let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(&dir));
        let vault = Arc::new(
            Vault::open(backend, trim_newline(&passphrase))?.with_cache_root(self.cache_root()),
        );
        Ok(self.lock().entry(id).or_insert(vault).clone())
    }

    /// Deletes a vault's store, its cache and its key (vault deletion). The
    /// folder is first renamed aside, so a crash leaves either the whole
    /// store or a `.deleted-*` folder that the next removal cleans up.
    /// Missing parts are fine.
    pub fn remove(&self, id: VaultId) -> Result<()> {
        let cached = self.lock().remove(&id);
        let dir = self.vault_dir(id);
        let vaults = self.inner.data_dir.join("vaults");
        let aside = vaults.join(format!(".deleted-{id}"));
        if aside.exists() {
            fs::remove_dir_all(&aside)
                .map_err(|e| ServiceError::io(aside.display().to_string(), e))?;
        }
        let store_id = cached.map(|v| v.config().vault_id.clone()).or_else(|| {
            let b = LocalBackend::new(&dir);
            Vault::read_config(&b).ok().map(|c| c.vault_id)
        });
        if dir.exists() {
            fs::rename(&dir, &aside).map_err(|e| ServiceError::io(dir.display().to_string(), e))?;
            sync_dir(&vaults);
            fs::remove_dir_all(&aside)
                .map_err(|e| ServiceError::io(aside.display().to_string(), e))?;
        }
        if let Some(sid) = store_id {
            let cache = self.cache_root().join(sid);
            if cache.exists() {
                fs::remove_dir_all(&cache)
                    .map_err(|e| ServiceError::io(cache.display().to_string(), e))?;
            }
        }
        let key = self.key_path(id);
        match fs::remove_file(&key) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ServiceError::io(key.display().to_string(), e)),
        }
        Ok(())
    }

    /// [`VaultStorage::create`] on the blocking pool.
    pub async fn create_async(&self, id: VaultId) -> Result<()> {
        let s = self.clone();
        tokio::task::spawn_blocking(move || s.create(id)).await?
    }

    /// [`VaultStorage::open`] on the blocking pool.
    pub async fn open_async(&self, id: VaultId) -> Result<Arc<Vault>> {
        let s = self.clone();
        tokio::task::spawn_blocking(move || s.open(id)).await?
    }

    /// [`VaultStorage::remove`] on the blocking pool.
    pub async fn remove_async(&self, id: VaultId) -> Result<()> {
        let s = self.clone();
        tokio::task::spawn_blocking(move || s.remove(id)).await?
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<VaultId, Arc<Vault>>> {
        self.inner.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn trim_newline(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 0 && (b[end - 1] == b'\n' || b[end - 1] == b'\r') {
        end -= 1;
    }
    &b[..end]
}

/// Writes a secret atomically: a 0600 temporary file in a 0700 folder,
/// fsync, rename over, fsync the folder. Refuses to replace an existing key.
fn write_secret(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| ServiceError::Internal(format!("{} has no folder", path.display())))?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| ServiceError::io(dir.display().to_string(), e))?;
    // An existing folder keeps its mode from DirBuilder: tighten it.
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| ServiceError::io(dir.display().to_string(), e))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("key");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        // Hard link instead of rename: fails if the key appeared meanwhile.
        fs::hard_link(&tmp, path)?;
        fs::remove_file(&tmp)?;
        Ok(())
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        return Err(ServiceError::io(path.display().to_string(), e));
    }
    sync_dir(dir);
    Ok(())
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_open_remove() {
        // SAFETY: tests in this binary set the same cheap KDF values.
        unsafe {
            std::env::set_var("LIFEBOAT_KDF_M_KIB", "64");
            std::env::set_var("LIFEBOAT_KDF_T", "1");
        }
        let dir = tempfile::tempdir().unwrap();
        let s = VaultStorage::new(dir.path());
        let id = VaultId(7);
        s.create(id).unwrap();
        assert!(s.exists(id));
        let key = s.key_path(id);
        let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = fs::metadata(key.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dmode, 0o700);
        assert_eq!(fs::read(&key).unwrap().len(), 64);
        let e = s.create(id).unwrap_err();
        assert_eq!(e.code(), codes::VAULT_STORAGE);
        // A fresh handle opens through the key file.
        let s2 = VaultStorage::new(dir.path());
        let v = s2.open(id).unwrap();
        assert!(v.point_ids().unwrap().is_empty());
        s2.remove(id).unwrap();
        assert!(!s2.exists(id));
        assert!(!key.exists());
        assert!(s2.open(id).is_err());
        // Removing twice is fine.
        s2.remove(id).unwrap();
    }
}
