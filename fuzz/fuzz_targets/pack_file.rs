//! Whole pack files (docs/format.md §6): `parse_pack` under the fixed key,
//! then every blob it lists decoded exactly as `verify --read-data` does.
//!
//! Each input is used twice:
//! 1. as a pack file, unchanged (seeds are real packs);
//! 2. as `[header length u16 LE][header plaintext][blob area]`, built into a
//!    pack whose header is sealed with the real key, so the fuzzer gets past
//!    the AEAD into the header parser. `parse_pack` must then agree with
//!    `parse_header_plain` on the same plaintext.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lifeboat_fuzz::{keys, pack_with_header};
use lifeboat_store::format::PROLOGUE_LEN;
use lifeboat_store::pack::{parse_header_plain, parse_pack};

/// `parse_pack`, then each listed blob, as `verify` reads a pack.
fn read_pack(bytes: &[u8]) -> Option<Vec<lifeboat_store::pack::PackEntry>> {
    let keys = keys();
    let (_, entries) = parse_pack(keys, bytes, "fuzz").ok()?;
    for e in &entries {
        // The same (u32) arithmetic as verify.rs: parse_pack promises it is in range.
        let sealed = &bytes[e.offset as usize..(e.offset + e.sealed_len) as usize];
        if let Ok(plain) = lifeboat_store::blob::decode(keys, e.kind, &e.id, sealed, e.raw_len) {
            assert_eq!(plain.len(), e.raw_len as usize);
            assert_eq!(keys.chunk_id(&plain), e.id);
        }
    }
    Some(entries)
}

fuzz_target!(|data: &[u8]| {
    read_pack(data);

    if data.len() >= 2 {
        let hlen = (u16::from_le_bytes([data[0], data[1]]) as usize).min(data.len() - 2);
        let (header, blobs) = data[2..].split_at(hlen);
        let pack = pack_with_header(blobs, header);
        let hoff = (PROLOGUE_LEN + blobs.len()) as u64;
        let direct = parse_header_plain(header, hoff, "fuzz")
            .ok()
            .map(|(_, e)| e);
        let whole = read_pack(&pack);
        assert_eq!(
            direct, whole,
            "parse_pack disagrees with parse_header_plain on an authentic header"
        );
    }
});
