//! Measures the memory a backup needs in a vault with many chunks.
//!
//! Fills a fresh vault's index with N synthetic chunk entries (real, sealed
//! index segments; the packs they name do not exist, which a backup never
//! notices because it only asks whether a chunk is known), then backs up a
//! real folder twice — once building the local index cache, once with it
//! warm — and prints the peak resident memory of this process.
//!
//! cargo run --release -p lifeboat-store --example index_memory -- 10000000 /some/folder

use std::sync::Arc;

use lifeboat_store::Vault;
use lifeboat_store::backend::{Backend, BackendUrl, open};
use lifeboat_store::backup::{BackupOptions, backup_files};
use lifeboat_store::config::VaultConfig;
use lifeboat_store::id::{ChunkId, LeaseId, PackId};
use lifeboat_store::index::{Segment, segment_name};
use lifeboat_store::keyfile::KdfParams;
use lifeboat_store::pack::PackEntry;
use lifeboat_store::upload::Progress;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn reset_peak() {
    // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let source = args.get(2).ok_or("usage: index_memory N SOURCE_DIR")?;
    let work = tempfile::tempdir()?;
    let backend: Arc<dyn Backend> = open(&BackendUrl::file(work.path().join("vault")))?;
    let kdf = KdfParams::MINIMAL;
    let vault = Vault::init(backend.clone(), b"bench", kdf, VaultConfig::new_default())?
        .with_cache_root(work.path().join("cache"));
    let t = std::time::Instant::now();
    let mut x: u64 = 0x243f_6a88_85a3_08d3;
    let mut written = 0u64;
    let per_segment = 65_536u64;
    while written < n {
        let count = per_segment.min(n - written);
        let mut entries = Vec::with_capacity(count as usize);
        for i in 0..count {
            let mut id = [0u8; 32];
            for c in id.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                c.copy_from_slice(&x.to_le_bytes());
            }
            entries.push(PackEntry {
                kind: 0,
                id: ChunkId(id),
                offset: 8 + (i as u32 % 8) * 1_048_616,
                sealed_len: 1_048_616,
                raw_len: 1_048_576,
            });
        }
        // Eight chunks per 8 MiB pack, as a real vault of 1 MiB chunks would have.
        let packs: Vec<(PackId, Vec<PackEntry>)> = entries
            .chunks(8)
            .enumerate()
            .map(|(j, c)| {
                let mut pid = [0u8; 32];
                pid[..8].copy_from_slice(&(written + j as u64).to_le_bytes());
                (PackId(pid), c.to_vec())
            })
            .collect();
        let seg = Segment::build(LeaseId::default(), &packs);
        let (sid, bytes) = seg.encode(vault.keys());
        backend.put_if_absent(&segment_name(&sid), &bytes)?;
        written += count;
    }
    println!(
        "wrote {n} synthetic index entries in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let baseline = peak_rss_kib();
    for label in ["cold index cache", "warm index cache"] {
        reset_peak();
        let t = std::time::Instant::now();
        let progress = Arc::new(Progress::default());
        let out = backup_files(
            &vault,
            &[std::path::PathBuf::from(source)],
            &BackupOptions {
                force_read: true,
                ..Default::default()
            },
            progress,
            &mut |_| {},
        )?;
        let index = vault.load_index()?;
        println!(
            "backup with {label}: {:.1}s, {} files, {} MiB read; index in RAM {:.1} MiB ({:.2} B/chunk over {} chunks); peak RSS {:.1} MiB (before: {:.1} MiB)",
            t.elapsed().as_secs_f64(),
            out.point.summary.files,
            out.point.summary.bytes >> 20,
            index.resident_bytes() as f64 / 1048576.0,
            index.resident_bytes() as f64 / index.chunk_count() as f64,
            index.chunk_count(),
            peak_rss_kib() as f64 / 1024.0,
            baseline as f64 / 1024.0
        );
    }
    Ok(())
}
