//! Pack files (docs/format.md §6): many sealed blobs, then a sealed header
//! that lists them, then a trailer. Packs describe themselves, so the index
//! can always be rebuilt from them.

use crate::crypto::VaultKeys;
use crate::error::{Error, Result};
use crate::format::*;
use crate::id::{ChunkId, PackId};
use crate::util::{le_u32, le_u64};

/// Where a blob sits inside its pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackEntry {
    pub kind: u8,
    pub id: ChunkId,
    pub offset: u32,
    pub sealed_len: u32,
    pub raw_len: u32,
}

impl PackEntry {
    /// The entry's sealed blob within `pack`, or a corruption error when the
    /// pack is shorter than the entry says (a truncated or replaced pack).
    pub fn sealed_in<'a>(&self, pack: &'a [u8], what: &str) -> Result<&'a [u8]> {
        let start = self.offset as usize;
        start
            .checked_add(self.sealed_len as usize)
            .and_then(|end| pack.get(start..end))
            .ok_or_else(|| Error::corrupt(what, "blob lies outside its pack"))
    }
}

/// Collects sealed blobs in memory until the pack is full.
pub struct PackBuilder {
    buf: Vec<u8>,
    entries: Vec<PackEntry>,
}

impl Default for PackBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl PackBuilder {
    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(DEFAULT_PACK_SIZE as usize + (1 << 20));
        buf.extend_from_slice(&prologue(PACK_MAGIC, PACK_VERSION));
        Self {
            buf,
            entries: Vec::new(),
        }
    }

    pub fn add(&mut self, kind: u8, id: ChunkId, sealed: &[u8], raw_len: u32) {
        let offset = self.buf.len() as u32;
        self.buf.extend_from_slice(sealed);
        self.entries.push(PackEntry {
            kind,
            id,
            offset,
            sealed_len: sealed.len() as u32,
            raw_len,
        });
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Seals the header and returns the pack's id, bytes and entries.
    pub fn finish(mut self, keys: &VaultKeys) -> (PackId, Vec<u8>, Vec<PackEntry>) {
        let mut header = Vec::with_capacity(12 + self.entries.len() * PACK_HEADER_ENTRY_LEN);
        header.extend_from_slice(&crate::util::now_secs().to_le_bytes());
        header.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for e in &self.entries {
            header.push(e.kind);
            header.extend_from_slice(&e.id.0);
            header.extend_from_slice(&e.offset.to_le_bytes());
            header.extend_from_slice(&e.sealed_len.to_le_bytes());
            header.extend_from_slice(&e.raw_len.to_le_bytes());
        }
        let sealed = keys.seal(AAD_PACK_HEADER, &header);
        self.buf.extend_from_slice(&sealed);
        self.buf
            .extend_from_slice(&(sealed.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(PACK_TRAILER_MAGIC);
        let id = PackId::of_bytes(&self.buf);
        (id, self.buf, self.entries)
    }
}

pub fn pack_name(id: &PackId) -> String {
    let hex = id.to_hex();
    format!("packs/{}/{}", &hex[..2], hex)
}

/// Parses a pack's trailer; returns the header's offset and sealed length.
pub fn parse_trailer(trailer: &[u8], pack_len: u64, what: &str) -> Result<(u64, u32)> {
    if trailer.len() != PACK_TRAILER_LEN || &trailer[4..] != PACK_TRAILER_MAGIC {
        return Err(Error::corrupt(what, "bad pack trailer"));
    }
    let hlen = le_u32(trailer, 0);
    let min = (PROLOGUE_LEN + PACK_TRAILER_LEN) as u64 + hlen as u64;
    if (hlen as usize) < SEAL_OVERHEAD + 12 || min > pack_len {
        return Err(Error::corrupt(what, "pack header length out of range"));
    }
    Ok((pack_len - PACK_TRAILER_LEN as u64 - hlen as u64, hlen))
}

/// Opens and parses a sealed pack header, checking every entry lies inside the pack.
pub fn parse_header(
    keys: &VaultKeys,
    sealed: &[u8],
    header_offset: u64,
    what: &str,
) -> Result<(u64, Vec<PackEntry>)> {
    let h = keys.open(AAD_PACK_HEADER, sealed, what)?;
    parse_header_plain(&h, header_offset, what)
}

/// Parses a pack header's plaintext (public for the fuzz targets).
pub fn parse_header_plain(
    h: &[u8],
    header_offset: u64,
    what: &str,
) -> Result<(u64, Vec<PackEntry>)> {
    if h.len() < 12 {
        return Err(Error::corrupt(what, "pack header too short"));
    }
    let created = le_u64(h, 0);
    let count = le_u32(h, 8) as usize;
    if h.len() != 12 + count * PACK_HEADER_ENTRY_LEN {
        return Err(Error::corrupt(
            what,
            "pack header size does not match its count",
        ));
    }
    let mut entries = Vec::with_capacity(count);
    let mut at = 12;
    for _ in 0..count {
        let e = PackEntry {
            kind: h[at],
            id: ChunkId::from_slice(&h[at + 1..at + 33]),
            offset: le_u32(h, at + 33),
            sealed_len: le_u32(h, at + 37),
            raw_len: le_u32(h, at + 41),
        };
        at += PACK_HEADER_ENTRY_LEN;
        let end = e.offset as u64 + e.sealed_len as u64;
        if (e.offset as usize) < PROLOGUE_LEN || end > header_offset || e.kind > KIND_TREE {
            return Err(Error::corrupt(what, "pack header entry out of range"));
        }
        entries.push(e);
    }
    Ok((created, entries))
}

/// Parses a whole pack held in memory: prologue, trailer, header.
pub fn parse_pack(keys: &VaultKeys, bytes: &[u8], what: &str) -> Result<(u64, Vec<PackEntry>)> {
    check_prologue(bytes, PACK_MAGIC, PACK_VERSION, "pack", what)?;
    if bytes.len() < PROLOGUE_LEN + PACK_TRAILER_LEN {
        return Err(Error::corrupt(what, "too short to be a pack"));
    }
    let (hoff, hlen) = parse_trailer(
        &bytes[bytes.len() - PACK_TRAILER_LEN..],
        bytes.len() as u64,
        what,
    )?;
    let sealed = &bytes[hoff as usize..hoff as usize + hlen as usize];
    parse_header(keys, sealed, hoff, what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    #[test]
    fn build_and_parse() {
        let keys = VaultKeys::derive(&MasterKey::generate());
        let mut b = PackBuilder::new();
        for i in 0..10u32 {
            let plain = vec![i as u8; 1000 + i as usize];
            let id = keys.chunk_id(&plain);
            let sealed = crate::blob::encode(&keys, KIND_DATA, &id, &plain, 3);
            b.add(KIND_DATA, id, &sealed, plain.len() as u32);
        }
        let (id, bytes, entries) = b.finish(&keys);
        assert_eq!(id, PackId::of_bytes(&bytes));
        let (_, parsed) = parse_pack(&keys, &bytes, "p").unwrap();
        assert_eq!(parsed, entries);
        for e in &parsed {
            let s = e.sealed_in(&bytes, "p").unwrap();
            crate::blob::decode(&keys, e.kind, &e.id, s, e.raw_len).unwrap();
        }
        let mut bad = bytes.clone();
        let n = bad.len();
        bad[n - 20] ^= 1;
        assert!(parse_pack(&keys, &bad, "p").is_err());
        assert!(parse_pack(&keys, &bytes[..n - 1], "p").is_err());
    }
}
