//! Recovery-point manifests (docs/format.md §8): `Point::decode` on the
//! input as an object and on the input sealed with the real key under the
//! version 2 and the version 1 prologue (encoding byte, then JSON or a zstd
//! frame), `manifest::decode_encoded` with a 1 MiB cap, and the JSON alone
//! with `serde_json::from_slice::<Point>`.
//!
//! Properties: any point that decodes survives `Point::encode` followed by
//! `Point::decode` unchanged, except that it is written (and read back) as
//! the current version; a decoded point's version is the one its prologue
//! names; a version 1 point names only `files` or `disk` and has no `meta`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lifeboat_fuzz::{keys, point_with_plain, point_with_plain_version};
use lifeboat_store::format::{POINT_VERSION, POINT_VERSION_V1};
use lifeboat_store::id::PointId;
use lifeboat_store::manifest::{Point, Workload, decode_encoded};

const CAP: usize = 1 << 20;

fn round_trip(p: &Point) {
    let current = Point {
        version: POINT_VERSION as u32,
        ..p.clone()
    };
    let json = serde_json::to_vec(&current).expect("a point serializes");
    let (id, bytes) = p.encode(keys());
    assert_eq!(id, PointId::of_bytes(&bytes));
    assert_eq!(bytes[4], POINT_VERSION, "encode writes the current version");
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

    // Behind an authentic seal, as the current version and as version 1.
    if let Ok(p) = Point::decode(keys, &point_with_plain(data), "fuzz") {
        assert_eq!(p.version, POINT_VERSION as u32);
        round_trip(&p);
    }
    if let Ok(p) = Point::decode(keys, &point_with_plain_version(data, POINT_VERSION_V1), "fuzz")
    {
        assert_eq!(p.version, POINT_VERSION_V1 as u32);
        assert!(p.kind == Workload::FILES || p.kind == Workload::DISK);
        assert!(p.meta.is_empty(), "a version 1 point has no metadata");
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
