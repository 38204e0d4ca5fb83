//! Restore of file points into a folder and of disk points into image files.
//!
//! Restore never writes outside `--target`: every manifest path is checked
//! (`check_safe_path`), and every file-system call goes through descriptors
//! opened relative to the target, one component at a time, with
//! `O_NOFOLLOW`. A symlink in the manifest — or one planted in the target —
//! can therefore never redirect a write.

use std::collections::HashSet;
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use crate::backup::cmp_paths;
use crate::blob::Plain;
use crate::error::{Error, Result};
use crate::id::{ChunkId, PointId};
use crate::index::{Index, Location};
use crate::manifest::*;
use crate::tree::TreeReader;
use crate::upload::Progress;
use crate::vault::{Vault, adjacent};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Conflict {
    /// Stop with TARGET_EXISTS when something is in the way.
    #[default]
    Fail,
    Overwrite,
    SkipExisting,
}

#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    pub includes: Vec<String>,
    pub conflict: Conflict,
    /// For disk points: `raw` (default) or `qcow2`.
    pub disk_format: Option<String>,
    /// Threads writing files; `None`: [`default_restore_threads`].
    pub threads: Option<usize>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RestoreReport {
    pub files: u64,
    pub dirs: u64,
    pub bytes: u64,
    pub skipped: u64,
    pub errors: Vec<String>,
    pub written: Vec<String>,
    /// Recorded metadata that could not be set (the data was restored).
    pub metadata_lost: Vec<MetadataLoss>,
}

/// A name or path of the manifest as the bytes the kernel takes
/// (docs/format.md §8: escapes of bytes that are not UTF-8 undone).
fn cstr(s: &str) -> Result<CString> {
    let bytes = crate::names::decode(s).ok_or_else(|| Error::UnsafePath(s.into()))?;
    CString::new(bytes.into_owned()).map_err(|_| Error::UnsafePath(s.into()))
}

