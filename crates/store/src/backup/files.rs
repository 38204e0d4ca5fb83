//! Backups of files and folders.
//!
//! The walker visits each source depth-first with names sorted bytewise
//! and merge-joins that walk with the parent point's tree stream: a file whose
//! size, mtime, ctime and inode match the parent's entry keeps the parent's
//! chunk list without being read. Content goes through the point writer's
//! content-defined chunking.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::stat::Stat;
use super::{BackupOptions, cmp_paths, find_parent, rel_of};
use crate::blocks::data_extents;
use crate::error::{Error, Result};
use crate::manifest::*;
use crate::tree::TreeReader;
use crate::upload::Progress;
use crate::vault::Vault;
use crate::writer::{BackupOutcome, PointSpec, PointWriter, push_zero};

pub(crate) fn entry_from_meta(path: String, kind: EntryType, m: &Stat) -> Entry {
    Entry {
        mode: m.mode,
        uid: m.uid,
        gid: m.gid,
        size: if kind == EntryType::File { m.size } else { 0 },
        mtime: m.mtime,
        ctime: m.ctime,
        // Access times are not recorded: reading a file for the backup changes
        // it, so recording it would make every point's file list differ.
        ino: m.ino,
        nlink: m.nlink,
        ..Entry::new(path, kind)
    }
}

/// Every extended attribute of `path` (not following a symlink), values in
/// hex, and a warning for each one that cannot be read or recorded.
fn read_xattrs(path: &Path) -> (BTreeMap<String, String>, Vec<String>) {
    let (mut out, mut warnings) = (BTreeMap::new(), Vec::new());
    let names = match xattr::list(path) {
        Ok(names) => names,
        // Not supported here: nothing to record.
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return (out, warnings),
        Err(e) => {
            warnings.push(format!("{}: extended attributes: {e}", path.display()));
            return (out, warnings);
        }
    };
    for n in names {
        let name = crate::names::encode(n.as_bytes());
        match xattr::get(path, &n) {
            Ok(Some(v)) => {
                out.insert(name.to_string(), hex::encode(v));
            }
            // Gone since the listing.
            Ok(None) => {}
            Err(e) => warnings.push(format!(
                "{}: extended attribute {name}: {e}",
                path.display()
            )),
        }
    }
    (out, warnings)
}

