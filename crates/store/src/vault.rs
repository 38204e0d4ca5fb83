//! An opened vault: backend, config and keys. Everything that reads or
//! writes a vault starts here.

use std::path::PathBuf;
use std::sync::Arc;

use crate::backend::Backend;
use crate::blob::Plain;
use crate::config::VaultConfig;
use crate::crypto::{MasterKey, VaultKeys};
use crate::error::{Error, Result};
use crate::id::{ChunkId, KeyId, PointId};
use crate::index::{Index, Location, default_cache_root};
use crate::keyfile::{KdfParams, KeySlot};
use crate::manifest::{Point, point_name};
use crate::open_packs::OpenPacks;

/// True when `next` starts in the same pack right where `prev` ends, so
/// both can be read with one request.
pub fn adjacent(prev: &Location, next: &Location) -> bool {
    prev.pack == next.pack && prev.offset as u64 + prev.sealed_len as u64 == next.offset as u64
}

/// Readable points (oldest first) and the ones that could not be read.
pub type PointListing = (Vec<(PointId, Point)>, Vec<(PointId, Error)>);

pub struct Vault {
    backend: Arc<dyn Backend>,
    config: VaultConfig,
    keys: VaultKeys,
    master: MasterKey,
    cache_root: PathBuf,
    packs: OpenPacks,
}

/// A passphrase slot as `key list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyInfo {
    pub id: KeyId,
    pub created: chrono::DateTime<chrono::Utc>,
    pub host: String,
    pub label: String,
    /// True for the slot the current passphrase opened.
    pub current: bool,
}