fn last_os_error(ctx: &str) -> Error {
    Error::io(ctx.to_string(), std::io::Error::last_os_error())
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The target folder, opened once; everything else is relative to it.
struct Target {
    root: OwnedFd,
    path: PathBuf,
    privileged: bool,
    /// The owner files made by this process get (in a folder without the
    /// setgid bit).
    creator: (u32, u32),
}

impl Target {
    fn open(path: &Path) -> Result<Self> {
        std::fs::create_dir_all(path).map_err(|e| Error::io(path.display().to_string(), e))?;
        let f = File::open(path).map_err(|e| Error::io(path.display().to_string(), e))?;
        // SAFETY: geteuid has no preconditions.
        let privileged = unsafe { libc::geteuid() } == 0;
        // SAFETY: neither call has preconditions.
        let creator = unsafe { (libc::geteuid(), libc::getegid()) };
        Ok(Self {
            root: f.into(),
            path: path.to_path_buf(),
            privileged,
            creator,
        })
    }

    /// Opens (creating as needed) the folder holding `rel`'s last component.
    fn parent_of<'p>(&self, rel: &'p str) -> Result<(OwnedFd, &'p str)> {
        check_safe_path(rel)?;
        let (dirs, name) = match rel.rsplit_once('/') {
            Some((d, n)) => (Some(d), n),
            None => (None, rel),
        };
        // SAFETY: dup of a descriptor we own.
        let mut cur = unsafe { OwnedFd::from_raw_fd(libc::dup(self.root.as_raw_fd())) };
        if let Some(d) = dirs {
            for comp in d.split('/') {
                cur = self.open_dir_at(cur.as_raw_fd(), comp, rel, true)?;
            }
        }
        Ok((cur, name))
    }

    fn open_dir_at(&self, dir: RawFd, comp: &str, rel: &str, create: bool) -> Result<OwnedFd> {
        let c = cstr(comp)?;
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        for _ in 0..2 {
            // SAFETY: valid descriptor and NUL-terminated name.
            let fd = unsafe { libc::openat(dir, c.as_ptr(), flags) };
            if fd >= 0 {
                // SAFETY: openat returned a fresh descriptor we now own.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
            match errno() {
                libc::ENOENT if create => {
                    // SAFETY: as above.
                    if unsafe { libc::mkdirat(dir, c.as_ptr(), 0o700) } != 0
                        && errno() != libc::EEXIST
                    {
                        return Err(last_os_error(&format!("creating folder for {rel}")));
                    }
                }
                libc::ELOOP | libc::ENOTDIR => return Err(Error::UnsafePath(rel.into())),
                _ => return Err(last_os_error(&format!("opening folder for {rel}"))),
            }
        }
        Err(last_os_error(&format!("opening folder for {rel}")))
    }

    /// What is at `name` in `dir`, without following symlinks.
    fn stat_at(dir: RawFd, name: &CString) -> Option<libc::stat> {
        // SAFETY: zeroed stat is a valid out-parameter.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: valid descriptor, name, and out-pointer.
        let rc = unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
        (rc == 0).then_some(st)
    }

    /// Clears the way for a new object at `name`. Returns false to skip it.
    fn make_room(&self, dir: RawFd, name: &CString, rel: &str, conflict: Conflict) -> Result<bool> {
        let Some(st) = Self::stat_at(dir, name) else {
            return Ok(true);
        };
        match conflict {
            Conflict::Fail => Err(Error::TargetExists(self.path.join(rel), "that path".into())),
            Conflict::SkipExisting => Ok(false),
            Conflict::Overwrite => {
                let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
                let flag = if is_dir { libc::AT_REMOVEDIR } else { 0 };
                // SAFETY: valid descriptor and name.
                if unsafe { libc::unlinkat(dir, name.as_ptr(), flag) } != 0 {
                    return Err(last_os_error(&format!("replacing {rel}")));
                }
                Ok(true)
            }
        }
    }
}

/// Points do not record access times; a restored object gets its mtime.
fn atime_of(e: &Entry) -> i64 {
    if e.atime != 0 { e.atime } else { e.mtime }
}

fn timespec(ns: i64) -> libc::timespec {
    libc::timespec {
        tv_sec: ns.div_euclid(1_000_000_000),
        tv_nsec: ns.rem_euclid(1_000_000_000),
    }
}

fn selected(path: &str, includes: &[String]) -> bool {
    includes.is_empty()
        || includes.iter().any(|inc| {
            let inc = inc.trim_start_matches('/').trim_end_matches('/');
            path == inc
                || path.starts_with(&format!("{inc}/"))
                || inc.starts_with(&format!("{path}/"))
        })
}

/// Entries of a point, read through the index.
pub fn entries<'a>(vault: &'a Vault, index: &'a Index, point: &Point) -> TreeReader<'a> {
    TreeReader::new(point.tree.clone(), "tree", move |id| {
        vault.read_chunk_via(index, id)
    })
}

/// Files handed to a restoring thread at once: one channel operation per
/// batch, not per file.
const BATCH_FILES: usize = 32;
/// A batch is sent early once its files hold this many bytes, so large
/// files spread over the threads.
const BATCH_BYTES: u64 = 8 << 20;

/// How many threads write files when the caller does not say. Measured on
/// 2 vCPUs (bench/RESULTS.md, "restore threads"): the walk of the tree
/// takes one, and each writer mostly waits on the kernel.
pub fn default_restore_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8)
}

/// A file to write, in the folder already opened for it.
struct FileJob {
    entry: Entry,
    dir: Arc<HeldDir>,
}

/// A folder of the target held open, and whether new files in it take its
/// group (the setgid bit) rather than their creator's.
struct HeldDir {
    fd: OwnedFd,
    setgid: bool,
}

impl HeldDir {
    fn new(fd: OwnedFd) -> Self {
        // SAFETY: zeroed stat is a valid out-parameter.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: valid descriptor and out-pointer. A failed fstat counts
        // as setgid: the owner is then always set.
        let ok = unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } == 0;
        Self {
            fd,
            setgid: !ok || st.st_mode & libc::S_ISGID != 0,
        }
    }
}

