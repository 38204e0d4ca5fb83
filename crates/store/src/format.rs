//! Every constant of the on-disk format, in one place. `docs/format.md` is the
//! specification; a test checks that this file and the document agree.
//! Changing any value here changes the format: bump the version and keep a
//! reader for the old one.

/// Version written in `config` as `lifeboat_vault`.
pub const VAULT_FORMAT_VERSION: u32 = 1;

pub const PACK_MAGIC: &[u8; 4] = b"LBPK";
pub const PACK_TRAILER_MAGIC: &[u8; 4] = b"LBPT";
pub const PACK_VERSION: u8 = 1;
pub const INDEX_MAGIC: &[u8; 4] = b"LBIX";
pub const INDEX_VERSION: u8 = 1;
pub const POINT_MAGIC: &[u8; 4] = b"LBMF";
/// Point manifests: 2 since workloads are open (`kind` + `meta`); 1 is still read.
pub const POINT_VERSION: u8 = 2;
pub const POINT_VERSION_V1: u8 = 1;

/// Length of the prologue of packs, index segments and points: magic, version, 3 zero bytes.
pub const PROLOGUE_LEN: usize = 8;

/// The prologue of a pack, index segment or point.
pub fn prologue(magic: &[u8; 4], version: u8) -> [u8; PROLOGUE_LEN] {
    [magic[0], magic[1], magic[2], magic[3], version, 0, 0, 0]
}

/// Checks a prologue; `kind` names the object in errors ("pack", "index segment", …).
pub fn check_prologue(
    bytes: &[u8],
    magic: &[u8; 4],
    version: u8,
    kind: &str,
    what: &str,
) -> crate::error::Result<()> {
    use crate::error::Error;
    if bytes.len() < PROLOGUE_LEN || &bytes[..4] != magic {
        return Err(Error::corrupt(what, format!("not a {kind} (bad magic)")));
    }
    if bytes[5..8] != [0, 0, 0] {
        return Err(Error::corrupt(what, "reserved prologue bytes are not zero"));
    }
    if bytes[4] != version {
        return Err(Error::corrupt(
            what,
            format!("unknown {kind} version {}", bytes[4]),
        ));
    }
    Ok(())
}
/// Length of the pack trailer: header length u32 and the trailer magic.
pub const PACK_TRAILER_LEN: usize = 8;
/// Bytes per entry in a pack header: kind, id, offset, sealed length, raw length.
pub const PACK_HEADER_ENTRY_LEN: usize = 1 + 32 + 4 + 4 + 4;
/// Bytes per entry in an index segment: id, pack number, offset, sealed length, raw length, kind.
pub const INDEX_ENTRY_LEN: usize = 32 + 4 + 4 + 4 + 4 + 1;
/// At most this many entries in one index segment.
pub const INDEX_SEGMENT_MAX_ENTRIES: usize = 65_536;
/// A backup writes an index segment after this many packs.
pub const INDEX_FLUSH_PACKS: usize = 8;

pub const NONCE_LEN: usize = 24;
pub const TAG_LEN: usize = 16;
/// Bytes a sealed box adds to its plaintext.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

pub const AAD_BLOB: &[u8] = b"lifeboat blob v1";
pub const AAD_PACK_HEADER: &[u8] = b"lifeboat pack header v1";
pub const AAD_INDEX: &[u8] = b"lifeboat index v1";
pub const AAD_POINT: &[u8] = b"lifeboat point v1";
pub const AAD_GC: &[u8] = b"lifeboat gc v1";
pub const AAD_KEY: &[u8] = b"lifeboat key v1";
pub const AAD_HOLD: &[u8] = b"lifeboat hold v1";
pub const AAD_LOCK: &[u8] = b"lifeboat immutability v1";

pub const CONTEXT_DATA_KEY: &str = "lifeboat 2026 vault data key v1";
pub const CONTEXT_ID_KEY: &str = "lifeboat 2026 vault chunk id key v1";
pub const CONTEXT_CHUNKER_SEED: &str = "lifeboat 2026 vault chunker seed v1";

