//! Putting an entry's metadata back, in the order the kernel requires, and
//! saying what could not be put back.
//!
//! The order matters: `chown` clears `security.capability` and the
//! setuid/setgid bits, so the owner comes first, then the extended
//! attributes (POSIX ACLs and capabilities among them), then the mode, then
//! the times. Inode flags come last of all, after every entry of the point
//! exists: an immutable file cannot be linked to, and an immutable folder
//! cannot be filled ([`apply_flags`]).
//!
//! Nothing here fails a restore: the data is already written. Each part
//! that could not be set becomes a [`MetadataLoss`] in the report, so a
//! restore never claims a machine came back exactly when it did not.

use std::ffi::{CStr, OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use super::{Target, atime_of, cstr, timespec};
use crate::manifest::{Entry, EntryType};

/// A part of an entry's recorded metadata that a restore could not set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MetadataLoss {
    /// The entry's path in the point.
    pub path: String,
    /// What was not set: `owner`, `mode`, `times`, `flags`, `xattr NAME`,
    /// or `node` (a device node that needs root to be made).
    pub what: String,
    /// Why, as the kernel said it.
    pub error: String,
}

/// The losses of one entry, gathered as its parts are set.
pub(super) struct Losses<'e> {
    entry: &'e Entry,
    pub(super) found: Vec<MetadataLoss>,
}

impl<'e> Losses<'e> {
    pub(super) fn of(entry: &'e Entry) -> Self {
        Self {
            entry,
            found: Vec::new(),
        }
    }

    pub(super) fn note(&mut self, what: impl Into<String>, error: impl std::fmt::Display) {
        self.found.push(MetadataLoss {
            path: self.entry.path.clone(),
            what: what.into(),
            error: error.to_string(),
        });
    }

    /// Notes the last OS error under `what` when `rc` is not 0.
    fn check(&mut self, rc: libc::c_int, what: &str) {
        if rc != 0 {
            self.note(what, std::io::Error::last_os_error());
        }
    }
}

/// Owner, xattrs, mode and times of a file or folder restored through `f`.
/// `owner_now` is the owner `f` is known to have, when it is known (a file
/// just made): the owner is set only when it differs.
pub(super) fn apply_to_open(
    t: &Target,
    f: &File,
    e: &Entry,
    owner_now: Option<(u32, u32)>,
    lost: &mut Losses<'_>,
) {
    let fd = f.as_raw_fd();
    if t.privileged && owner_now != Some((e.uid, e.gid)) {
        // SAFETY: valid descriptor.
        lost.check(unsafe { libc::fchown(fd, e.uid, e.gid) }, "owner");
    }
    for (name, raw, value) in decoded_xattrs(e, lost) {
        if let Err(err) = xattr::FileExt::set_xattr(f, &raw, &value) {
            lost.note(format!("xattr {name}"), err);
        }
    }
    // SAFETY: valid descriptor.
    lost.check(unsafe { libc::fchmod(fd, e.mode & 0o7777) }, "mode");
    let ts = [timespec(atime_of(e)), timespec(e.mtime)];
    // SAFETY: valid descriptor and two timespecs.
    lost.check(unsafe { libc::futimens(fd, ts.as_ptr()) }, "times");
}