impl AsRawFd for HeldDir {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

pub fn restore(
    vault: &Vault,
    point_id: &PointId,
    point: &Point,
    target: &Path,
    opts: &RestoreOptions,
    progress: Arc<Progress>,
) -> Result<RestoreReport> {
    let index = vault.load_index()?;
    if point.kind == Workload::DISK {
        return restore_disks(vault, &index, point, target, opts, progress);
    }
    let _ = point_id;
    let t = Target::open(target)?;
    let report = Mutex::new(RestoreReport::default());
    let mut dirs: Vec<Entry> = Vec::new();
    let mut hardlinks: Vec<Entry> = Vec::new();
    let mut restored_files: HashSet<String> = HashSet::new();
    let mut with_flags: Vec<Entry> = Vec::new();
    let threads = opts.threads.unwrap_or_else(default_restore_threads).max(1);
    let (tx, rx) = crate::queue::bounded::<Vec<FileJob>>(threads * 2);
    let fatal: Mutex<Option<Error>> = Mutex::new(None);
    let mut open_dirs = OpenDirs::new(&t)?;
    std::thread::scope(|s| -> Result<()> {
        for _ in 0..threads {
            let rx = rx.clone();
            let (t, index, report, progress, fatal) = (&t, &index, &report, &progress, &fatal);
            s.spawn(move || {
                for job in rx.into_iter().flatten() {
                    let e = &job.entry;
                    match restore_file(vault, index, t, &job, opts.conflict, progress) {
                        Ok(Some((n, mut lost))) => {
                            let mut r = report.lock().expect("report lock");
                            r.files += 1;
                            r.bytes += n;
                            r.metadata_lost.append(&mut lost);
                        }
                        Ok(None) => report.lock().expect("report lock").skipped += 1,
                        Err(err @ (Error::TargetExists(..) | Error::StorageFull(_))) => {
                            fatal.lock().expect("fatal lock").get_or_insert(err);
                        }
                        Err(err) => report.lock().expect("report lock").errors.push(format!(
                            "{}: [{}] {err}",
                            e.path,
                            err.code()
                        )),
                    }
                }
            });
        }
        drop(rx);
        let mut batch: Vec<FileJob> = Vec::with_capacity(BATCH_FILES);
        let mut batch_bytes = 0u64;
        for e in entries(vault, &index, point) {
            if fatal.lock().expect("fatal lock").is_some() {
                break;
            }
            let e = match e {
                Ok(e) => e,
                Err(err) => {
                    report
                        .lock()
                        .expect("report lock")
                        .errors
                        .push(format!("tree: {err}"));
                    break;
                }
            };
            if !selected(&e.path, &opts.includes) {
                continue;
            }
            if let Err(err) = check_safe_path(&e.path) {
                report.lock().expect("report lock").errors.push(format!(
                    "{}: [{}] {err}",
                    e.path,
                    err.code()
                ));
                continue;
            }
            let path = e.path.clone();
            if e.flags & KEPT_FLAGS != 0 {
                with_flags.push(e.clone());
            }
            let r = match e.kind {
                EntryType::File => open_dirs.parent_of(&t, &path).map(|(dir, _)| {
                    restored_files.insert(e.path.clone());
                    batch_bytes += e.size;
                    batch.push(FileJob { entry: e, dir });
                }),
                EntryType::Dir => restore_dir(&t, &mut open_dirs, &e).map(|_| {
                    report.lock().expect("report lock").dirs += 1;
                    dirs.push(e);
                }),
                EntryType::Hardlink => {
                    hardlinks.push(e);
                    Ok(())
                }
                EntryType::Disk => Err(Error::InvalidArgument("disk entry in a file point".into())),
                _ => restore_special(&t, &mut open_dirs, &e, opts.conflict).map(|mut lost| {
                    report
                        .lock()
                        .expect("report lock")
                        .metadata_lost
                        .append(&mut lost)
                }),
            };
            match r {
                Ok(()) => {}
                Err(err @ (Error::TargetExists(..) | Error::StorageFull(_))) => {
                    fatal.lock().expect("fatal lock").get_or_insert(err);
                    break;
                }
                Err(err) => report
                    .lock()
                    .expect("report lock")
                    .errors
                    .push(format!("{path}: [{}] {err}", err.code())),
            }
            if batch.len() >= BATCH_FILES || batch_bytes >= BATCH_BYTES {
                batch_bytes = 0;
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_FILES));
                if tx.send(full).is_err() {
                    break;
                }
            }
        }
        if !batch.is_empty() {
            let _ = tx.send(batch);
        }
        drop(tx);
        Ok(())
    })?;
    drop(open_dirs);
    if let Some(err) = fatal.into_inner().expect("fatal lock") {
        return Err(err);
    }
    let mut report = report.into_inner().expect("report lock");
    for h in hardlinks {
        if let Err(err) = restore_hardlink(&t, &h, &restored_files, opts.conflict) {
            report
                .errors
                .push(format!("{}: [{}] {err}", h.path, err.code()));
        }
    }
    // Folder metadata last, deepest first, so restoring children does not
    // disturb a folder's times.
    dirs.sort_by(|a, b| cmp_paths(&b.path, &a.path));
    for d in &dirs {
        match finish_dir(&t, d) {
            Ok(mut lost) => report.metadata_lost.append(&mut lost),
            Err(err) => report
                .errors
                .push(format!("{}: [{}] {err}", d.path, err.code())),
        }
    }
    // Inode flags once everything exists (an immutable file takes no links).
    let mut lost = metadata::apply_flags(&t, with_flags.iter().collect());
    report.metadata_lost.append(&mut lost);
    Ok(report)
}

