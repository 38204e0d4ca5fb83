//! Measures how the chunk sizes of a vault trade dedup against chunk count
//! and speed (the numbers behind bench/chunk-sizes.md).
//!
//! For each candidate FastCDC min/avg/max (file content) it creates a fresh
//! vault, backs up files-v1, then files-v2 at the SAME path (the tree is
//! copied to a fixed work path with `rsync -a --delete`, so change detection
//! applies as in real use). For each candidate disk chunk size it creates
//! another fresh vault and backs up disk-v1.raw, then disk-v2.raw copied to
//! the same path (`cp --sparse=always`). Files and disk images use separate
//! vaults, so neither deduplicates against the other.
//!
//! The bench data set changes almost only small files (below every CDC
//! minimum, so re-stored whole whatever the chunker), so a third part
//! ("big-file edits") measures the CDC candidates where they differ: the
//! files of at least 1 MiB from files-v1, then the same files with scattered
//! 4 KiB edits (per file one per 8 MiB, at least 2; alternately overwritten
//! in place and inserted, offsets from a fixed-seed PRNG), at the same path.
//!
//! Per backup: wall and CPU seconds, bytes added, bytes stored, new chunks.
//! Per vault afterwards: total size on disk, index entries, index size on
//! disk and the index's resident RAM. Prints a Markdown table and a JSON
//! line per candidate.
//!
//! cargo run --release -p lifeboat-store --example chunk_sizes -- DATA_DIR [WORK_DIR]
//!
//! CHUNK_SIZES_ONLY=files|disk|bigedits runs only that part.
//!
//! DATA_DIR is a bench data set (bench/data/mib-N: files-v1/, files-v2/,
//! disk-v1.raw, disk-v2.raw, made by bench/run.py). WORK_DIR (default: a
//! temporary directory) holds the vaults and the fixed source paths; each
//! vault is deleted after it has been measured.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use lifeboat_store::Vault;
use lifeboat_store::backend::{Backend, BackendUrl, open};
use lifeboat_store::backup::{BackupOptions, BackupOutcome, backup_disk, backup_files};
use lifeboat_store::config::{ChunkerParams, VaultConfig};
use lifeboat_store::keyfile::KdfParams;
use lifeboat_store::upload::Progress;

const KIB: u32 = 1024;
const MIB: u32 = 1024 * 1024;

type Res<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the struct we hand it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn tree_bytes(p: &Path) -> u64 {
    let Ok(m) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if m.is_dir() {
        std::fs::read_dir(p)
            .map(|rd| rd.flatten().map(|e| tree_bytes(&e.path())).sum())
            .unwrap_or(0)
    } else {
        m.len()
    }
}

fn run(cmd: &mut Command) -> Res<()> {
    let st = cmd.status()?;
    if !st.success() {
        return Err(format!("{cmd:?} failed: {st}").into());
    }
    Ok(())
}

fn size(n: u32) -> String {
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{}M", n / MIB)
    } else {
        format!("{}K", n / KIB)
    }
}

struct Step {
    secs: f64,
    cpu: f64,
    bytes: u64,
    added: u64,
    stored: u64,
    new_chunks: u64,
}

struct Outcome {
    label: String,
    v1: Step,
    v2: Step,
    vault_bytes: u64,
    index_entries: u64,
    index_disk_bytes: u64,
    index_ram_bytes: usize,
}

fn timed(f: impl FnOnce() -> lifeboat_store::error::Result<BackupOutcome>) -> Res<Step> {
    let (t, c) = (Instant::now(), cpu_seconds());
    let out = f()?;
    let s = &out.point.summary;
    Ok(Step {
        secs: t.elapsed().as_secs_f64(),
        cpu: cpu_seconds() - c,
        bytes: s.bytes,
        added: s.added_bytes,
        stored: s.added_stored_bytes,
        new_chunks: s.new_chunks,
    })
}

fn candidate(
    work: &Path,
    label: String,
    config: VaultConfig,
    mut prepare: impl FnMut(u32) -> Res<()>,
    backup: impl Fn(&Vault) -> lifeboat_store::error::Result<BackupOutcome>,
) -> Res<Outcome> {
    let vdir = work.join("vault");
    let cache = work.join("cache");
    for d in [&vdir, &cache] {
        if d.exists() {
            std::fs::remove_dir_all(d)?;
        }
    }
    let backend: Arc<dyn Backend> = open(&BackendUrl::file(vdir.clone()))?;
    let kdf = KdfParams::MINIMAL;
    let vault = Vault::init(backend, b"bench", kdf, config)?.with_cache_root(cache.clone());
    prepare(1)?;
    let v1 = timed(|| backup(&vault))?;
    prepare(2)?;
    let v2 = timed(|| backup(&vault))?;
    let index = vault.load_index()?;
    let o = Outcome {
        label,
        v1,
        v2,
        vault_bytes: tree_bytes(&vdir),
        index_entries: index.chunk_count(),
        index_disk_bytes: tree_bytes(&vdir.join("index")),
        index_ram_bytes: index.resident_bytes(),
    };
    drop(index);
    drop(vault);
    std::fs::remove_dir_all(&vdir)?;
    std::fs::remove_dir_all(&cache)?;
    Ok(o)
}

