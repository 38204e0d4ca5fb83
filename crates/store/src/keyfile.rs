//! Passphrase slots: `keys/<key-id>` (docs/format.md §3). Each slot wraps the
//! same master key with a key derived from one passphrase by Argon2id, so
//! passphrases can be added and removed without touching any data.

use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};

use crate::crypto::{MASTER_KEY_LEN, MasterKey, cipher_from, open_with, random_array, seal_with};
use crate::error::{Error, Result};
use crate::format::*;
use crate::id::KeyId;

#[derive(Debug, Clone, Copy)]
pub struct KdfParams {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        Self {
            m_kib: KDF_M_KIB,
            t: KDF_T,
            p: KDF_P,
        }
    }
}

impl KdfParams {
    /// The cheapest parameters Argon2 accepts (1 MiB, one pass): for test
    /// suites, benchmarks and throwaway vaults, never for data that matters.
    pub const MINIMAL: KdfParams = KdfParams {
        m_kib: 1024,
        t: 1,
        p: 1,
    };

    /// Reads `LIFEBOAT_KDF_M_KIB`/`_T` so test suites can use cheap slots.
    /// Never lower than Argon2's own minimums.
    pub fn from_env_or_default() -> Self {
        let mut p = Self::default();
        if let Some(m) = std::env::var("LIFEBOAT_KDF_M_KIB")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            p.m_kib = m;
        }
        if let Some(t) = std::env::var("LIFEBOAT_KDF_T")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            p.t = t;
        }
        p
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeySlot {
    pub kdf: String,
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
    pub salt: String,
    pub nonce: String,
    pub wrapped: String,
    pub created: chrono::DateTime<chrono::Utc>,
    pub host: String,
    #[serde(default)]
    pub label: String,
}

fn derive_kek(passphrase: &[u8], salt: &[u8], m_kib: u32, t: u32, p: u32) -> Result<[u8; 32]> {
    let params = Params::new(m_kib, t, p, Some(32))
        .map_err(|e| Error::corrupt("key slot", format!("bad Argon2 parameters: {e}")))?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase, salt, &mut out)
        .map_err(|e| Error::corrupt("key slot", format!("Argon2: {e}")))?;
    Ok(out)
}

impl KeySlot {
    pub fn wrap(
        master: &MasterKey,
        passphrase: &[u8],
        kdf: KdfParams,
        label: &str,
    ) -> Result<Self> {
        if passphrase.is_empty() {
            return Err(Error::InvalidArgument(
                "the passphrase must not be empty".into(),
            ));
        }
        let salt: [u8; 16] = random_array();
        let kek = derive_kek(passphrase, &salt, kdf.m_kib, kdf.t, kdf.p)?;
        let sealed = seal_with(&cipher_from(&kek), AAD_KEY, &master.0);
        Ok(Self {
            kdf: "argon2id".into(),
            m_kib: kdf.m_kib,
            t: kdf.t,
            p: kdf.p,
            salt: hex::encode(salt),
            nonce: hex::encode(&sealed[..NONCE_LEN]),
            wrapped: hex::encode(&sealed[NONCE_LEN..]),
            created: chrono::Utc::now(),
            host: crate::util::hostname(),
            label: label.to_string(),
        })
    }

    /// The master key, or `None` when this passphrase does not open the slot.
    pub fn unwrap_key(&self, passphrase: &[u8]) -> Result<Option<MasterKey>> {
        if self.kdf != "argon2id" {
            return Err(Error::corrupt(
                "key slot",
                format!("unknown kdf {:?}", self.kdf),
            ));
        }
        // Refuse absurd parameters from a damaged or hostile slot before allocating.
        if self.m_kib > 4 * 1024 * 1024 || self.t > 100 || self.p > 64 {
            return Err(Error::corrupt("key slot", "KDF parameters out of range"));
        }
        let bad = |_| Error::corrupt("key slot", "bad hex field");
        let salt = hex::decode(&self.salt).map_err(bad)?;
        let mut sealed = hex::decode(&self.nonce).map_err(bad)?;
        sealed.extend(hex::decode(&self.wrapped).map_err(bad)?);
        let kek = derive_kek(passphrase, &salt, self.m_kib, self.t, self.p)?;
        Ok(
            open_with(&cipher_from(&kek), AAD_KEY, &sealed).and_then(|m| {
                let arr: [u8; MASTER_KEY_LEN] = m.try_into().ok()?;
                Some(MasterKey(arr))
            }),
        )
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("key slot serializes")
    }

    pub fn parse(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|e| Error::corrupt("key slot", e.to_string()))
    }

    pub fn id_of(bytes: &[u8]) -> KeyId {
        KeyId::of_bytes(bytes)
    }
}