/// The folders from the target down to the one the walk is in, held open.
/// The point's entries come depth first, so the next entry's folder is
/// almost always the current one or a step away: each folder is opened
/// once, not once per file below it. Every folder is opened from its
/// parent's handle, one name at a time and never through a symlink, as
/// [`Target::parent_of`] does, so nothing resolves outside the target.
struct OpenDirs {
    /// (path in the point, handle); the target itself first, with path "".
    chain: Vec<(String, Arc<HeldDir>)>,
}

impl OpenDirs {
    fn new(t: &Target) -> Result<Self> {
        let root = t
            .root
            .try_clone()
            .map_err(|e| Error::io(t.path.display().to_string(), e))?;
        Ok(Self {
            chain: vec![(String::new(), Arc::new(HeldDir::new(root)))],
        })
    }

    /// The open folder holding `rel` (a checked path) and `rel`'s last
    /// name; missing folders on the way are made.
    fn parent_of<'p>(&mut self, t: &Target, rel: &'p str) -> Result<(Arc<HeldDir>, &'p str)> {
        let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        while let Some((held, _)) = self.chain.last() {
            let within = held.is_empty()
                || dir == held
                || (dir.len() > held.len()
                    && dir.starts_with(held.as_str())
                    && dir.as_bytes()[held.len()] == b'/');
            if within {
                break;
            }
            self.chain.pop();
        }
        let (held, fd) = self.chain.last().expect("the target stays in the chain");
        if held != dir {
            let rest = if held.is_empty() {
                dir
            } else {
                &dir[held.len() + 1..]
            };
            let mut fd = fd.clone();
            let mut path = held.clone();
            for comp in rest.split('/') {
                let next = t.open_dir_at(fd.as_raw_fd(), comp, rel, true)?;
                if !path.is_empty() {
                    path.push('/');
                }
                path.push_str(comp);
                fd = Arc::new(HeldDir::new(next));
                self.chain.push((path.clone(), fd.clone()));
            }
        }
        let fd = self.chain.last().expect("just pushed").1.clone();
        Ok((fd, name))
    }
}

fn restore_dir(t: &Target, open_dirs: &mut OpenDirs, e: &Entry) -> Result<()> {
    let (dir, name) = open_dirs.parent_of(t, &e.path)?;
    let c = cstr(name)?;
    match Target::stat_at(dir.as_raw_fd(), &c) {
        Some(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => Ok(()),
        Some(_) => Err(Error::TargetExists(
            t.path.join(&e.path),
            "a non-folder".into(),
        )),
        None => {
            // SAFETY: valid descriptor and name.
            if unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), 0o700) } != 0 {
                return Err(last_os_error(&format!("creating {}", e.path)));
            }
            Ok(())
        }
    }
}

/// A folder's metadata, once its contents are in place.
fn finish_dir(t: &Target, e: &Entry) -> Result<Vec<MetadataLoss>> {
    let (dir, name) = t.parent_of(&e.path)?;
    let fd = t.open_dir_at(dir.as_raw_fd(), name, &e.path, false)?;
    let f = File::from(fd);
    let mut lost = Losses::of(e);
    metadata::apply_to_open(t, &f, e, None, &mut lost);
    Ok(lost.found)
}

/// Writes one file: its size and the metadata it could not take; `None`
/// when skipped because it existed.
fn restore_file(
    vault: &Vault,
    index: &Index,
    t: &Target,
    job: &FileJob,
    conflict: Conflict,
    progress: &Progress,
) -> Result<Option<(u64, Vec<MetadataLoss>)>> {
    let e = &job.entry;
    let name = e.path.rsplit_once('/').map_or(e.path.as_str(), |(_, n)| n);
    let c = cstr(name)?;
    let dir = job.dir.as_raw_fd();
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // Created exclusively first: what is in the way is looked at only when
    // something is (one call per file in the common case).
    // SAFETY (both openat calls): valid descriptor and name.
    let mut fd = unsafe { libc::openat(dir, c.as_ptr(), flags, 0o600) };
    if fd < 0 && errno() == libc::EEXIST {
        if !t.make_room(dir, &c, &e.path, conflict)? {
            return Ok(None);
        }
        fd = unsafe { libc::openat(dir, c.as_ptr(), flags, 0o600) };
    }
    if fd < 0 {
        return Err(last_os_error(&format!("creating {}", e.path)));
    }
    // SAFETY: fresh descriptor from openat.
    let f = unsafe { File::from_raw_fd(fd) };
    write_chunks(
        vault,
        index,
        e,
        &f,
        &format!("writing {}", e.path),
        |len, _| {
            progress.bytes_read.fetch_add(len, Ordering::Relaxed);
        },
    )?;
    let mut lost = Losses::of(e);
    // A new file in a folder without the setgid bit belongs to its creator.
    let owner_now = (!job.dir.setgid).then_some(t.creator);
    metadata::apply_to_open(t, &f, e, owner_now, &mut lost);
    progress.files_done.fetch_add(1, Ordering::Relaxed);
    Ok(Some((e.size, lost.found)))
}