/// The inode flags of a file or folder worth recording
/// (`restore::KEPT_FLAGS`). The walk's `statx` shows the three that matter
/// most without opening the object; only when one is set, or the kernel
/// cannot say, are all read.
fn read_inode_flags(path: &Path, st: &Stat) -> std::io::Result<u32> {
    if st.shows_kept_flag == Some(false) {
        return Ok(0);
    }
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let is_dir = st.file_type() == libc::S_IFDIR;
    // SAFETY: valid path.
    let fd = unsafe { libc::open(c.as_ptr(), crate::restore::flags_open_mode(is_dir)) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor we now own.
    let f = unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    crate::restore::read_flags(std::os::fd::AsRawFd::as_raw_fd(&f))
}

/// Everything a running file backup carries around.
struct Run<'w, 'v> {
    w: &'w mut PointWriter<'v>,
    parent: Option<std::iter::Peekable<TreeReader<'v>>>,
    hardlinks: HashMap<(u64, u64), String>,
    warn_cb: &'w mut dyn FnMut(&str),
    force_read: bool,
}

impl Run<'_, '_> {
    fn warn(&mut self, w: String) {
        (self.warn_cb)(&w);
        self.w.warn(w);
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
        self.w.add_entry(e)
    }

    /// Records the extended attributes of `fs_path` (and, for files and
    /// folders, its inode flags) in `e`, warning about what cannot be read.
    fn add_attributes(&mut self, fs_path: &Path, st: &Stat, e: &mut Entry) {
        let (xattrs, warnings) = read_xattrs(fs_path);
        e.xattrs = xattrs;
        for w in warnings {
            self.warn(w);
        }
        if matches!(e.kind, EntryType::File | EntryType::Dir) {
            match read_inode_flags(fs_path, st) {
                Ok(f) => e.flags = f,
                Err(err) => self.warn(format!("{}: inode flags: {err}", fs_path.display())),
            }
        }
    }

    fn visit(&mut self, fs_path: &Path, rel: String) -> Result<()> {
        let meta = match Stat::of_path(fs_path) {
            Ok(m) => m,
            Err(e) => {
                self.warn(format!("{}: {e}; skipped", fs_path.display()));
                return Ok(());
            }
        };
        let ft = meta.file_type();
        if ft == libc::S_IFDIR {
            let mut e = entry_from_meta(rel.clone(), EntryType::Dir, &meta);
            self.add_attributes(fs_path, &meta, &mut e);
            self.emit(&e)?;
            self.w.summary_mut().dirs += 1;
            let names: Vec<std::ffi::OsString> = match std::fs::read_dir(fs_path) {
                Ok(rd) => rd.filter_map(|d| d.ok().map(|d| d.file_name())).collect(),
                Err(err) => {
                    self.warn(format!(
                        "{}: {err}; folder contents skipped",
                        fs_path.display()
                    ));
                    return Ok(());
                }
            };
            // Sorted by the written names: the order the manifest keeps
            // (docs/format.md §8).
            let mut names: Vec<(String, std::ffi::OsString)> = names
                .into_iter()
                .map(|n| (crate::names::encode(n.as_bytes()).into_owned(), n))
                .collect();
            names.sort_by(|a, b| a.0.cmp(&b.0));
            for (written, n) in names {
                self.visit(&fs_path.join(&n), format!("{rel}/{written}"))?;
            }
            return Ok(());
        }
        if ft == libc::S_IFLNK {
            let mut e = entry_from_meta(rel, EntryType::Symlink, &meta);
            match std::fs::read_link(fs_path) {
                Ok(t) => {
                    e.target = Some(crate::names::encode(t.as_os_str().as_bytes()).into_owned())
                }
                Err(err) => {
                    self.warn(format!("{}: {err}; skipped", fs_path.display()));
                    return Ok(());
                }
            }
            self.add_attributes(fs_path, &meta, &mut e);
            return self.emit(&e);
        }
        if ft != libc::S_IFREG {
            let kind = match ft {
                libc::S_IFIFO => EntryType::Fifo,
                libc::S_IFCHR => EntryType::Chardev,
                libc::S_IFBLK => EntryType::Blockdev,
                _ => EntryType::Socket,
            };
            let mut e = entry_from_meta(rel, kind, &meta);
            e.rdev = Some(meta.rdev);
            self.add_attributes(fs_path, &meta, &mut e);
            return self.emit(&e);
        }
        // Regular file.
        if meta.nlink > 1 {
            let key = (meta.dev, meta.ino);
            if let Some(first) = self.hardlinks.get(&key) {
                let mut e = entry_from_meta(rel, EntryType::Hardlink, &meta);
                e.link = Some(first.clone());
                return self.emit(&e);
            }
            self.hardlinks.insert(key, rel.clone());
        }
        let mut e = entry_from_meta(rel.clone(), EntryType::File, &meta);
        self.add_attributes(fs_path, &meta, &mut e);
        self.w.summary_mut().files += 1;
        self.w.summary_mut().bytes += meta.size;
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
            self.w.summary_mut().unchanged_files += 1;
            let progress = self.w.progress();
            progress.bytes_read.fetch_add(e.size, Ordering::Relaxed);
            progress.files_done.fetch_add(1, Ordering::Relaxed);
            return self.emit(&e);
        }
        match self.read_file(fs_path, &meta) {
            Ok((chunks, read, changed)) => {
                e.chunks = chunks;
                let summary = self.w.summary_mut();
                summary.bytes = summary.bytes - e.size + read;
                e.size = read;
                if changed {
                    e.changed = true;
                    self.w.mark_changed();
                    self.warn(format!("{}: changed while it was read", fs_path.display()));
                }
            }
            Err(err @ Error::StorageFull(_)) => return Err(err),
            Err(Error::Io { context, source }) => {
                if source.kind() == std::io::ErrorKind::NotFound {
                    // It vanished between the walk and the read: the point no
                    // longer shows one moment of the source.
                    self.w.mark_changed();
                }
                self.warn(format!("{context}: {source}; skipped"));
                let summary = self.w.summary_mut();
                summary.files -= 1;
                summary.bytes -= meta.size;
                return Ok(());
            }
            Err(err) => return Err(err),
        }
        self.w.progress().files_done.fetch_add(1, Ordering::Relaxed);
        self.emit(&e)
    }

    /// Reads and chunks one file. Returns its chunks, the bytes actually read
    /// (the size to record) and whether it changed meanwhile.
    fn read_file(&mut self, path: &Path, before: &Stat) -> Result<(Vec<ChunkRef>, u64, bool)> {
        let what = path.display().to_string();
        let ctx = || what.clone();
        let mut f = File::open(path).map_err(|e| Error::io(ctx(), e))?;
        let mut chunks = Vec::new();
        let mut read = 0u64;
        // A sparse file is read extent by extent (SEEK_DATA/SEEK_HOLE), so
        // its holes are recorded as holes however the data falls into chunks.
        let size = before.size;
        let sparse = before.blocks * 512 < size;
        let extents = if sparse {
            data_extents(&f, size)
        } else {
            vec![crate::blocks::Extent {
                offset: 0,
                len: size,
            }]
        };
        let mut pos = 0u64;
        for x in extents {
            let (start, end) = (x.offset, x.end());
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
            let limit = if end >= size { u64::MAX } else { end - start };
            read += self
                .w
                .append_stream((&mut f).take(limit), &what, &mut chunks)?;
            pos = end;
        }
        if pos < size && read < size {
            push_zero(&mut chunks, size - read);
            read = size;
        }
        let after = Stat::from(&f.metadata().map_err(|e| Error::io(ctx(), e))?);
        let changed = after.size != size
            || read != size
            || after.mtime != before.mtime
            || after.ctime != before.ctime;
        Ok((chunks, read, changed))
    }
}

