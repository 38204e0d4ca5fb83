//! Backups of files and folders, and of disk images (raw directly; qcow2 and
//! other formats through `qemu-img`).
//!
//! A file backup walks each source depth-first with names sorted bytewise
//! and merge-joins that walk with the parent point's tree stream: a file whose
//! size, mtime, ctime and inode match the parent's entry keeps the parent's
//! chunk list without being read.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::format::*;
use crate::id::PointId;
use crate::index::Index;
use crate::lease::Lease;
use crate::manifest::*;
use crate::throttle::Throttle;
use crate::tree::{TreeReader, TreeWriter};
use crate::upload::{Progress, Uploader};
use crate::vault::Vault;

#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    pub tags: Vec<String>,
    /// Overrides the host name recorded in the point.
    pub host: Option<String>,
    /// Use this parent for change detection instead of the latest matching point.
    pub parent: Option<PointId>,
    /// Read every file even if the parent says it is unchanged.
    pub force_read: bool,
    /// Read the source at most this many bytes per second (`None`: no cap).
    pub read_limit: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct BackupOutcome {
    pub id: PointId,
    pub point: Point,
}

/// Compares manifest paths component by component: the order of a
/// depth-first walk with sorted names.
pub fn cmp_paths(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/').cmp(b.split('/'))
}

fn nanos(secs: i64, nsec: i64) -> i64 {
    secs.saturating_mul(1_000_000_000).saturating_add(nsec)
}

fn entry_from_meta(path: String, kind: EntryType, m: &Metadata) -> Entry {
    Entry {
        mode: m.mode(),
        uid: m.uid(),
        gid: m.gid(),
        size: if kind == EntryType::File { m.size() } else { 0 },
        mtime: nanos(m.mtime(), m.mtime_nsec()),
        ctime: nanos(m.ctime(), m.ctime_nsec()),
        // Access times are not recorded: reading a file for the backup changes
        // it, so recording it would make every point's file list differ.
        ino: m.ino(),
        nlink: m.nlink(),
        ..Entry::new(path, kind)
    }
}

fn read_xattrs(path: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Ok(names) = xattr::list(path) {
        for n in names {
            if let Ok(Some(v)) = xattr::get(path, &n) {
                out.insert(n.to_string_lossy().into_owned(), hex::encode(v));
            }
        }
    }
    out
}

/// Everything a running backup carries around.
struct Run<'a, 'r, 'u> {
    vault: &'a Vault,
    up: &'r mut Uploader<'u>,
    tree: TreeWriter,
    parent: Option<std::iter::Peekable<TreeReader<'a>>>,
    hardlinks: HashMap<(u64, u64), String>,
    summary: Summary,
    warnings: Vec<String>,
    warn_cb: &'a mut dyn FnMut(&str),
    changed: bool,
    progress: Arc<Progress>,
    force_read: bool,
    throttle: Option<Throttle>,
}