/// The most a run of back-to-back chunks read with one request holds,
/// stored and restored: a few large requests instead of one per chunk,
/// and memory still bounded per restoring thread (a run holds at least
/// one chunk, whatever its size).
const RUN_BYTES: u64 = 4 << 20;
const RUN_RAW_BYTES: u64 = 8 << 20;

/// Writes an entry's chunks into `f`, a new empty file, at their offsets
/// (zero runs stay holes) and sets its length, checking the chunks add up
/// to the entry's size. Chunks that lie back to back in a pack are read
/// with one request and written with one call. `advanced(bytes written,
/// offset reached)` follows each chunk; `what` names the write in I/O
/// errors.
pub(crate) fn write_chunks(
    vault: &Vault,
    index: &Index,
    e: &Entry,
    f: &File,
    what: &str,
    mut advanced: impl FnMut(u64, u64),
) -> Result<()> {
    let mut off = 0u64;
    // Where the written bytes end; past it the file is one hole.
    let mut written_end = 0u64;
    let mut i = 0;
    while i < e.chunks.len() {
        let mut run: Vec<(ChunkId, Location)> = Vec::new();
        let (mut run_bytes, mut run_raw) = (0u64, 0u64);
        while let Some(ChunkRef::Id(id)) = e.chunks.get(i) {
            let loc = index
                .locate(id)?
                .ok_or_else(|| Error::ChunkMissing(id.to_hex()))?;
            if let Some((_, prev)) = run.last()
                && (!adjacent(prev, &loc)
                    || run_bytes + loc.sealed_len as u64 > RUN_BYTES
                    || run_raw + loc.raw_len as u64 > RUN_RAW_BYTES)
            {
                break;
            }
            run_bytes += loc.sealed_len as u64;
            run_raw += loc.raw_len as u64;
            run.push((*id, loc));
            i += 1;
        }
        if run.is_empty() {
            if let Some(ChunkRef::Zero(n)) = e.chunks.get(i) {
                off += n;
                advanced(0, off);
            }
            i += 1;
            continue;
        }
        let written = RUN_BUFFERS.with(|cell| -> Result<Vec<u64>> {
            let (sealed, outs) = &mut *cell.borrow_mut();
            let at = vault.read_chunk_run(&run, sealed, outs)?;
            let pieces: Vec<&[u8]> = at
                .iter()
                .zip(outs.iter())
                .map(|(p, out)| match p {
                    Plain::InSealed(r) => &sealed[r.clone()],
                    Plain::InOut => &out[..],
                })
                .collect();
            write_all_vectored_at(f, &pieces, off).map_err(|err| Error::io(what, err))?;
            Ok(pieces.iter().map(|p| p.len() as u64).collect())
        })?;
        for n in written {
            off += n;
            advanced(n, off);
        }
        written_end = off;
    }
    if off != e.size {
        return Err(Error::corrupt(
            &e.path,
            format!("chunks add up to {off} bytes, entry says {}", e.size),
        ));
    }
    if written_end < off {
        f.set_len(off).map_err(|err| Error::io(what, err))?;
    }
    Ok(())
}