/// Encoding byte at the start of every sealed plaintext.
pub const ENCODING_RAW: u8 = 0;
pub const ENCODING_ZSTD: u8 = 1;

/// Blob kinds.
pub const KIND_DATA: u8 = 0;
pub const KIND_TREE: u8 = 1;

/// Defaults fixed in `config` at init.
pub const DEFAULT_CDC_MIN: u32 = 512 * 1024;
pub const DEFAULT_CDC_AVG: u32 = 1024 * 1024;
pub const DEFAULT_CDC_MAX: u32 = 8 * 1024 * 1024;
pub const DEFAULT_DISK_CHUNK: u32 = 256 * 1024;
pub const DEFAULT_PACK_SIZE: u32 = 8 * 1024 * 1024;
pub const DEFAULT_COMPRESSION_LEVEL: i32 = 3;
pub const TREE_CDC_MIN: u32 = 64 * 1024;
pub const TREE_CDC_AVG: u32 = 256 * 1024;
pub const TREE_CDC_MAX: u32 = 1024 * 1024;

/// Argon2id defaults for a passphrase slot.
pub const KDF_M_KIB: u32 = 64 * 1024;
pub const KDF_T: u32 = 3;
pub const KDF_P: u32 = 1;

/// Lease timing, in milliseconds.
pub const LEASE_TTL_MS: u64 = 10 * 60 * 1000;
pub const LEASE_REFRESH_MS: u64 = 60 * 1000;

/// A pack with at least this share of dead bytes is repacked by gc.
pub const REPACK_DEAD_PERCENT: u64 = 25;

#[cfg(test)]
mod tests {
    use super::*;

    /// The document is the contract: every magic, AAD and context string and
    /// every default named there must be the one the code uses.
    #[test]
    fn format_constants_match_docs() {
        let doc = include_str!("../../../docs/format.md");
        for needle in [
            "\"LBPK\"",
            "\"LBPT\"",
            "\"LBIX\"",
            "\"LBMF\"",
            "\"LBMF\" ‖ version u8 = 2",
            "\"version\": 2,",
            "**Version 1 manifests** (prologue version byte 1",
            "\"lifeboat blob v1\"",
            "\"lifeboat pack header v1\"",
            "\"lifeboat index v1\"",
            "\"lifeboat point v1\"",
            "\"lifeboat gc v1\"",
            "\"lifeboat key v1\"",
            "\"lifeboat hold v1\"",
            "\"lifeboat immutability v1\"",
            CONTEXT_DATA_KEY,
            CONTEXT_ID_KEY,
            CONTEXT_CHUNKER_SEED,
            "512 KiB / 1 MiB /\n  8 MiB",
            "64 KiB / 256 KiB / 1 MiB",
            "\"disk_chunk_size\": 262144",
            "pieces (256 KiB by default",
            "at most 65,536 per segment",
            "after every 8 packs",
            "(10 minutes)",
            "at least 25% dead",
            "\"m_kib\": 65536, \"t\": 3, \"p\": 1",
        ] {
            assert!(
                doc.contains(needle),
                "docs/format.md does not mention {needle:?}"
            );
        }
        for (magic, s) in [
            (PACK_MAGIC, "LBPK"),
            (PACK_TRAILER_MAGIC, "LBPT"),
            (INDEX_MAGIC, "LBIX"),
            (POINT_MAGIC, "LBMF"),
        ] {
            assert_eq!(&magic[..], s.as_bytes());
        }
        assert_eq!((POINT_VERSION, POINT_VERSION_V1), (2, 1));
        assert_eq!(PACK_HEADER_ENTRY_LEN, 45);
        assert_eq!(INDEX_ENTRY_LEN, 49);
        assert_eq!(LEASE_TTL_MS, 600_000);
        assert_eq!(DEFAULT_CDC_AVG, 1 << 20);
        assert_eq!(KDF_M_KIB, 65536);
    }
}
