//! One chunk as stored in a pack: encoding byte, optional zstd, sealed with
//! its kind and id as associated data (docs/format.md §4–§5).

use crate::crypto::{VaultKeys, blob_aad};
use crate::error::{Error, Result};
use crate::format::*;
use crate::id::ChunkId;

/// Compresses (when it pays) and seals a chunk.
pub fn encode(keys: &VaultKeys, kind: u8, id: &ChunkId, plain: &[u8], level: i32) -> Vec<u8> {
    let mut body = Vec::with_capacity(plain.len() + 1);
    if worth_compressing(plain) {
        body.push(ENCODING_ZSTD);
        // Writing into a Vec cannot fail for I/O reasons; zstd errors only on bad parameters.
        if zstd::stream::copy_encode(plain, &mut body, level).is_ok()
            && body.len() - 1 < plain.len() - plain.len() / 32
        {
            return keys.seal(&blob_aad(kind, id), &body);
        }
        body.clear();
    }
    body.push(ENCODING_RAW);
    body.extend_from_slice(plain);
    keys.seal(&blob_aad(kind, id), &body)
}

/// Cheap guess whether a chunk compresses: try the fastest zstd level on a
/// 16 KiB sample. Random and already-compressed data is stored raw without
/// spending a full compression pass on it.
fn worth_compressing(plain: &[u8]) -> bool {
    const SAMPLE: usize = 16 * 1024;
    if plain.len() < 64 {
        return false;
    }
    if plain.len() <= SAMPLE * 2 {
        return true;
    }
    let start = plain.len() / 2 - SAMPLE / 2;
    let sample = &plain[start..start + SAMPLE];
    match zstd::bulk::compress(sample, 1) {
        Ok(c) => c.len() < SAMPLE - SAMPLE / 16,
        Err(_) => true,
    }
}

/// Opens, decompresses and checks a blob against its id. Every read of
/// stored data goes through here.
pub fn decode(
    keys: &VaultKeys,
    kind: u8,
    id: &ChunkId,
    sealed: &[u8],
    raw_len: u32,
) -> Result<Vec<u8>> {
    let what = || format!("chunk {}", id.short());
    let body = keys.open(&blob_aad(kind, id), sealed, &what())?;
    let Some((&enc, rest)) = body.split_first() else {
        return Err(Error::corrupt(what(), "empty blob"));
    };
    let plain = match enc {
        ENCODING_RAW => rest.to_vec(),
        ENCODING_ZSTD => {
            // raw_len bounds the output, so a hostile frame cannot balloon memory.
            zstd::bulk::decompress(rest, raw_len as usize)
                .map_err(|e| Error::corrupt(what(), format!("zstd: {e}")))?
        }
        other => return Err(Error::corrupt(what(), format!("unknown encoding {other}"))),
    };
    if plain.len() != raw_len as usize {
        return Err(Error::corrupt(what(), "length does not match the index"));
    }
    if keys.chunk_id(&plain) != *id {
        return Err(Error::corrupt(what(), "content does not match its id"));
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    #[test]
    fn roundtrip_compressible_and_random() {
        let keys = VaultKeys::derive(&MasterKey::generate());
        let text = b"lifeboat ".repeat(10_000);
        let random: Vec<u8> = (0..100_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        for plain in [&text[..], &random[..], b"", b"x"] {
            let id = keys.chunk_id(plain);
            let sealed = encode(&keys, KIND_DATA, &id, plain, 3);
            assert_eq!(
                decode(&keys, KIND_DATA, &id, &sealed, plain.len() as u32).unwrap(),
                plain
            );
            assert!(decode(&keys, KIND_TREE, &id, &sealed, plain.len() as u32).is_err());
        }
        let id = keys.chunk_id(&text);
        assert!(encode(&keys, KIND_DATA, &id, &text, 3).len() < text.len() / 10);
    }
}