impl Run<'_, '_, '_> {
    fn warn(&mut self, w: String) {
        (self.warn_cb)(&w);
        self.summary.warnings += 1;
        if self.warnings.len() < 1000 {
            self.warnings.push(w);
        }
    }

    /// The parent's entry at `path`, if it has one.
    fn parent_entry(&mut self, path: &str) -> Option<Entry> {
        let reader = self.parent.as_mut()?;
        loop {
            match reader.peek() {
                None => return None,
                Some(Err(_)) => {
                    // A damaged parent only costs speed: read files again.
                    self.parent = None;
                    return None;
                }
                Some(Ok(e)) => match cmp_paths(&e.path, path) {
                    std::cmp::Ordering::Less => {
                        reader.next();
                    }
                    std::cmp::Ordering::Equal => return reader.next().and_then(|r| r.ok()),
                    std::cmp::Ordering::Greater => return None,
                },
            }
        }
    }

    fn emit(&mut self, e: &Entry) -> Result<()> {
        self.tree.push(e, self.up)
    }

    fn visit(&mut self, fs_path: &Path, rel: String) -> Result<()> {
        let meta = match std::fs::symlink_metadata(fs_path) {
            Ok(m) => m,
            Err(e) => {
                self.warn(format!("{}: {e}; skipped", fs_path.display()));
                return Ok(());
            }
        };
        let ft = meta.file_type();
        use std::os::unix::fs::FileTypeExt;
        if ft.is_dir() {
            let mut e = entry_from_meta(rel.clone(), EntryType::Dir, &meta);
            e.xattrs = read_xattrs(fs_path);
            self.emit(&e)?;
            self.summary.dirs += 1;
            let mut names: Vec<std::ffi::OsString> = match std::fs::read_dir(fs_path) {
                Ok(rd) => rd.filter_map(|d| d.ok().map(|d| d.file_name())).collect(),
                Err(err) => {
                    self.warn(format!(
                        "{}: {err}; folder contents skipped",
                        fs_path.display()
                    ));
                    return Ok(());
                }
            };
            use std::os::unix::ffi::OsStrExt;
            names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            for n in names {
                let Some(s) = n.to_str() else {
                    self.warn(format!(
                        "{}: name is not UTF-8; skipped",
                        fs_path.join(&n).display()
                    ));
                    continue;
                };
                self.visit(&fs_path.join(&n), format!("{rel}/{s}"))?;
            }
            return Ok(());
        }
        if ft.is_symlink() {
            let mut e = entry_from_meta(rel, EntryType::Symlink, &meta);
            match std::fs::read_link(fs_path) {
                Ok(t) => e.target = Some(t.to_string_lossy().into_owned()),
                Err(err) => {
                    self.warn(format!("{}: {err}; skipped", fs_path.display()));
                    return Ok(());
                }
            }
            return self.emit(&e);
        }
        if !ft.is_file() {
            let kind = if ft.is_fifo() {
                EntryType::Fifo
            } else if ft.is_char_device() {
                EntryType::Chardev
            } else if ft.is_block_device() {
                EntryType::Blockdev
            } else {
                EntryType::Socket
            };
            let mut e = entry_from_meta(rel, kind, &meta);
            e.rdev = Some(meta.rdev());
            return self.emit(&e);
        }
        // Regular file.
        if meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.hardlinks.get(&key) {
                let mut e = entry_from_meta(rel, EntryType::Hardlink, &meta);
                e.link = Some(first.clone());
                return self.emit(&e);
            }
            self.hardlinks.insert(key, rel.clone());
        }
        let mut e = entry_from_meta(rel.clone(), EntryType::File, &meta);
        e.xattrs = read_xattrs(fs_path);
        self.summary.files += 1;
        self.summary.bytes += meta.size();
        let parent = self.parent_entry(&rel);
        if !self.force_read
            && let Some(p) = parent
            && p.kind == EntryType::File
            && p.size == e.size
            && p.mtime == e.mtime
            && p.ctime == e.ctime
            && p.ino == e.ino
            && !p.changed
        {
            e.chunks = p.chunks;
            self.summary.unchanged_files += 1;
            self.progress
                .bytes_read
                .fetch_add(e.size, Ordering::Relaxed);
            self.progress.files_done.fetch_add(1, Ordering::Relaxed);
            return self.emit(&e);
        }
        match self.read_file(fs_path, &meta) {
            Ok((chunks, read, changed)) => {
                e.chunks = chunks;
                self.summary.bytes = self.summary.bytes - e.size + read;
                e.size = read;
                if changed {
                    e.changed = true;
                    self.changed = true;
                    self.warn(format!("{}: changed while it was read", fs_path.display()));
                }
            }
            Err(err @ Error::StorageFull(_)) => return Err(err),
            Err(Error::Io { context, source }) => {
                if source.kind() == std::io::ErrorKind::NotFound {
                    // It vanished between the walk and the read: the point no
                    // longer shows one moment of the source.
                    self.changed = true;
                }
                self.warn(format!("{context}: {source}; skipped"));
                self.summary.files -= 1;
                self.summary.bytes -= meta.size();
                return Ok(());
            }
            Err(err) => return Err(err),
        }
        self.progress.files_done.fetch_add(1, Ordering::Relaxed);
        self.emit(&e)
    }

    fn push_chunk(&mut self, chunks: &mut Vec<ChunkRef>, data: Vec<u8>) -> Result<()> {
        self.progress
            .bytes_read
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        if let Some(t) = &mut self.throttle {
            t.consume(data.len() as u64);
        }
        if is_zero(&data) {
            push_zero(chunks, data.len() as u64);
            return Ok(());
        }
        let (id, _) = self.up.store(KIND_DATA, data)?;
        chunks.push(ChunkRef::Id(id));
        Ok(())
    }

    /// Reads and chunks one file. Returns its chunks, the bytes actually read
    /// (the size to record) and whether it changed meanwhile.
    fn read_file(&mut self, path: &Path, before: &Metadata) -> Result<(Vec<ChunkRef>, u64, bool)> {
        let ctx = || format!("{}", path.display());
        let mut f = File::open(path).map_err(|e| Error::io(ctx(), e))?;
        let mut chunks = Vec::new();
        let mut read = 0u64;
        // A sparse file is read extent by extent (SEEK_DATA/SEEK_HOLE), so
        // its holes are recorded as holes however the data falls into chunks.
        let sparse = before.blocks() * 512 < before.size();
        let extents = if sparse {
            data_extents(&f, before.size())
        } else {
            vec![(0, before.size())]
        };
        let mut pos = 0u64;
        for (start, end) in extents {
            if start > pos {
                push_zero(&mut chunks, start - pos);
                read += start - pos;
            }
            if sparse {
                std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(start))
                    .map_err(|e| Error::io(ctx(), e))?;
            }
            // The last extent is read to the end of the file, so a file that
            // grew while it was read is taken whole (and marked changed).
            let limit = if end >= before.size() {
                u64::MAX
            } else {
                end - start
            };
            read += self.chunk_stream((&mut f).take(limit), &mut chunks, &ctx)?;
            pos = end;
        }
        if pos < before.size() && read < before.size() {
            push_zero(&mut chunks, before.size() - read);
            read = before.size();
        }
        let after = f.metadata().map_err(|e| Error::io(ctx(), e))?;
        let changed = after.size() != before.size()
            || read != before.size()
            || after.mtime() != before.mtime()
            || after.mtime_nsec() != before.mtime_nsec()
            || after.ctime() != before.ctime()
            || after.ctime_nsec() != before.ctime_nsec();
        Ok((chunks, read, changed))
    }

    /// Cuts a stream into chunks and stores them; returns the bytes read.
    fn chunk_stream(
        &mut self,
        mut r: impl Read,
        chunks: &mut Vec<ChunkRef>,
        ctx: &dyn Fn() -> String,
    ) -> Result<u64> {
        let cfg = self.vault.config().chunker;
        // Read up to the minimum chunk size first: most files end there and
        // need no chunker (and no chunker buffer).
        let mut head = Vec::with_capacity(64 * 1024);
        (&mut r)
            .take(cfg.min as u64)
            .read_to_end(&mut head)
            .map_err(|e| Error::io(ctx(), e))?;
        if (head.len() as u64) < cfg.min as u64 {
            let n = head.len() as u64;
            if n > 0 {
                self.push_chunk(chunks, head)?;
            }
            return Ok(n);
        }
        let cdc = fastcdc::v2020::StreamCDC::with_level_and_seed(
            std::io::Cursor::new(head).chain(r),
            cfg.min as usize,
            cfg.avg as usize,
            cfg.max as usize,
            fastcdc::v2020::Normalization::Level1,
            self.up.keys().chunker_seed(),
        );
        let mut n = 0;
        for c in cdc {
            let c = c.map_err(|e| Error::io(ctx(), e.into()))?;
            n += c.data.len() as u64;
            self.push_chunk(chunks, c.data)?;
        }
        Ok(n)
    }
}

