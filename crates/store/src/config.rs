//! The plaintext `config` object (docs/format.md §2).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::format::*;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChunkerParams {
    pub min: u32,
    pub avg: u32,
    pub max: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaultConfig {
    pub lifeboat_vault: u32,
    pub vault_id: String,
    pub created: chrono::DateTime<chrono::Utc>,
    pub pack_size: u32,
    pub chunker: ChunkerParams,
    pub disk_chunk_size: u32,
    pub compression_level: i32,
}

impl VaultConfig {
    pub fn new_default() -> Self {
        Self {
            lifeboat_vault: VAULT_FORMAT_VERSION,
            vault_id: hex::encode(crate::crypto::random_array::<16>()),
            created: chrono::Utc::now(),
            pack_size: DEFAULT_PACK_SIZE,
            chunker: ChunkerParams {
                min: DEFAULT_CDC_MIN,
                avg: DEFAULT_CDC_AVG,
                max: DEFAULT_CDC_MAX,
            },
            disk_chunk_size: DEFAULT_DISK_CHUNK,
            compression_level: DEFAULT_COMPRESSION_LEVEL,
        }
    }

    pub fn parse(bytes: &[u8]) -> Result<Self> {
        // Look at the version before anything else, so a newer vault is
        // reported as such even if its other fields changed shape.
        let v: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| Error::corrupt("config", format!("not JSON: {e}")))?;
        let version = v
            .get("lifeboat_vault")
            .and_then(|x| x.as_u64())
            .ok_or_else(|| Error::corrupt("config", "no lifeboat_vault version field"))?;
        if version > VAULT_FORMAT_VERSION as u64 {
            return Err(Error::VaultFormatNewer {
                found: version.min(u32::MAX as u64) as u32,
                known: VAULT_FORMAT_VERSION,
            });
        }
        let c: VaultConfig = serde_json::from_value(v)
            .map_err(|e| Error::corrupt("config", format!("bad field: {e}")))?;
        c.validate()?;
        Ok(c)
    }

    pub fn validate(&self) -> Result<()> {
        let ch = self.chunker;
        let ok = (64 * 1024..=16 * 1024 * 1024).contains(&ch.min)
            && ch.min <= ch.avg
            && ch.avg <= ch.max
            && ch.max <= 64 * 1024 * 1024
            && (4096..=64 * 1024 * 1024).contains(&self.disk_chunk_size)
            && (1024 * 1024..=256 * 1024 * 1024).contains(&self.pack_size)
            && (-7..=22).contains(&self.compression_level);
        if ok {
            Ok(())
        } else {
            Err(Error::corrupt("config", "parameters out of range"))
        }
    }
}
