//! Vault storage on disk: one store per catalog vault in
//! `<data>/vaults/<vault id>/`, its passphrase a random 256-bit secret
//! wrapped by a key-encryption key ([`crate::kek`]) in
//! `<data>/secrets/vault-<vault id>.key` (mode 0600, folder 0700), and the
//! stores' local index caches in `<data>/cache/`.
//!
//! Every method here is blocking (file I/O, and opening a store runs its
//! key-derivation function): call it from `spawn_blocking`, or use the
//! `*_async` wrappers. Opened stores are kept, so the KDF runs once per
//! vault and process.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lifeboat_catalog::VaultId;
use lifeboat_store::Vault;
use lifeboat_store::backend::{self, Backend, BackendUrl};
use lifeboat_store::config::VaultConfig;
use lifeboat_store::keyfile::KdfParams;

use crate::error::{Result, ServiceError, codes};
use crate::kek::{KeyConfig, KeyRing};
use crate::secret_file::{sync_dir, write_new, write_replace};

/// The vault stores under one data folder. Cheap to clone.
#[derive(Clone)]
pub struct VaultStorage {
    inner: Arc<Inner>,
}

struct Inner {
    data_dir: PathBuf,
    keys: KeyRing,
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
    /// Storage under `data_dir` (created on first use), vault secrets
    /// wrapped by the platform key.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self::with_keys(data_dir, KeyConfig::default())
    }

    /// Storage under `data_dir` with these key-encryption key settings.
    pub fn with_keys(data_dir: impl Into<PathBuf>, keys: KeyConfig) -> Self {
        let data_dir = data_dir.into();
        VaultStorage {
            inner: Arc::new(Inner {
                keys: KeyRing::new(data_dir.join("secrets"), keys),
                data_dir,
                open: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The key-encryption keys.
    pub fn keys(&self) -> &KeyRing {
        &self.inner.keys
    }

    /// Creates the platform key if missing (rotating it when asked), then
    /// re-wraps every vault secret that is not under the current provider
    /// (old plain files included). Each file is replaced atomically, so a
    /// crash leaves every vault openable with the old or the new KEK. A
    /// vault whose old key is unavailable is left as it is (its jobs fail
    /// with the key's code until the key comes back). Returns how many
    /// files were re-wrapped and the vaults that could not be.
    pub fn rewrap_all(&self) -> Result<(usize, Vec<(String, ServiceError)>)> {
        let keys = &self.inner.keys;
        keys.prepare()?;
        let dir = self.inner.data_dir.join("secrets");
        let mut done = 0;
        let mut failed = Vec::new();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, failed)),
            Err(e) => return Err(ServiceError::io(dir.display().to_string(), e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| ServiceError::io(dir.display().to_string(), e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(".vault-") && name.contains(".tmp-") {
                // A temporary file of an interrupted write.
                let _ = fs::remove_file(entry.path());
                continue;
            }
            let Some(id) = name
                .strip_prefix("vault-")
                .and_then(|n| n.strip_suffix(".key"))
            else {
                continue;
            };
            let path = entry.path();
            let file =
                fs::read(&path).map_err(|e| ServiceError::io(path.display().to_string(), e))?;
            if keys.is_current(&file) {
                continue;
            }
            let r = keys
                .unwrap(id, &file)
                .and_then(|secret| keys.wrap(id, &secret))
                .and_then(|wrapped| write_replace(&path, &wrapped));
            match r {
                Ok(()) => done += 1,
                Err(e) => {
                    tracing::warn!(vault = %id, code = %e.code(), "cannot re-wrap the vault's key: {e}");
                    failed.push((id.to_owned(), e));
                }
            }
        }
        Ok((done, failed))
    }

    /// Reads and unwraps a vault's secret: the passphrase of its store.
    pub fn secret(&self, id: VaultId) -> Result<Vec<u8>> {
        let key = self.key_path(id);
        let file = fs::read(&key).map_err(|e| {
            ServiceError::refused(
                codes::VAULT_STORAGE,
                key.display().to_string(),
                format!(
                    "cannot read the key of vault {id} at {}: {e}",
                    key.display()
                ),
            )
        })?;
        self.inner.keys.unwrap(&id.to_string(), &file)
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// The folder of a vault's store.
    pub fn vault_dir(&self, id: VaultId) -> PathBuf {
        self.inner.data_dir.join("vaults").join(id.to_string())
    }

    /// Where a vault's store lives, as the backend URL it is opened by.
    pub fn vault_url(&self, id: VaultId) -> BackendUrl {
        BackendUrl::file(self.vault_dir(id))
    }

    /// The backend of a vault's store (with the default retries of
    /// transient failures), whatever kind of backend that is.
    pub fn backend(&self, id: VaultId) -> Result<Arc<dyn Backend>> {
        Ok(backend::open(&self.vault_url(id)).map_err(lifeboat_store::Error::from)?)
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

    /// The vaults that have a store folder under `<data>/vaults`, by id —
    /// what is there even when the catalog is gone.
    pub fn store_ids(&self) -> Result<Vec<VaultId>> {
        let root = self.inner.data_dir.join("vaults");
        let entries = match fs::read_dir(&root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(ServiceError::io(root.display().to_string(), e)),
        };
        let mut ids = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| ServiceError::io(root.display().to_string(), e))?;
            // Other names are the `.deleted-*` leftovers of a removal.
            if let Some(id) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                ids.push(VaultId(id));
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Writes a vault's store passphrase, unwrapped, to a new file (0600,
    /// atomic; an existing file is never overwritten), so that the store
    /// can be opened with `lifeboat store` without the server or the
    /// catalog (`lifeboat vault-key export`).
    pub fn export_passphrase(&self, id: VaultId, to: &Path) -> Result<()> {
        let passphrase = self.secret(id)?;
        match write_private_new(to, &passphrase) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(ServiceError::refused(
                codes::INVALID_ARGUMENT,
                to.display().to_string(),
                format!(
                    "{} already exists; the passphrase is only written to a new file",
                    to.display()
                ),
            )),
            Err(e) => Err(ServiceError::io(to.display().to_string(), e)),
            Ok(()) => Ok(()),
        }
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
        let wrapped = self
            .inner
            .keys
            .wrap(&id.to_string(), passphrase.as_bytes())?;
        write_new(&key, &wrapped)?;
        fs::create_dir_all(&dir).map_err(|e| ServiceError::io(dir.display().to_string(), e))?;
        let vault = Vault::init(
            self.backend(id)?,
            passphrase.as_bytes(),
            KdfParams::from_env_or_default(),
            VaultConfig::new_default(),
        )?
        .with_cache_root(self.cache_root());
        self.lock().insert(id, Arc::new(vault));
        Ok(())
    }

    /// Opens a vault's store (the KDF once per process; later calls share
    /// it). Every call unwraps the vault's secret again, so a vault whose
    /// key-encryption key went away stops opening at once
    /// (`KEY_UNAVAILABLE`, `KEY_MISMATCH`), and opens again when it is back.
    pub fn open(&self, id: VaultId) -> Result<Arc<Vault>> {
        let passphrase = self.secret(id)?;
        if let Some(v) = self.lock().get(&id) {
            return Ok(v.clone());
        }
        let vault = Arc::new(
            Vault::open(self.backend(id)?, &passphrase)?.with_cache_root(self.cache_root()),
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
            let b = self.backend(id).ok()?;
            Vault::read_config(b.as_ref()).ok().map(|c| c.vault_id)
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

/// Writes `data` to a new file readable by its owner only: a temporary file
/// in the same folder, fsynced, then hard-linked to `to` (which fails if
/// `to` exists, so nothing is ever overwritten) and the folder fsynced. A
/// crash leaves no file or the whole one. Unlike the secrets folder's
/// writer it leaves the folder's mode alone: the folder is the user's.
fn write_private_new(to: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = match to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = to
        .file_name()
        .ok_or_else(|| std::io::Error::other(format!("{} names no file", to.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::hard_link(&tmp, to)
    })();
    let _ = fs::remove_file(&tmp);
    written?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

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
        // Wrapped by the platform key, not the passphrase in the clear.
        assert!(fs::read(&key).unwrap().starts_with(b"LBVK"));
        let kmode = fs::metadata(s.keys().platform_path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(kmode, 0o600);
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