/// The data extents of a file, from SEEK_DATA/SEEK_HOLE; the whole file
/// when the file system cannot tell.
fn data_extents(f: &File, size: u64) -> Vec<(u64, u64)> {
    let fd = std::os::fd::AsRawFd::as_raw_fd(f);
    let mut out = Vec::new();
    let mut pos = 0u64;
    while pos < size {
        // SAFETY: lseek on an open descriptor; -1 on error or past the last data.
        let data = unsafe { libc::lseek(fd, pos as libc::off_t, libc::SEEK_DATA) };
        if data < 0 {
            if out.is_empty() && std::io::Error::last_os_error().raw_os_error() != Some(libc::ENXIO)
            {
                return vec![(0, size)];
            }
            break;
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(fd, data, libc::SEEK_HOLE) };
        let end = if hole < 0 {
            size
        } else {
            (hole as u64).min(size)
        };
        if end <= data as u64 {
            break;
        }
        out.push((data as u64, end));
        pos = end;
    }
    out
}

pub fn is_zero(data: &[u8]) -> bool {
    // Compare 16-byte words; the compiler vectorises this well.
    let (pre, mid, post) = unsafe { data.align_to::<u128>() };
    pre.iter().all(|&b| b == 0) && mid.iter().all(|&w| w == 0) && post.iter().all(|&b| b == 0)
}