impl Vault {
    pub fn read_config(backend: &dyn Backend) -> Result<VaultConfig> {
        match backend.get("config") {
            Ok(b) => VaultConfig::parse(&b),
            Err(e) if e.is_not_found() => Err(Error::NotAVault(backend.location())),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates a vault in an empty location.
    pub fn init(
        backend: Arc<dyn Backend>,
        passphrase: &[u8],
        kdf: KdfParams,
        config: VaultConfig,
    ) -> Result<Self> {
        config.validate()?;
        if backend.exists("config")? || !backend.list("keys/")?.is_empty() {
            return Err(Error::VaultExists(backend.location()));
        }
        let master = MasterKey::generate();
        let slot = KeySlot::wrap(&master, passphrase, kdf, "initial")?;
        let sb = slot.to_bytes();
        backend.put_if_absent(&format!("keys/{}", KeySlot::id_of(&sb)), &sb)?;
        // config last: a folder with keys but no config is not yet a vault,
        // and a second init racing this one loses at put-if-absent.
        let cb = serde_json::to_vec_pretty(&config).expect("config serializes");
        if !backend.put_if_absent("config", &cb)? {
            return Err(Error::VaultExists(backend.location()));
        }
        Ok(Self::unlocked(backend, config, master))
    }

    /// The vault of `backend` with its master key in hand.
    fn unlocked(backend: Arc<dyn Backend>, config: VaultConfig, master: MasterKey) -> Self {
        let keys = VaultKeys::derive(&master);
        Self {
            backend,
            config,
            keys,
            master,
            cache_root: default_cache_root(),
            packs: OpenPacks::default(),
        }
    }

    pub fn open(backend: Arc<dyn Backend>, passphrase: &[u8]) -> Result<Self> {
        let config = Self::read_config(backend.as_ref())?;
        let (master, _) = Self::unlock(backend.as_ref(), passphrase)?;
        Ok(Self::unlocked(backend, config, master))
    }

    fn unlock(backend: &dyn Backend, passphrase: &[u8]) -> Result<(MasterKey, KeyId)> {
        let slots = backend.list("keys/")?;
        let mut damaged = None;
        for o in slots {
            let bytes = backend.get(&o.name)?;
            let slot = match KeySlot::parse(&bytes) {
                Ok(s) => s,
                Err(e) => {
                    damaged = Some(e);
                    continue;
                }
            };
            if let Some(m) = slot.unwrap_key(passphrase)? {
                return Ok((m, KeySlot::id_of(&bytes)));
            }
        }
        match damaged {
            Some(e) => Err(Error::corrupt(
                "keys",
                format!("no slot opened; one is damaged: {e}"),
            )),
            None => Err(Error::WrongPassphrase),
        }
    }

    pub fn with_cache_root(mut self, root: PathBuf) -> Self {
        self.cache_root = root;
        self
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.cache_root.join(&self.config.vault_id)
    }

    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    pub fn backend_arc(&self) -> Arc<dyn Backend> {
        self.backend.clone()
    }

    pub fn config(&self) -> &VaultConfig {
        &self.config
    }

    pub fn keys(&self) -> &VaultKeys {
        &self.keys
    }

    pub fn load_index(&self) -> Result<Index> {
        Index::load(
            self.backend.clone(),
            &self.keys,
            &self.cache_dir().join("index"),
        )
    }

    // ------------------------------------------------------------ key slots

    pub fn key_list(&self, passphrase: &[u8]) -> Result<Vec<KeyInfo>> {
        let current = Self::unlock(self.backend(), passphrase)
            .ok()
            .map(|(_, id)| id);
        let mut out = Vec::new();
        for o in self.backend.list("keys/")? {
            let bytes = self.backend.get(&o.name)?;
            let slot = KeySlot::parse(&bytes)?;
            let id = KeySlot::id_of(&bytes);
            out.push(KeyInfo {
                id,
                created: slot.created,
                host: slot.host,
                label: slot.label,
                current: Some(id) == current,
            });
        }
        Ok(out)
    }

    pub fn key_add(&self, new_passphrase: &[u8], kdf: KdfParams, label: &str) -> Result<KeyId> {
        let slot = KeySlot::wrap(&self.master, new_passphrase, kdf, label)?;
        let b = slot.to_bytes();
        let id = KeySlot::id_of(&b);
        self.backend.put_if_absent(&format!("keys/{id}"), &b)?;
        Ok(id)
    }

    /// Removes a slot by id prefix. The last slot is never removed.
    pub fn key_remove(&self, prefix: &str) -> Result<KeyId> {
        let slots = self.backend.list("keys/")?;
        let matching: Vec<_> = slots
            .iter()
            .filter(|o| o.name["keys/".len()..].starts_with(prefix))
            .collect();
        match matching.len() {
            0 => Err(Error::InvalidArgument(format!(
                "no key slot starts with {prefix:?}"
            ))),
            1 if slots.len() == 1 => Err(Error::LastKey),
            1 => {
                let id = KeyId::from_hex(&matching[0].name["keys/".len()..])?;
                self.backend.delete(&matching[0].name)?;
                Ok(id)
            }
            _ => Err(Error::InvalidArgument(format!(
                "{prefix:?} matches several key slots"
            ))),
        }
    }

    // ---------------------------------------------------------------- points

    pub fn point_ids(&self) -> Result<Vec<PointId>> {
        let mut out = Vec::new();
        for o in self.backend.list("points/")? {
            if let Ok(id) = PointId::from_hex(&o.name["points/".len()..]) {
                out.push(id);
            }
        }
        Ok(out)
    }

    pub fn load_point(&self, id: &PointId) -> Result<Point> {
        let name = point_name(id);
        let bytes = self.backend.get(&name)?;
        if PointId::of_bytes(&bytes) != *id {
            return Err(Error::corrupt(&name, "content does not match its name"));
        }
        Point::decode(&self.keys, &bytes, &name)
    }

    /// Every readable point, oldest first, and the ids of those that could not be read.
    pub fn points(&self) -> Result<PointListing> {
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        for id in self.point_ids()? {
            match self.load_point(&id) {
                Ok(p) => ok.push((id, p)),
                Err(e) if e.is_not_found() => {} // forgotten meanwhile
                Err(e) => bad.push((id, e)),
            }
        }
        ok.sort_by(|a, b| a.1.time.cmp(&b.1.time).then(a.0.cmp(&b.0)));
        Ok((ok, bad))
    }

    /// `latest`, a full id, or a unique prefix of at least 4 hex digits.
    pub fn resolve_point(&self, spec: &str) -> Result<(PointId, Point)> {
        if spec == "latest" {
            let (points, _) = self.points()?;
            return points
                .into_iter()
                .last()
                .ok_or_else(|| Error::PointNotFound(spec.into()));
        }
        if spec.len() < 4 || !spec.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::PointNotFound(spec.into()));
        }
        let spec_l = spec.to_ascii_lowercase();
        let m: Vec<_> = self
            .point_ids()?
            .into_iter()
            .filter(|id| id.to_hex().starts_with(&spec_l))
            .collect();
        match m.len() {
            0 => Err(Error::PointNotFound(spec.into())),
            1 => Ok((m[0], self.load_point(&m[0])?)),
            _ => Err(Error::PointAmbiguous(spec.into())),
        }
    }

