//! Keys and sealed boxes (docs/format.md §3–§4): the vault's master key, the
//! subkeys derived from it, XChaCha20-Poly1305 sealing with per-role
//! associated data, and keyed chunk ids. No cryptography is implemented here;
//! this module only wires the RustCrypto and BLAKE3 crates together.

use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::aead::{AeadInOut, KeyInit};

use crate::error::{Error, Result};
use crate::format::*;
use crate::id::ChunkId;

pub const MASTER_KEY_LEN: usize = 64;

/// Fills an array from the operating system's random source.
pub fn random_array<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // The OS random source failing is not something a backup can continue past.
    getrandom::fill(&mut out).expect("the operating system's random source failed");
    out
}

/// The 64 random bytes every passphrase slot wraps.
#[derive(Clone)]
pub struct MasterKey(pub [u8; MASTER_KEY_LEN]);

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.0.fill(0);
    }
}

impl MasterKey {
    pub fn generate() -> Self {
        Self(random_array())
    }
}

/// The subkeys of one vault, derived once at open.
#[derive(Clone)]
pub struct VaultKeys {
    cipher: XChaCha20Poly1305,
    id_key: [u8; 32],
    chunker_seed: u64,
}

impl VaultKeys {
    pub fn derive(master: &MasterKey) -> Self {
        let data_key = blake3::derive_key(CONTEXT_DATA_KEY, &master.0);
        let id_key = blake3::derive_key(CONTEXT_ID_KEY, &master.0);
        let seed = blake3::derive_key(CONTEXT_CHUNKER_SEED, &master.0);
        let mut seed8 = [0u8; 8];
        seed8.copy_from_slice(&seed[..8]);
        Self {
            cipher: cipher_from(&data_key),
            id_key,
            chunker_seed: u64::from_le_bytes(seed8),
        }
    }

    pub fn chunk_id(&self, plaintext: &[u8]) -> ChunkId {
        ChunkId(*blake3::keyed_hash(&self.id_key, plaintext).as_bytes())
    }

    pub fn chunker_seed(&self) -> u64 {
        self.chunker_seed
    }

    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        seal_with(&self.cipher, aad, plaintext)
    }

    pub fn open(&self, aad: &[u8], sealed: &[u8], what: &str) -> Result<Vec<u8>> {
        open_with(&self.cipher, aad, sealed).ok_or_else(|| {
            Error::corrupt(
                what,
                "authentication failed (damaged, or not from this vault)",
            )
        })
    }
}

impl VaultKeys {
    /// Like [`VaultKeys::open`], decrypting in the sealed buffer itself; the
    /// plaintext is the returned part of it.
    pub fn open_in_place<'b>(
        &self,
        aad: &[u8],
        sealed: &'b mut [u8],
        what: &str,
    ) -> Result<&'b mut [u8]> {
        open_in_place_with(&self.cipher, aad, sealed).ok_or_else(|| {
            Error::corrupt(
                what,
                "authentication failed (damaged, or not from this vault)",
            )
        })
    }
}

pub fn cipher_from(key: &[u8; 32]) -> XChaCha20Poly1305 {
    // A 32-byte key is always the right length for XChaCha20-Poly1305.
    XChaCha20Poly1305::new_from_slice(key).expect("32-byte key")
}

/// `nonce ‖ ciphertext ‖ tag` with a fresh random nonce.
pub fn seal_with(cipher: &XChaCha20Poly1305, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let nonce: [u8; NONCE_LEN] = random_array();
    let mut out = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_inout_detached(&nonce.into(), aad, InOutBuf::from(&mut out[NONCE_LEN..]))
        .expect("plaintext within XChaCha20-Poly1305 limits");
    out.extend_from_slice(&tag);
    out
}

/// Opens a sealed box; `None` when it is too short or fails authentication.
pub fn open_with(cipher: &XChaCha20Poly1305, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let mut copy = sealed.to_vec();
    let body = open_in_place_with(cipher, aad, &mut copy)?.len();
    copy.truncate(NONCE_LEN + body);
    copy.drain(..NONCE_LEN);
    Some(copy)
}

/// Opens a sealed box where it lies: the plaintext replaces the ciphertext
/// between nonce and tag, and that part is returned. `None` when it is too
/// short or fails authentication (the buffer's contents are then undefined).
pub fn open_in_place_with<'b>(
    cipher: &XChaCha20Poly1305,
    aad: &[u8],
    sealed: &'b mut [u8],
) -> Option<&'b mut [u8]> {
    if sealed.len() < SEAL_OVERHEAD {
        return None;
    }
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&sealed[..NONCE_LEN]);
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&sealed[sealed.len() - TAG_LEN..]);
    let end = sealed.len() - TAG_LEN;
    let body = &mut sealed[NONCE_LEN..end];
    cipher
        .decrypt_inout_detached(&nonce.into(), aad, InOutBuf::from(&mut *body), &tag.into())
        .ok()?;
    Some(body)
}

/// AAD of a blob: binds the ciphertext to its kind and chunk id.
pub fn blob_aad(kind: u8, id: &ChunkId) -> [u8; 16 + 1 + 32] {
    let mut aad = [0u8; 49];
    aad[..16].copy_from_slice(AAD_BLOB);
    aad[16] = kind;
    aad[17..].copy_from_slice(&id.0);
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_roundtrip_and_tamper() {
        let keys = VaultKeys::derive(&MasterKey::generate());
        let sealed = keys.seal(b"aad", b"hello world");
        assert_eq!(sealed.len(), 11 + SEAL_OVERHEAD);
        assert_eq!(keys.open(b"aad", &sealed, "t").unwrap(), b"hello world");
        assert!(
            keys.open(b"other", &sealed, "t").is_err(),
            "AAD must be bound"
        );
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x40;
            assert!(
                keys.open(b"aad", &bad, "t").is_err(),
                "flip at {i} not detected"
            );
        }
        assert!(keys.open(b"aad", &sealed[..10], "t").is_err());
    }

    #[test]
    fn chunk_ids_are_keyed() {
        let a = VaultKeys::derive(&MasterKey::generate());
        let b = VaultKeys::derive(&MasterKey::generate());
        assert_eq!(a.chunk_id(b"x"), a.chunk_id(b"x"));
        assert_ne!(a.chunk_id(b"x"), b.chunk_id(b"x"));
        assert_ne!(a.chunk_id(b"x").0, *blake3::hash(b"x").as_bytes());
        assert_ne!(a.chunker_seed(), b.chunker_seed());
    }
}
