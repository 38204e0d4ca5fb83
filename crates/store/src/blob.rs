//! One chunk as stored in a pack: encoding byte, optional zstd, sealed with
//! its kind and id as associated data (docs/format.md §4–§5).

use std::cell::RefCell;

use crate::crypto::{VaultKeys, blob_aad};
use crate::error::{Error, Result};
use crate::format::*;
use crate::id::ChunkId;

/// Compresses (when it pays) and seals a chunk.
pub fn encode(keys: &VaultKeys, kind: u8, id: &ChunkId, plain: &[u8], level: i32) -> Vec<u8> {
    if worth_compressing(plain)
        && let Some(packed) = compress_if_smaller(plain, level)
    {
        return keys.seal(&blob_aad(kind, id), &packed);
    }
    let mut body = Vec::with_capacity(plain.len() + 1);
    body.push(ENCODING_RAW);
    body.extend_from_slice(plain);
    keys.seal(&blob_aad(kind, id), &body)
}

// zstd contexts are reused per thread: creating one per chunk cost about 7 %
// of a first backup's CPU time (perf, 1 GiB tree, 2026-11-26), and a
// reused context keeps its tables allocated.
thread_local! {
    static COMPRESSORS: RefCell<Vec<(i32, zstd::bulk::Compressor<'static>)>> =
        const { RefCell::new(Vec::new()) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
}

/// Runs `f` with this thread's compressor for `level`; `None` if zstd could
/// not make one (out of memory), in which case the caller stores raw.
fn with_compressor<R>(
    level: i32,
    f: impl FnOnce(&mut zstd::bulk::Compressor<'static>) -> R,
) -> Option<R> {
    COMPRESSORS.with(|cell| {
        let mut all = cell.borrow_mut();
        let at = match all.iter().position(|(l, _)| *l == level) {
            Some(at) => at,
            None => {
                all.push((level, zstd::bulk::Compressor::new(level).ok()?));
                all.len() - 1
            }
        };
        Some(f(&mut all[at].1))
    })
}

/// `ENCODING_ZSTD ‖ frame` when the frame saves at least 1/32 of the chunk,
/// else `None`. The output buffer is capped at that size, so zstd gives up
/// early on a chunk that does not compress.
fn compress_if_smaller(plain: &[u8], level: i32) -> Option<Vec<u8>> {
    let limit = plain.len() - plain.len() / 32;
    let mut frame = Vec::with_capacity(limit);
    let n = with_compressor(level, |c| c.compress_to_buffer(plain, &mut frame))?.ok()?;
    if n >= limit {
        return None;
    }
    let mut body = Vec::with_capacity(n + 1 + SEAL_OVERHEAD);
    body.push(ENCODING_ZSTD);
    body.extend_from_slice(&frame[..n]);
    Some(body)
}

/// Cheap guess whether a chunk compresses: try the fastest zstd level on a
/// 16 KiB sample. Random and already-compressed data is stored raw without
/// spending a full compression pass on it.
///
/// The sample is eight 2 KiB pieces spread over the whole chunk, not one
/// piece from its middle: a disk-image chunk often holds several small
/// files, some compressible and some not, and one piece judged them all by
/// whichever file sat in the middle (a 256 KiB chunk of half text, half
/// random data was stored raw when its middle was random).
fn worth_compressing(plain: &[u8]) -> bool {
    const SAMPLE: usize = 16 * 1024;
    const PIECES: usize = 8;
    if plain.len() < 64 {
        return false;
    }
    if plain.len() <= SAMPLE * 2 {
        return true;
    }
    let piece = SAMPLE / PIECES;
    let stride = plain.len() / PIECES;
    let mut sample = Vec::with_capacity(SAMPLE);
    for i in 0..PIECES {
        let at = i * stride + (stride - piece) / 2;
        sample.extend_from_slice(&plain[at..at + piece]);
    }
    let limit = SAMPLE - SAMPLE / 16;
    let mut out = Vec::with_capacity(limit);
    match with_compressor(1, |c| c.compress_to_buffer(&sample, &mut out)) {
        // Too small a buffer means the sample did not shrink enough.
        Some(Ok(n)) => n < limit,
        Some(Err(_)) => false,
        None => true,
    }
}

/// Opens, decompresses and checks a blob against its id. Every read of
/// stored data goes through here or [`decode_in_place`].
pub fn decode(
    keys: &VaultKeys,
    kind: u8,
    id: &ChunkId,
    sealed: &[u8],
    raw_len: u32,
) -> Result<Vec<u8>> {
    let mut copy = sealed.to_vec();
    let mut out = Vec::new();
    match decode_in_place(keys, kind, id, &mut copy, raw_len, &mut out)? {
        Plain::InSealed(range) => {
            copy.truncate(range.end);
            copy.drain(..range.start);
            Ok(copy)
        }
        Plain::InOut => Ok(out),
    }
}

/// Where [`decode_in_place`] left a chunk's plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plain {
    /// This range of the sealed buffer (a chunk stored raw).
    InSealed(std::ops::Range<usize>),
    /// All of the `out` buffer (a compressed chunk).
    InOut,
}

/// [`decode`] without copies: decrypts in `sealed` itself, and a chunk
/// stored raw stays there; a compressed one is decompressed into `out`
/// (cleared first, its allocation reused). The plaintext is checked
/// against its id like every read.
pub fn decode_in_place(
    keys: &VaultKeys,
    kind: u8,
    id: &ChunkId,
    sealed: &mut [u8],
    raw_len: u32,
    out: &mut Vec<u8>,
) -> Result<Plain> {
    let what = || format!("chunk {}", id.short());
    let body_at = crate::format::NONCE_LEN;
    let body = keys.open_in_place(&blob_aad(kind, id), sealed, &what())?;
    let Some((&enc, rest)) = body.split_first() else {
        return Err(Error::corrupt(what(), "empty blob"));
    };
    let (plain, at) = match enc {
        ENCODING_RAW => (rest, Plain::InSealed(body_at + 1..body_at + 1 + rest.len())),
        ENCODING_ZSTD => {
            decompress_into(rest, raw_len as usize, out)
                .map_err(|e| Error::corrupt(what(), format!("zstd: {e}")))?;
            (&out[..], Plain::InOut)
        }
        other => return Err(Error::corrupt(what(), format!("unknown encoding {other}"))),
    };
    if plain.len() != raw_len as usize {
        return Err(Error::corrupt(what(), "length does not match the index"));
    }
    if keys.chunk_id(plain) != *id {
        return Err(Error::corrupt(what(), "content does not match its id"));
    }
    Ok(at)
}

/// Decompresses one frame into `out`, holding at most `capacity` bytes
/// (the index's raw length, so a hostile frame cannot balloon memory),
/// with this thread's reused context.
fn decompress_into(frame: &[u8], capacity: usize, out: &mut Vec<u8>) -> std::io::Result<()> {
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(zstd::bulk::Decompressor::new()?);
        }
        let d = slot
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no zstd context"))?;
        out.clear();
        out.reserve(capacity);
        d.decompress_to_buffer(frame, out)?;
        Ok(())
    })
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

    fn random_bytes(n: usize, seed: &str) -> Vec<u8> {
        let mut out = vec![0u8; n];
        blake3::Hasher::new()
            .update(seed.as_bytes())
            .finalize_xof()
            .fill(&mut out);
        out
    }

    #[test]
    fn a_mixed_chunk_is_judged_by_all_of_it() {
        // 256 KiB: text around a random middle, as a disk-image chunk that
        // holds several small files.
        let text = b"0000012345 restore vault policy chunk index pack\n".repeat(4_000);
        let mut mixed = text[..96 * 1024].to_vec();
        mixed.extend_from_slice(&random_bytes(64 * 1024, "middle"));
        mixed.extend_from_slice(&text[..96 * 1024]);
        assert!(worth_compressing(&mixed));
        let keys = VaultKeys::derive(&MasterKey::generate());
        let id = keys.chunk_id(&mixed);
        let sealed = encode(&keys, KIND_DATA, &id, &mixed, 3);
        assert!(sealed.len() < mixed.len() / 2, "{} bytes", sealed.len());
        assert_eq!(
            decode(&keys, KIND_DATA, &id, &sealed, mixed.len() as u32).unwrap(),
            mixed
        );
        // All random: not worth a compression pass.
        assert!(!worth_compressing(&random_bytes(256 * 1024, "all")));
    }
}