fn mib(b: u64) -> f64 {
    b as f64 / MIB as f64
}

fn print_table(title: &str, rows: &[Outcome]) {
    println!("\n### {title}\n");
    println!(
        "| candidate | v2 added MiB | v2 stored MiB | v2 new chunks | vault MiB | index entries | index on disk KiB | index RAM KiB | v1 s (CPU s) | v1 MiB/s | v2 s (CPU s) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for o in rows {
        println!(
            "| {} | {:.1} | {:.1} | {} | {:.1} | {} | {:.0} | {:.0} | {:.2} ({:.2}) | {:.0} | {:.2} ({:.2}) |",
            o.label,
            mib(o.v2.added),
            mib(o.v2.stored),
            o.v2.new_chunks,
            mib(o.vault_bytes),
            o.index_entries,
            o.index_disk_bytes as f64 / 1024.0,
            o.index_ram_bytes as f64 / 1024.0,
            o.v1.secs,
            o.v1.cpu,
            mib(o.v1.bytes) / o.v1.secs,
            o.v2.secs,
            o.v2.cpu,
        );
    }
}

fn json(kind: &str, o: &Outcome) -> String {
    let step = |s: &Step| {
        format!(
            "{{\"secs\":{:.3},\"cpu_secs\":{:.3},\"bytes\":{},\"added_bytes\":{},\"added_stored_bytes\":{},\"new_chunks\":{}}}",
            s.secs, s.cpu, s.bytes, s.added, s.stored, s.new_chunks
        )
    };
    format!(
        "{{\"kind\":\"{kind}\",\"candidate\":\"{}\",\"v1\":{},\"v2\":{},\"vault_bytes\":{},\"index_entries\":{},\"index_disk_bytes\":{},\"index_ram_bytes\":{}}}",
        o.label,
        step(&o.v1),
        step(&o.v2),
        o.vault_bytes,
        o.index_entries,
        o.index_disk_bytes,
        o.index_ram_bytes
    )
}

const CDC: [(u32, u32, u32); 4] = [
    (128 * KIB, 256 * KIB, MIB),
    (256 * KIB, 512 * KIB, 2 * MIB),
    (512 * KIB, MIB, 8 * MIB),
    (MIB, 2 * MIB, 8 * MIB),
];

