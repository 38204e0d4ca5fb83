//! Index segments (docs/format.md §7): `Segment::decode_plain` on the raw
//! input, `Segment::decode` on the input as an object, and `Segment::decode`
//! on the input sealed with the real key (so the AEAD lets it through).
//!
//! Properties: a decoded segment is sorted and in range; the format has no
//! slack (encoding a decoded segment gives back exactly the plaintext);
//! `decode` agrees with `decode_plain`; and the engine can use every segment
//! it decodes: `Index::load` over a vault holding it (through the local
//! cache) succeeds and finds each of its entries where the segment says.

#![no_main]

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use lifeboat_fuzz::{MemBackend, keys, scratch_cache_dir, segment_with_plain};
use lifeboat_store::backend::Backend;
use lifeboat_store::format::{AAD_INDEX, KIND_TREE, PROLOGUE_LEN};
use lifeboat_store::id::SegmentId;
use lifeboat_store::index::{Index, Location, Segment, segment_name};

static CACHE_DIR: LazyLock<PathBuf> = LazyLock::new(|| scratch_cache_dir("index-segment"));

fn same(a: &Segment, b: &Segment) -> bool {
    a.writer == b.writer && a.created == b.created && a.packs == b.packs && a.entries == b.entries
}

/// What the engine does with a segment it lists: cache it, load, look up.
fn check_usable(seg: &Segment, sid: SegmentId, bytes: &[u8]) {
    let backend: Arc<dyn Backend> =
        Arc::new(MemBackend::with([(segment_name(&sid), bytes.to_vec())]));
    let index = Index::load(backend, keys(), &CACHE_DIR)
        .unwrap_or_else(|e| panic!("Index::load fails on a segment that decodes: {e}"));
    assert!(
        index.damaged.is_empty(),
        "segment reported damaged: {:?}",
        index.damaged
    );
    assert_eq!(index.chunk_count(), seg.entries.len() as u64);
    let want: Vec<_> = seg
        .entries
        .iter()
        .map(|(id, no, e)| (*id, Location::from_entry(seg.packs[*no as usize], e)))
        .collect();
    let mut got = Vec::with_capacity(want.len());
    index
        .for_each(|s, w, id, loc| {
            assert_eq!((s, w), (sid, seg.writer));
            got.push((id, loc));
            Ok(())
        })
        .unwrap_or_else(|e| panic!("Index::for_each fails on a segment that decodes: {e}"));
    assert_eq!(got, want, "the cached index differs from the segment");
    for (id, _) in &want {
        let loc = index
            .lookup(id)
            .unwrap_or_else(|e| panic!("Index::lookup fails on a segment that decodes: {e}"))
            .unwrap_or_else(|| panic!("Index::lookup misses chunk {id:?} of the segment"));
        assert!(want.contains(&(*id, loc)), "lookup of {id:?} gives {loc:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let keys = keys();
    let plain = Segment::decode_plain(data, "fuzz");
    if let Ok(seg) = &plain {
        assert!(seg.entries.windows(2).all(|w| w[0].0 <= w[1].0), "unsorted");
        for (id, no, e) in &seg.entries {
            assert!((*no as usize) < seg.packs.len(), "pack number out of range");
            assert!(e.kind <= KIND_TREE);
            assert_eq!(*id, e.id);
        }
        let (sid, bytes) = seg.encode(keys);
        assert_eq!(sid, SegmentId::of_bytes(&bytes));
        let reopened = keys
            .open(AAD_INDEX, &bytes[PROLOGUE_LEN..], "fuzz")
            .expect("a segment we sealed opens");
        assert_eq!(
            reopened, data,
            "decode_plain then encode is not the identity"
        );
        let back = Segment::decode(keys, &bytes, "fuzz").expect("a segment we encoded decodes");
        assert!(same(seg, &back));
        check_usable(seg, sid, &bytes);
    }

    // The input as a segment object (seeds are real segments).
    let _ = Segment::decode(keys, data, "fuzz");

    // The input behind an authentic seal: decode must agree with decode_plain.
    let via_seal = Segment::decode(keys, &segment_with_plain(data), "fuzz");
    match (&plain, &via_seal) {
        (Ok(a), Ok(b)) => assert!(same(a, b)),
        (Err(_), Err(_)) => {}
        _ => panic!("decode and decode_plain disagree: {plain:?} vs {via_seal:?}"),
    }
});
