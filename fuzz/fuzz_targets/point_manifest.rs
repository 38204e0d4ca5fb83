//! Recovery-point manifests (docs/format.md §8): `Point::decode` on the
//! input as an object and on the input sealed with the real key (encoding
//! byte, then JSON or a zstd frame), `manifest::decode_encoded` with a
//! 1 MiB cap, and the JSON alone with `serde_json::from_slice::<Point>`.
//!
//! Property: any point that decodes survives `Point::encode` followed by
//! `Point::decode` unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lifeboat_fuzz::{keys, point_with_plain};
use lifeboat_store::id::PointId;
use lifeboat_store::manifest::{Point, decode_encoded};

const CAP: usize = 1 << 20;

fn round_trip(p: &Point) {
    let json = serde_json::to_vec(p).expect("a point serializes");
    let (id, bytes) = p.encode(keys());
    assert_eq!(id, PointId::of_bytes(&bytes));
    let back = Point::decode(keys(), &bytes, "fuzz").expect("a point we encoded decodes");
    let json2 = serde_json::to_vec(&back).expect("a point serializes");
    assert_eq!(
        String::from_utf8_lossy(&json),
        String::from_utf8_lossy(&json2),
        "point changed through encode/decode"
    );
}

fuzz_target!(|data: &[u8]| {
    let keys = keys();

    // The input as a point object (seeds are real ones).
    if let Ok(p) = Point::decode(keys, data, "fuzz") {
        round_trip(&p);
    }

    // Behind an authentic seal.
    if let Ok(p) = Point::decode(keys, &point_with_plain(data), "fuzz") {
        round_trip(&p);
    }

    // The encoding layer alone (also used by gc condemnation records).
    match decode_encoded(data, CAP, "fuzz") {
        Ok(out) => assert!(out.len() <= CAP, "decode_encoded exceeded its cap"),
        Err(e) => drop(e.to_string()),
    }

    // The JSON alone.
    if let Ok(p) = serde_json::from_slice::<Point>(data) {
        round_trip(&p);
    }
});