thread_local! {
    /// A restoring thread's buffers for chunk runs: the sealed bytes of
    /// the run and the plaintexts of its compressed chunks. Kept from run
    /// to run, so their memory is neither requested nor zeroed again.
    static RUN_BUFFERS: std::cell::RefCell<(Vec<u8>, Vec<Vec<u8>>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// Writes `bufs` one after another at `offset`, in one system call when
/// the kernel takes them all at once.
fn write_all_vectored_at(f: &File, bufs: &[&[u8]], offset: u64) -> std::io::Result<()> {
    let iov: Vec<libc::iovec> = bufs
        .iter()
        .map(|b| libc::iovec {
            iov_base: b.as_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        })
        .collect();
    let total: usize = bufs.iter().map(|b| b.len()).sum();
    let n = if iov.len() > 1 && iov.len() <= 1024 {
        // SAFETY: valid descriptor; every iovec points into a live buffer of
        // its stated length, which the kernel only reads.
        let n = unsafe {
            libc::pwritev(
                f.as_raw_fd(),
                iov.as_ptr(),
                iov.len() as libc::c_int,
                offset as libc::off_t,
            )
        };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        n as usize
    } else {
        0
    };
    if n == total {
        return Ok(());
    }
    // A short or skipped vectored write: the rest buffer by buffer.
    let mut at = 0usize;
    for b in bufs {
        let end = at + b.len();
        if end > n {
            let skip = n.saturating_sub(at);
            f.write_all_at(&b[skip..], offset + (at + skip) as u64)?;
        }
        at = end;
    }
    Ok(())
}

/// A symlink, fifo, socket or device node, with its metadata; what of
/// that could not be set comes back.
fn restore_special(
    t: &Target,
    open_dirs: &mut OpenDirs,
    e: &Entry,
    conflict: Conflict,
) -> Result<Vec<MetadataLoss>> {
    let (dir, name) = open_dirs.parent_of(t, &e.path)?;
    let c = cstr(name)?;
    if !t.make_room(dir.as_raw_fd(), &c, &e.path, conflict)? {
        return Ok(Vec::new());
    }
    let mut lost = Losses::of(e);
    let d = dir.as_raw_fd();
    let perms = e.mode & 0o7777;
    // SAFETY (all calls below): valid descriptor and NUL-terminated names.
    let rc = match e.kind {
        EntryType::Symlink => {
            let target = cstr(e.target.as_deref().unwrap_or(""))?;
            unsafe { libc::symlinkat(target.as_ptr(), d, c.as_ptr()) }
        }
        EntryType::Fifo => unsafe { libc::mkfifoat(d, c.as_ptr(), perms) },
        EntryType::Socket => unsafe { libc::mknodat(d, c.as_ptr(), libc::S_IFSOCK | perms, 0) },
        EntryType::Chardev | EntryType::Blockdev if t.privileged => {
            let kind = if e.kind == EntryType::Chardev {
                libc::S_IFCHR
            } else {
                libc::S_IFBLK
            };
            unsafe { libc::mknodat(d, c.as_ptr(), kind | perms, e.rdev.unwrap_or(0)) }
        }
        EntryType::Chardev | EntryType::Blockdev => {
            lost.note("node", "making a device node needs root");
            return Ok(lost.found);
        }
        _ => {
            return Err(Error::InvalidArgument(format!(
                "{:?} is not a special file",
                e.kind
            )));
        }
    };
    if rc != 0 {
        return Err(last_os_error(&format!("creating {}", e.path)));
    }
    metadata::apply_at(t, d, &c, e, &mut lost);
    Ok(lost.found)
}

fn restore_hardlink(
    t: &Target,
    e: &Entry,
    restored: &HashSet<String>,
    conflict: Conflict,
) -> Result<()> {
    let src = e
        .link
        .as_deref()
        .ok_or_else(|| Error::corrupt(&e.path, "hard link without a source"))?;
    check_safe_path(src)?;
    if !restored.contains(src) {
        return Err(Error::InvalidArgument(format!(
            "its source {src} was not restored"
        )));
    }
    let (sdir, sname) = t.parent_of(src)?;
    let (ddir, dname) = t.parent_of(&e.path)?;
    let (sc, dc) = (cstr(sname)?, cstr(dname)?);
    if !t.make_room(ddir.as_raw_fd(), &dc, &e.path, conflict)? {
        return Ok(());
    }
    // SAFETY: valid descriptors and names; flags 0 never follows a symlink source.
    if unsafe {
        libc::linkat(
            sdir.as_raw_fd(),
            sc.as_ptr(),
            ddir.as_raw_fd(),
            dc.as_ptr(),
            0,
        )
    } != 0
    {
        return Err(last_os_error(&format!("linking {}", e.path)));
    }
    Ok(())
}

mod disk;
mod metadata;
use disk::restore_disks;
use metadata::Losses;
pub(crate) use metadata::flags_open_mode;
pub use metadata::{KEPT_FLAGS, MetadataLoss, read_flags};
