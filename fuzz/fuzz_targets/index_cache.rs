//! The local index cache (`<cache dir>/<segment-id>.lbc`, crates/store/src/index.rs):
//! not a vault object, but a file the engine reads back from disk on every
//! open. A damaged cache file (disk error, a crash, another version) must be
//! rebuilt or refused, never crash the engine.
//!
//! Each run: a memory vault holding one real index segment, the input
//! written as that segment's cache file, then `Index::load` and every read
//! the engine makes of a loaded index (`for_each`, `packs`, `lookup`,
//! `locate`, `chunk_count`, `resident_bytes`). Then the same again with the
//! input's checksum recomputed (`lifeboat_fuzz::fix_cache_checksum`), so the
//! fuzzer also reaches the code behind the checksum.

#![no_main]

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use lifeboat_fuzz::{MemBackend, fix_cache_checksum, keys, sample_segment, scratch_cache_dir};
use lifeboat_store::backend::Backend;
use lifeboat_store::id::{ChunkId, SegmentId};
use lifeboat_store::index::{Index, Segment, segment_name};

struct Fixture {
    backend: Arc<dyn Backend>,
    segment: Segment,
    cache_dir: PathBuf,
    cache_file: PathBuf,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let segment = sample_segment();
    let (id, bytes): (SegmentId, Vec<u8>) = segment.encode(keys());
    let backend: Arc<dyn Backend> = Arc::new(MemBackend::with([(segment_name(&id), bytes)]));
    let cache_dir = scratch_cache_dir("index-cache");
    let cache_file = cache_dir.join(format!("{}.lbc", id.to_hex()));
    Fixture {
        backend,
        segment,
        cache_dir,
        cache_file,
    }
});

fn load_and_read(f: &Fixture, cache: &[u8]) {
    std::fs::write(&f.cache_file, cache).expect("write the cache file");
    let index = match Index::load(f.backend.clone(), keys(), &f.cache_dir) {
        Ok(ix) => ix,
        Err(e) => return drop(e.to_string()),
    };
    let _ = index.chunk_count();
    let _ = index.resident_bytes();
    let _ = index.segment_ids();
    let mut n = 0u64;
    let _ = index.for_each(|_, _, _, _| {
        n += 1;
        Ok(())
    });
    let _ = index.packs();
    for (id, _, _) in f.segment.entries.iter().step_by(37) {
        let _ = index.lookup(id);
    }
    if cache.len() >= 32 {
        let _ = index.lookup(&ChunkId::from_slice(&cache[cache.len() - 32..]));
    }
    let _ = index.lookup(&ChunkId([0; 32]));
    let _ = index.lookup(&ChunkId([0xff; 32]));
    let _ = index.locate(&ChunkId([0x55; 32]));
}

fuzz_target!(|data: &[u8]| {
    let f = &*FIXTURE;
    load_and_read(f, data);
    let mut fixed = data.to_vec();
    if fix_cache_checksum(&mut fixed) && fixed != data {
        load_and_read(f, &fixed);
    }
});