pub fn backup_files(
    vault: &Vault,
    sources: &[PathBuf],
    opts: &BackupOptions,
    progress: Arc<Progress>,
    warn: &mut dyn FnMut(&str),
) -> Result<BackupOutcome> {
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
        .or_else(|| find_parent(vault, &Workload::FILES, &host, &paths));
    let parent_point = parent_id.and_then(|id| vault.load_point(&id).ok());
    let read_everything = parent_point.is_none() || opts.force_read;
    let _stat_ahead =
        crate::prefetch::StatAhead::start(roots.clone(), read_everything, progress.clone());
    let spec = PointSpec {
        tags: opts.tags.clone(),
        parent: parent_id,
        read_limit: opts.read_limit,
        ..PointSpec::new(Workload::FILES, host, paths)
    };
    let mut w = PointWriter::begin(vault, spec, progress)?;
    let parent = parent_point.as_ref().map(|p| {
        let index = w.index().clone();
        TreeReader::new(p.tree.clone(), "parent tree", move |id| {
            vault.read_chunk_via(&index, id)
        })
        .peekable()
    });
    let mut run = Run {
        w: &mut w,
        parent,
        hardlinks: HashMap::new(),
        warn_cb: warn,
        force_read: opts.force_read,
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
                let meta = Stat::of_path(Path::new(&format!("/{anc}")))
                    .map_err(|e| Error::io(format!("/{anc}"), e))?;
                run.emit(&entry_from_meta(anc, EntryType::Dir, &meta))?;
            }
        }
        run.visit(root, rel)?;
    }
    drop(run);
    w.commit()
}