/// Owner, xattrs, mode and times of a symlink, fifo, socket or device node
/// `name` in folder `dir`, none of which can be opened to be changed.
/// Nothing here follows a symlink.
pub(super) fn apply_at(t: &Target, dir: RawFd, name: &CStr, e: &Entry, lost: &mut Losses<'_>) {
    if t.privileged {
        // SAFETY: valid descriptor and name.
        let rc =
            unsafe { libc::fchownat(dir, name.as_ptr(), e.uid, e.gid, libc::AT_SYMLINK_NOFOLLOW) };
        lost.check(rc, "owner");
    }
    let xattrs = decoded_xattrs(e, lost);
    if !xattrs.is_empty() {
        // The folder's descriptor as a path: the kernel resolves it to the
        // folder itself, and `lsetxattr` does not follow the last name.
        let path = std::path::Path::new("/proc/self/fd")
            .join(dir.to_string())
            .join(OsStr::from_bytes(name.to_bytes()));
        for (k, raw, v) in xattrs {
            if let Err(err) = xattr::set(&path, &raw, &v) {
                lost.note(format!("xattr {k}"), err);
            }
        }
    }
    if e.kind != EntryType::Symlink {
        // A symlink's own mode means nothing on Linux; for the others
        // mknod's mode was cut by the umask. glibc sets it without
        // following a symlink (through an O_PATH descriptor).
        // SAFETY: valid descriptor and name.
        let rc = unsafe {
            libc::fchmodat(
                dir,
                name.as_ptr(),
                e.mode & 0o7777,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        lost.check(rc, "mode");
    }
    let ts = [timespec(atime_of(e)), timespec(e.mtime)];
    // SAFETY: valid descriptor, name and two timespecs.
    let rc = unsafe { libc::utimensat(dir, name.as_ptr(), ts.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
    lost.check(rc, "times");
}

/// The entry's xattrs as (written name, name, value); a name with a bad
/// escape or a value that is not hex is a loss.
fn decoded_xattrs(e: &Entry, lost: &mut Losses<'_>) -> Vec<(String, OsString, Vec<u8>)> {
    let mut out = Vec::with_capacity(e.xattrs.len());
    for (k, v) in &e.xattrs {
        let Some(raw) = crate::names::decode(k) else {
            lost.note(format!("xattr {k}"), "the name's escapes are malformed");
            continue;
        };
        match hex::decode(v) {
            Ok(bytes) => out.push((k.clone(), OsString::from_vec(raw.into_owned()), bytes)),
            Err(err) => lost.note(format!("xattr {k}"), format!("value is not hex: {err}")),
        }
    }
    out
}

// ------------------------------------------------------------ inode flags

/// The inode flags (`FS_*_FL` of linux/fs.h) a backup records and a
/// restore sets again: synchronous `0x8`, immutable `0x10`, append-only
/// `0x20`, no-dump `0x40`, no-atime `0x80`, directory-sync `0x10000`.
pub const KEPT_FLAGS: u32 = 0x8 | 0x10 | 0x20 | 0x40 | 0x80 | 0x1_0000;

/// How a file or folder is opened to read or set its inode flags: read
/// only, never following a symlink, never blocking on a fifo.
pub(crate) fn flags_open_mode(is_dir: bool) -> libc::c_int {
    let mode = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
    if is_dir {
        mode | libc::O_DIRECTORY
    } else {
        mode
    }
}

/// All inode flags of an open file or folder, as `FS_IOC_GETFLAGS` gives them.
fn all_flags(fd: RawFd) -> std::io::Result<u32> {
    let mut v: libc::c_int = 0;
    // SAFETY: valid descriptor; the kernel writes an int-sized value.
    if unsafe { libc::ioctl(fd, libc::FS_IOC_GETFLAGS, &mut v) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(v as u32)
}

/// The inode flags of an open file or folder, kept to [`KEPT_FLAGS`].
pub fn read_flags(fd: RawFd) -> std::io::Result<u32> {
    Ok(all_flags(fd)? & KEPT_FLAGS)
}

/// Sets the recorded inode flags of every entry in `with_flags`, children
/// before their folders (a folder made immutable first could not take its
/// children's flags). Flags outside [`KEPT_FLAGS`] are left as they are.
pub(super) fn apply_flags(t: &Target, mut with_flags: Vec<&Entry>) -> Vec<MetadataLoss> {
    with_flags.sort_by(|a, b| crate::backup::cmp_paths(&b.path, &a.path));
    let mut found = Vec::new();
    for e in with_flags {
        let mut lost = Losses::of(e);
        if let Err(err) = set_flags(t, e) {
            lost.note("flags", err);
        }
        found.append(&mut lost.found);
    }
    found
}

fn set_flags(t: &Target, e: &Entry) -> crate::error::Result<()> {
    let (dir, name) = t.parent_of(&e.path)?;
    let c = cstr(name)?;
    let open = flags_open_mode(e.kind == EntryType::Dir);
    // SAFETY: valid descriptor and name.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), open) };
    if fd < 0 {
        return Err(super::last_os_error(&format!("opening {}", e.path)));
    }
    // SAFETY: a fresh descriptor we now own.
    let f = unsafe { File::from_raw_fd(fd) };
    let cur = all_flags(f.as_raw_fd())
        .map_err(|err| crate::error::Error::io(format!("reading flags of {}", e.path), err))?;
    let want = (cur & !KEPT_FLAGS) | (e.flags & KEPT_FLAGS);
    if want == cur {
        return Ok(());
    }
    let v = want as libc::c_int;
    // SAFETY: valid descriptor and an int-sized value.
    if unsafe { libc::ioctl(f.as_raw_fd(), libc::FS_IOC_SETFLAGS, &v) } != 0 {
        return Err(super::last_os_error(&format!(
            "setting flags of {}",
            e.path
        )));
    }
    Ok(())
}
