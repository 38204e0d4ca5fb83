//! Tree streams (docs/format.md §8): `TreeReader` over 1–4 chunks cut from
//! the input (see `lifeboat_fuzz::split_pieces`), every entry read, and
//! `manifest::check_safe_path` on every path.
//!
//! Properties:
//! - the reader ends, after at most one item per byte plus one per chunk;
//! - where the chunk boundaries fall does not change what is read;
//! - a path `check_safe_path` accepts has only normal components;
//! - an entry written back (as `TreeWriter` does) is one line and reads back equal.
//!
//! The control byte's top bit makes the loader fail on one chunk, to cover
//! the reader's error path.

#![no_main]

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;
use lifeboat_fuzz::split_pieces;
use lifeboat_store::Error;
use lifeboat_store::id::ChunkId;
use lifeboat_store::manifest::{Entry, check_safe_path};
use lifeboat_store::tree::TreeReader;

fn read_all(pieces: &[&[u8]], fail_at: Option<usize>) -> Vec<Option<Entry>> {
    let ids: Vec<ChunkId> = (0..pieces.len()).map(|i| ChunkId([i as u8; 32])).collect();
    let limit = pieces.iter().map(|p| p.len()).sum::<usize>() + pieces.len() + 1;
    let reader = TreeReader::new(ids, "fuzz", |id: &ChunkId| {
        let i = id.0[0] as usize;
        if Some(i) == fail_at {
            return Err(Error::ChunkMissing(id.to_hex()));
        }
        Ok(pieces[i].to_vec())
    });
    let mut out = Vec::new();
    for item in reader {
        assert!(out.len() < limit, "TreeReader does not end");
        match item {
            Ok(e) => {
                check_entry(&e);
                out.push(Some(e));
            }
            Err(e) => {
                drop(e.to_string());
                out.push(None);
            }
        }
    }
    out
}

fn check_entry(e: &Entry) {
    if check_safe_path(&e.path).is_ok() {
        for c in Path::new(&e.path).components() {
            assert!(
                matches!(c, Component::Normal(_)),
                "check_safe_path accepted {:?} with component {c:?}",
                e.path
            );
        }
    }
    for p in [&e.target, &e.link].into_iter().flatten() {
        let _ = check_safe_path(p);
    }
    let line = serde_json::to_vec(e).expect("an entry serializes");
    assert!(!line.contains(&b'\n'), "a serialized entry spans lines");
    let back: Entry = serde_json::from_slice(&line).expect("a serialized entry parses");
    assert_eq!(&back, e, "entry changed through serialize/parse");
    let _ = e.chunk_ids().count();
}

fuzz_target!(|data: &[u8]| {
    let (pieces, ctl) = split_pieces(data);
    let fail_at = (ctl & 0x80 != 0).then_some(((ctl >> 2) & 3) as usize);
    let got = read_all(&pieces, fail_at);
    if fail_at.is_none_or(|i| i >= pieces.len()) {
        let whole = pieces.concat();
        let single = read_all(&[&whole[..]], None);
        assert_eq!(
            got, single,
            "chunk boundaries changed what the tree stream reads"
        );
    }
});
