//! The wrapped vault-secret file, as [`super::KeyRing`] writes and reads it.
//!
//! The wrapped file format (all integers big-endian):
//!
//! ```text
//! magic     4  "LBVK"
//! version   1  1
//! kind      1  1 platform, 2 file, 3 command
//! idlen     1  length of the key id
//! keyid     idlen  ASCII: 32 hex digits of the KEK's fingerprint
//!                  (platform, file), "command" (command)
//! nonce     24 XChaCha20-Poly1305 nonce (zeros for command)
//! check     16 BLAKE3 derive_key("lifeboat vault secret check v1", secret)
//! ctlen     4  length of the ciphertext
//! ct        ctlen  platform/file: AEAD(secret) with the KEK, associated
//!                  data = every byte before ctlen followed by "vault-<id>";
//!                  command: the bytes `<cmd> wrap` returned
//! ```
//!
//! A file that does not start with the magic is the old format: the
//! passphrase in the clear. It is read as before and re-wrapped under the
//! current provider when the service starts ([`super::KeyRing::rewrap_all`]).

pub(super) const MAGIC: &[u8; 4] = b"LBVK";
const VERSION: u8 = 1;
pub(super) const KIND_PLATFORM: u8 = 1;
pub(super) const KIND_FILE: u8 = 2;
pub(super) const KIND_COMMAND: u8 = 3;
pub(super) const COMMAND_KEY_ID: &str = "command";

pub(super) fn kind_name(kind: u8) -> &'static str {
    match kind {
        KIND_PLATFORM => "platform",
        KIND_FILE => "file",
        KIND_COMMAND => "command",
        _ => "unknown",
    }
}

pub(super) fn check_value(secret: &[u8]) -> [u8; 16] {
    let d = blake3::derive_key("lifeboat vault secret check v1", secret);
    let mut c = [0u8; 16];
    c.copy_from_slice(&d[..16]);
    c
}

/// A parsed wrapped key file.
pub(super) struct Wrapped {
    pub(super) kind: u8,
    pub(super) key_id: String,
    pub(super) nonce: [u8; 24],
    pub(super) check: [u8; 16],
    pub(super) ct: Vec<u8>,
}

pub(super) fn header(kind: u8, key_id: &str, nonce: &[u8; 24], check: &[u8; 16]) -> Vec<u8> {
    let mut h = Vec::with_capacity(64);
    h.extend_from_slice(MAGIC);
    h.push(VERSION);
    h.push(kind);
    h.push(key_id.len() as u8);
    h.extend_from_slice(key_id.as_bytes());
    h.extend_from_slice(nonce);
    h.extend_from_slice(check);
    h
}

pub(super) fn aad(header: &[u8], vault: &str) -> Vec<u8> {
    let mut a = header.to_vec();
    a.extend_from_slice(format!("vault-{vault}").as_bytes());
    a
}

impl Wrapped {
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = header(self.kind, &self.key_id, &self.nonce, &self.check);
        out.extend_from_slice(&(self.ct.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.ct);
        out
    }

    pub(super) fn decode(b: &[u8]) -> Option<Wrapped> {
        let rest = b.strip_prefix(MAGIC.as_slice())?;
        let (&version, rest) = rest.split_first()?;
        if version != VERSION {
            return None;
        }
        let (&kind, rest) = rest.split_first()?;
        let (&idlen, rest) = rest.split_first()?;
        let (id, rest) = rest.split_at_checked(idlen as usize)?;
        let key_id = std::str::from_utf8(id).ok()?.to_owned();
        let (nonce, rest) = rest.split_at_checked(24)?;
        let (check, rest) = rest.split_at_checked(16)?;
        let (len, ct) = rest.split_at_checked(4)?;
        let len = u32::from_be_bytes(len.try_into().ok()?) as usize;
        if ct.len() != len {
            return None;
        }
        Some(Wrapped {
            kind,
            key_id,
            nonce: nonce.try_into().ok()?,
            check: check.try_into().ok()?,
            ct: ct.to_vec(),
        })
    }
}