    // ---------------------------------------------------------------- chunks

    /// Reads, decrypts, decompresses and verifies one chunk.
    pub fn read_chunk(&self, id: &ChunkId, loc: &Location) -> Result<Vec<u8>> {
        let sealed = self.packs.read(
            self.backend(),
            &loc.pack,
            loc.offset as u64,
            loc.sealed_len as u64,
        )?;
        crate::blob::decode(&self.keys, loc.kind, id, &sealed, loc.raw_len)
    }

    /// Chunks that lie back to back in one pack ([`adjacent`]), read with
    /// one request into `sealed` and each decoded in place and verified as
    /// [`Vault::read_chunk`] does. The i-th plaintext is where the i-th
    /// [`Plain`] says: a range of `sealed`, or all of `outs[i]`. Both
    /// buffers are the caller's, reused from run to run, so a restore
    /// neither allocates nor copies per chunk.
    pub fn read_chunk_run(
        &self,
        run: &[(ChunkId, Location)],
        sealed: &mut Vec<u8>,
        outs: &mut Vec<Vec<u8>>,
    ) -> Result<Vec<Plain>> {
        let (Some((_, first)), Some((_, last))) = (run.first(), run.last()) else {
            return Ok(Vec::new());
        };
        if run.windows(2).any(|w| !adjacent(&w[0].1, &w[1].1)) {
            return Err(Error::InvalidArgument(
                "a chunk run must lie back to back in one pack".into(),
            ));
        }
        let start = first.offset as u64;
        let end = last.offset as u64 + last.sealed_len as u64;
        sealed.resize((end - start) as usize, 0);
        self.packs
            .read_into(self.backend(), &first.pack, start, sealed)?;
        if outs.len() < run.len() {
            outs.resize_with(run.len(), Vec::new);
        }
        let mut at = Vec::with_capacity(run.len());
        for ((id, loc), out) in run.iter().zip(outs.iter_mut()) {
            let from = (loc.offset as u64 - start) as usize;
            let piece = &mut sealed[from..from + loc.sealed_len as usize];
            at.push(
                match crate::blob::decode_in_place(
                    &self.keys,
                    loc.kind,
                    id,
                    piece,
                    loc.raw_len,
                    out,
                )? {
                    Plain::InSealed(r) => Plain::InSealed(from + r.start..from + r.end),
                    Plain::InOut => Plain::InOut,
                },
            );
        }
        Ok(at)
    }

    pub fn read_chunk_via(&self, index: &Index, id: &ChunkId) -> Result<Vec<u8>> {
        let loc = index
            .locate(id)?
            .ok_or_else(|| Error::ChunkMissing(id.to_hex()))?;
        self.read_chunk(id, &loc)
    }
}