fn push_zero(chunks: &mut Vec<ChunkRef>, n: u64) {
    if let Some(ChunkRef::Zero(z)) = chunks.last_mut() {
        *z += n;
    } else {
        chunks.push(ChunkRef::Zero(n));
    }
}

/// Manifest path of a source: its absolute path without the leading `/`.
fn rel_of(abs: &Path) -> Result<String> {
    let s = abs
        .to_str()
        .ok_or_else(|| Error::InvalidArgument(format!("{} is not UTF-8", abs.display())))?;
    Ok(s.trim_start_matches('/').trim_end_matches('/').to_string())
}

/// Picks the parent for change detection: the newest point of the same kind
/// with the same host and paths.
fn find_parent(vault: &Vault, kind: PointKind, host: &str, paths: &[String]) -> Option<PointId> {
    let (points, _) = vault.points().ok()?;
    points
        .into_iter()
        .rev()
        .find(|(_, p)| p.kind == kind && p.host == host && p.paths == paths)
        .map(|(id, _)| id)
}

/// The common frame of every backup: lease, index, uploader, commit.
fn with_writer<T>(
    vault: &Vault,
    progress: Arc<Progress>,
    body: impl FnOnce(&mut Uploader, &Index) -> Result<T>,
    finish: impl FnOnce(T, crate::upload::UploadStats) -> Result<Point>,
) -> Result<BackupOutcome> {
    let lease = Lease::acquire(vault.backend_arc(), "backup")?;
    // The index is read after the lease exists (docs/format.md §10).
    let index = vault.load_index()?;
    let mut up = Uploader::start(
        vault.backend_arc(),
        vault.keys(),
        &index,
        lease.id,
        vault.config().compression_level,
        vault.config().pack_size as usize,
        progress,
    );
    let made = match body(&mut up, &index) {
        Ok(t) => t,
        Err(e) => {
            let _ = up.finish();
            return Err(e);
        }
    };
    let stats = up.finish()?;
    let point = finish(made, stats)?;
    lease.check_fresh()?;
    let (id, bytes) = point.encode(vault.keys());
    vault.backend().put_if_absent(&point_name(&id), &bytes)?;
    lease.release()?;
    Ok(BackupOutcome { id, point })
}

