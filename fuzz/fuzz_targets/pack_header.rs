//! Pack header plaintext and pack trailer (docs/format.md §6), without the
//! AEAD in the way: `parse_header_plain` and `parse_trailer`.
//!
//! Input: 8 bytes of header offset (u64 LE), then the header plaintext. The
//! same input's first and last 8 bytes are also tried as trailers.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lifeboat_store::format::{
    KIND_TREE, PACK_HEADER_ENTRY_LEN, PACK_TRAILER_LEN, PROLOGUE_LEN, SEAL_OVERHEAD,
};
use lifeboat_store::pack::{parse_header_plain, parse_trailer};

fn check_trailer(trailer: &[u8], pack_len: u64, bytes: Option<&[u8]>) {
    if let Ok((hoff, hlen)) = parse_trailer(trailer, pack_len, "fuzz") {
        assert!(
            hoff >= PROLOGUE_LEN as u64,
            "header offset {hoff} inside the prologue"
        );
        assert!(
            hlen as usize >= SEAL_OVERHEAD + 12,
            "header length {hlen} too short"
        );
        assert_eq!(hoff + hlen as u64 + PACK_TRAILER_LEN as u64, pack_len);
        if let Some(b) = bytes {
            // What parse_pack does next with the result.
            let _ = &b[hoff as usize..hoff as usize + hlen as usize];
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() >= 8 {
        let (off, h) = data.split_at(8);
        let header_offset = u64::from_le_bytes(off.try_into().expect("8 bytes"));
        // A random u64 is almost never a plausible offset; try a small one too.
        for hoff in [header_offset, header_offset & 0xffff] {
            if let Ok((_, entries)) = parse_header_plain(h, hoff, "fuzz") {
                assert_eq!(h.len(), 12 + entries.len() * PACK_HEADER_ENTRY_LEN);
                for e in &entries {
                    assert!(e.kind <= KIND_TREE);
                    assert!(e.offset as usize >= PROLOGUE_LEN);
                    assert!(e.offset as u64 + e.sealed_len as u64 <= hoff);
                }
            }
        }
        // The offset bytes as a trailer of a pack of any length (gc reads
        // trailers with the length a listing reported).
        check_trailer(off, header_offset, None);
        check_trailer(off, data.len() as u64, None);
    }
    // The input as a whole pack: its last 8 bytes are the trailer.
    let tail = &data[data.len().saturating_sub(PACK_TRAILER_LEN)..];
    check_trailer(tail, data.len() as u64, Some(data));
});
