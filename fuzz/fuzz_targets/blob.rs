//! Blobs (docs/format.md §4–§5): `blob::decode` with kind and raw length
//! from the input, on the input as a sealed blob and on the input sealed
//! with the real key (so the encoding byte and zstd frame are reached with a
//! hostile raw length), and the round trip `encode` then `decode`.
//!
//! Input: kind u8, raw length u32 LE, zstd level selector u8, chunk id
//! (32 bytes), then the payload.
//!
//! Properties: decode(encode(x)) == x for every payload, kind and level the
//! config allows (-7..=22); a blob does not decode under another kind or
//! another raw length; whatever decodes matches its id and length.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lifeboat_fuzz::keys;
use lifeboat_store::blob::{decode, encode};
use lifeboat_store::crypto::blob_aad;
use lifeboat_store::id::ChunkId;

fn check_decoded(r: lifeboat_store::Result<Vec<u8>>, id: &ChunkId, raw_len: u32) {
    match r {
        Ok(plain) => {
            assert_eq!(plain.len(), raw_len as usize);
            assert_eq!(keys().chunk_id(&plain), *id);
        }
        Err(e) => drop(e.to_string()),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 38 {
        return;
    }
    let keys = keys();
    let kind = data[0];
    let raw_len = u32::from_le_bytes([data[1], data[2], data[3], data[4]]);
    let level = (data[5] % 30) as i32 - 7;
    let given_id = ChunkId::from_slice(&data[6..38]);
    let payload = &data[38..];

    // The payload as a sealed blob (seeds hold real ones with their ids).
    check_decoded(
        decode(keys, kind, &given_id, payload, raw_len),
        &given_id,
        raw_len,
    );

    // The payload as the plaintext of an authentic seal: encoding byte, body.
    let sealed = keys.seal(&blob_aad(kind, &given_id), payload);
    check_decoded(
        decode(keys, kind, &given_id, &sealed, raw_len),
        &given_id,
        raw_len,
    );

    // Round trip, under the payload's real id.
    let id = keys.chunk_id(payload);
    let sealed = encode(keys, kind, &id, payload, level);
    let back = decode(keys, kind, &id, &sealed, payload.len() as u32)
        .unwrap_or_else(|e| panic!("encode then decode failed: {e}"));
    assert_eq!(back, payload, "encode then decode changed the data");
    assert!(
        decode(keys, kind ^ 1, &id, &sealed, payload.len() as u32).is_err(),
        "a blob decoded under another kind"
    );
    assert!(
        decode(keys, kind, &id, &sealed, payload.len() as u32 + 1).is_err(),
        "a blob decoded with the wrong raw length"
    );
});