/// Every CDC candidate on trees v1 then v2, both rsynced to `work/src`.
fn files_candidates(kind: &str, work: &Path, v1: &Path, v2: &Path) -> Res<Vec<Outcome>> {
    let src = work.join("src");
    let mut rows = Vec::new();
    for (min, avg, max) in CDC {
        let mut config = VaultConfig::new_default();
        config.chunker = ChunkerParams { min, avg, max };
        let label = format!("{}/{}/{}", size(min), size(avg), size(max));
        eprintln!("{kind} {label} ...");
        let o = candidate(
            work,
            label,
            config,
            |v| {
                if v == 1 && src.exists() {
                    std::fs::remove_dir_all(&src)?;
                }
                let from = if v == 1 { v1 } else { v2 };
                run(Command::new("rsync")
                    .arg("-a")
                    .arg("--delete")
                    .arg(format!("{}/", from.display()))
                    .arg(format!("{}/", src.display())))
            },
            |vault| {
                backup_files(
                    vault,
                    std::slice::from_ref(&src),
                    &BackupOptions::default(),
                    Arc::new(Progress::default()),
                    &mut |m: &str| eprintln!("warning: {m}"),
                )
            },
        )?;
        println!("{}", json(kind, &o));
        rows.push(o);
    }
    std::fs::remove_dir_all(&src)?;
    Ok(rows)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn files_of(dir: &Path, out: &mut Vec<PathBuf>) -> Res<()> {
    let mut es: Vec<_> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .collect();
    es.sort();
    for p in es {
        let m = std::fs::symlink_metadata(&p)?;
        if m.is_dir() {
            files_of(&p, out)?;
        } else if m.is_file() {
            out.push(p);
        }
    }
    Ok(())
}

/// Writes work/big-v1 (the files of files-v1 of at least 1 MiB) and
/// work/big-v2 (the same with scattered 4 KiB edits). Returns (files,
/// bytes, edits, edited bytes).
fn make_big_edits(data: &Path, work: &Path) -> Res<(usize, u64, usize, u64)> {
    let (d1, d2) = (work.join("big-v1"), work.join("big-v2"));
    for d in [&d1, &d2] {
        if d.exists() {
            std::fs::remove_dir_all(d)?;
        }
        std::fs::create_dir_all(d)?;
    }
    let mut all = Vec::new();
    files_of(&data.join("files-v1"), &mut all)?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut files, mut bytes, mut edits) = (0usize, 0u64, 0usize);
    const EDIT: usize = 4096;
    for p in all {
        let mut buf = std::fs::read(&p)?;
        if buf.len() < MIB as usize {
            continue;
        }
        let name = format!("big{files:03}.bin");
        std::fs::write(d1.join(&name), &buf)?;
        files += 1;
        bytes += buf.len() as u64;
        let n = (buf.len() / (8 * MIB as usize)).max(2);
        let mut at: Vec<usize> = (0..n)
            .map(|_| (rng.next() % (buf.len() - EDIT) as u64) as usize)
            .collect();
        at.sort_unstable_by(|a, b| b.cmp(a)); // back to front: inserts do not move later offsets
        for (k, off) in at.into_iter().enumerate() {
            let new = rng.bytes(EDIT);
            if k % 2 == 0 {
                buf[off..off + EDIT].copy_from_slice(&new);
            } else {
                buf.splice(off..off, new);
            }
            edits += 1;
        }
        let q = d2.join(&name);
        std::fs::write(&q, &buf)?;
        // A different mtime, so rsync's quick check copies it over v1.
        let later =
            std::fs::metadata(d1.join(&name))?.modified()? + std::time::Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&q)?
            .set_modified(later)?;
    }
    Ok((files, bytes, edits, (edits * EDIT) as u64))
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let data = PathBuf::from(
        args.get(1)
            .ok_or("usage: chunk_sizes DATA_DIR [WORK_DIR]")?,
    );
    let data = std::path::absolute(&data)?;
    for n in ["files-v1", "files-v2", "disk-v1.raw", "disk-v2.raw"] {
        if !data.join(n).exists() {
            return Err(format!("{} has no {n}", data.display()).into());
        }
    }
    let _tmp;
    let work = match args.get(2) {
        Some(w) => {
            std::fs::create_dir_all(w)?;
            std::path::absolute(w)?
        }
        None => {
            _tmp = tempfile::tempdir()?;
            _tmp.path().to_path_buf()
        }
    };
    // "files", "disk" or "bigedits": only that part.
    let only = std::env::var("CHUNK_SIZES_ONLY").unwrap_or_default();
    let want = |part: &str| only.is_empty() || only == part;

    let mut files_rows = Vec::new();
    if want("files") {
        files_rows = files_candidates(
            "files",
            &work,
            &data.join("files-v1"),
            &data.join("files-v2"),
        )?;
    }

    let mut disk_rows = Vec::new();
    if want("disk") {
        let disk = work.join("disk.raw");
        for cs in [256 * KIB, 512 * KIB, MIB, 4 * MIB] {
            let mut config = VaultConfig::new_default();
            config.disk_chunk_size = cs;
            let label = size(cs);
            eprintln!("disk {label} ...");
            let o = candidate(
                &work,
                label,
                config,
                |v| {
                    if v == 1 && disk.exists() {
                        std::fs::remove_file(&disk)?;
                    }
                    // v2 is copied over v1 in place: same path and inode.
                    run(Command::new("cp")
                        .arg("--sparse=always")
                        .arg(data.join(format!("disk-v{v}.raw")))
                        .arg(&disk))
                },
                |vault| {
                    backup_disk(
                        vault,
                        &disk,
                        &BackupOptions::default(),
                        Arc::new(Progress::default()),
                        &mut |m: &str| eprintln!("warning: {m}"),
                    )
                },
            )?;
            println!("{}", json("disk", &o));
            disk_rows.push(o);
        }
        std::fs::remove_file(&disk)?;
    }

    let mut big_rows = Vec::new();
    let mut big_info = None;
    if want("bigedits") {
        big_info = Some(make_big_edits(&data, &work)?);
        big_rows = files_candidates(
            "bigedits",
            &work,
            &work.join("big-v1"),
            &work.join("big-v2"),
        )?;
        std::fs::remove_dir_all(work.join("big-v1"))?;
        std::fs::remove_dir_all(work.join("big-v2"))?;
    }

    if !files_rows.is_empty() {
        print_table("File content (FastCDC min/avg/max)", &files_rows);
    }
    if !disk_rows.is_empty() {
        print_table("Disk images (fixed chunk size)", &disk_rows);
    }
    if let Some((n, b, e, eb)) = big_info {
        print_table(
            &format!(
                "Big-file edits (FastCDC min/avg/max): {n} files, {:.1} MiB, {e} edits of 4 KiB ({:.2} MiB)",
                mib(b),
                mib(eb)
            ),
            &big_rows,
        );
    }
    Ok(())
}