pub fn backup_files(
    vault: &Vault,
    sources: &[PathBuf],
    opts: &BackupOptions,
    progress: Arc<Progress>,
    warn: &mut dyn FnMut(&str),
) -> Result<BackupOutcome> {
    let started = Instant::now();
    let time = chrono::Utc::now();
    if sources.is_empty() {
        return Err(Error::InvalidArgument(
            "give at least one path to back up".into(),
        ));
    }
    let mut abs: Vec<PathBuf> = Vec::new();
    for s in sources {
        let a = std::path::absolute(s).map_err(|e| Error::io(s.display().to_string(), e))?;
        std::fs::symlink_metadata(&a).map_err(|e| Error::io(a.display().to_string(), e))?;
        abs.push(a);
    }
    abs.sort_by(|a, b| {
        cmp_paths(
            &rel_of(a).unwrap_or_default(),
            &rel_of(b).unwrap_or_default(),
        )
    });
    abs.dedup();
    // Drop sources inside other sources.
    let mut roots: Vec<PathBuf> = Vec::new();
    for a in abs {
        if !roots.iter().any(|r| a.starts_with(r)) {
            roots.push(a);
        }
    }
    let paths: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
    let host = opts.host.clone().unwrap_or_else(crate::util::hostname);
    let parent_id = opts
        .parent
        .or_else(|| find_parent(vault, PointKind::Files, &host, &paths));
    let parent_point = parent_id.and_then(|id| vault.load_point(&id).ok());
    let read_everything = parent_point.is_none() || opts.force_read;
    let _stat_ahead =
        crate::prefetch::StatAhead::start(roots.clone(), read_everything, progress.clone());
    with_writer(
        vault,
        progress.clone(),
        |up, index| {
            let parent = parent_point.as_ref().map(|p| {
                TreeReader::new(p.tree.clone(), "parent tree", move |id| {
                    vault.read_chunk_via(index, id)
                })
                .peekable()
            });
            let mut run = Run {
                vault,
                up,
                tree: TreeWriter::new(vault.keys().chunker_seed()),
                parent,
                hardlinks: HashMap::new(),
                summary: Summary::default(),
                warnings: Vec::new(),
                warn_cb: warn,
                changed: false,
                progress: progress.clone(),
                force_read: opts.force_read,
                throttle: Throttle::new(opts.read_limit),
            };
            let mut emitted: HashSet<String> = HashSet::new();
            for root in &roots {
                let rel = rel_of(root)?;
                if rel.is_empty() {
                    return Err(Error::InvalidArgument(
                        "backing up / as one source is not supported yet; name its folders".into(),
                    ));
                }
                // Ancestors first, so restore can recreate them with their metadata.
                let comps: Vec<&str> = rel.split('/').collect();
                for i in 1..comps.len() {
                    let anc = comps[..i].join("/");
                    if emitted.insert(anc.clone()) {
                        let meta = std::fs::symlink_metadata(format!("/{anc}"))
                            .map_err(|e| Error::io(format!("/{anc}"), e))?;
                        run.emit(&entry_from_meta(anc, EntryType::Dir, &meta))?;
                    }
                }
                run.visit(root, rel)?;
            }
            let Run {
                tree,
                summary,
                warnings,
                changed,
                up,
                ..
            } = run;
            let ids = tree.finish(up)?;
            Ok((ids, summary, warnings, changed))
        },
        |(ids, summary, warnings, changed), stats| {
            Ok(make_point(
                time,
                &host,
                PointKind::Files,
                paths.clone(),
                opts,
                parent_id,
                ids,
                changed,
                summary,
                warnings,
                &stats,
                started,
            ))
        },
    )
}

#[allow(clippy::too_many_arguments)]
fn make_point(
    time: chrono::DateTime<chrono::Utc>,
    host: &str,
    kind: PointKind,
    paths: Vec<String>,
    opts: &BackupOptions,
    parent: Option<PointId>,
    tree: Vec<crate::id::ChunkId>,
    changed: bool,
    mut summary: Summary,
    warnings: Vec<String>,
    stats: &crate::upload::UploadStats,
    started: Instant,
) -> Point {
    summary.added_bytes = stats.new_bytes;
    summary.added_stored_bytes = stats.stored_bytes;
    summary.new_chunks = stats.new_chunks;
    summary.duration_ms = started.elapsed().as_millis() as u64;
    Point {
        version: 1,
        time,
        host: host.to_string(),
        user: crate::util::username(),
        kind,
        paths,
        tags: opts.tags.clone(),
        parent,
        tree,
        consistency: if changed {
            Consistency::ChangedDuringBackup
        } else {
            Consistency::Consistent
        },
        summary,
        warnings,
    }
}

// ------------------------------------------------------------------ disks

/// Image formats `qemu-img info` reports that Lifeboat reads directly.
fn image_format(path: &Path) -> Result<String> {
    let out = std::process::Command::new("qemu-img")
        .args(["info", "--output=json", "-U"])
        .arg(path)
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout)
                .map_err(|e| Error::External(format!("qemu-img info: {e}")))?;
            Ok(v.get("format")
                .and_then(|f| f.as_str())
                .unwrap_or("raw")
                .to_string())
        }
        Ok(o) => Err(Error::External(format!(
            "qemu-img info {}: {}",
            path.display(),
            String::from_utf8_lossy(&o.stderr).trim()
        ))),
        // Without qemu-img every image is read as raw.
        Err(_) => Ok("raw".into()),
    }
}

pub fn backup_disk(
    vault: &Vault,
    image: &Path,
    opts: &BackupOptions,
    progress: Arc<Progress>,
    warn: &mut dyn FnMut(&str),
) -> Result<BackupOutcome> {
    let started = Instant::now();
    let time = chrono::Utc::now();
    let abs = std::path::absolute(image).map_err(|e| Error::io(image.display().to_string(), e))?;
    let meta = std::fs::metadata(&abs).map_err(|e| Error::io(abs.display().to_string(), e))?;
    let format = image_format(&abs)?;
    // Non-raw images become a sparse raw copy first (docs/disk-images.md).
    let mut _tmp_guard = None;
    let raw_path = if format == "raw" {
        abs.clone()
    } else {
        let dir = vault.cache_dir().join("tmp");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
        let tmp = dir.join(format!("convert-{}.raw", std::process::id()));
        let st = std::process::Command::new("qemu-img")
            .args(["convert", "-U", "-O", "raw", "-S", "4k"])
            .arg(&abs)
            .arg(&tmp)
            .output()
            .map_err(|e| Error::External(format!("running qemu-img: {e}")))?;
        if !st.status.success() {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::External(format!(
                "qemu-img convert: {}",
                String::from_utf8_lossy(&st.stderr).trim()
            )));
        }
        _tmp_guard = Some(TempFile(tmp.clone()));
        tmp
    };
    let name = abs
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::InvalidArgument(format!("{} has no usable name", abs.display())))?
        .to_string();
    let host = opts.host.clone().unwrap_or_else(crate::util::hostname);
    let paths = vec![abs.display().to_string()];
    let chunk_size = vault.config().disk_chunk_size as u64;
    let _ = warn;
    with_writer(
        vault,
        progress.clone(),
        |up, _| {
            let f =
                File::open(&raw_path).map_err(|e| Error::io(raw_path.display().to_string(), e))?;
            let size = f.metadata().map_err(|e| Error::io("image", e))?.len();
            let mut chunks = Vec::new();
            let mut off = 0u64;
            let mut buf = vec![0u8; chunk_size as usize];
            // Holes are not read, so they do not count against the limit.
            let mut throttle = Throttle::new(opts.read_limit);
            let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
            while off < size {
                let len = chunk_size.min(size - off);
                // SAFETY: lseek on an open descriptor; errors come back as -1.
                let data_at = unsafe { libc::lseek(fd, off as libc::off_t, libc::SEEK_DATA) };
                if data_at < 0 || data_at as u64 >= off + len {
                    // A hole (or nothing but holes until the end).
                    let skip = if data_at < 0 {
                        size - off
                    } else {
                        (data_at as u64 - off) / chunk_size * chunk_size
                    };
                    let skip = skip.max(len).min(size - off);
                    push_zero(&mut chunks, skip);
                    progress.bytes_read.fetch_add(skip, Ordering::Relaxed);
                    off += skip;
                    continue;
                }
                let b = &mut buf[..len as usize];
                f.read_exact_at(b, off)
                    .map_err(|e| Error::io(raw_path.display().to_string(), e))?;
                progress.bytes_read.fetch_add(len, Ordering::Relaxed);
                if let Some(t) = &mut throttle {
                    t.consume(len);
                }
                if is_zero(b) {
                    push_zero(&mut chunks, len);
                } else {
                    let (id, _) = up.store(KIND_DATA, b.to_vec())?;
                    chunks.push(ChunkRef::Id(id));
                }
                off += len;
            }
            let mut e = entry_from_meta(name.clone(), EntryType::Disk, &meta);
            e.size = size;
            e.chunk_size = Some(chunk_size as u32);
            e.chunks = chunks;
            let mut tree = TreeWriter::new(up.keys().chunker_seed());
            tree.push(&e, up)?;
            let ids = tree.finish(up)?;
            let summary = Summary {
                files: 1,
                bytes: size,
                ..Default::default()
            };
            Ok((ids, summary))
        },
        |(ids, summary), stats| {
            Ok(make_point(
                time,
                &host,
                PointKind::Disk,
                paths.clone(),
                opts,
                None,
                ids,
                false,
                summary,
                Vec::new(),
                &stats,
                started,
            ))
        },
    )
}

struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
