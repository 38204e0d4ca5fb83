//! What one `statx` tells a backup about an entry.
//!
//! The walk needs an entry's type, owner, mode, size, times and inode, and
//! whether it carries one of the inode flags worth recording. `statx` gives
//! all of it in one call (the flags as `stx_attributes`); std's metadata
//! would need a second call for the flags.

use std::ffi::CString;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// 512-byte blocks allocated.
    pub blocks: u64,
    pub mtime: i64,
    pub ctime: i64,
    pub ino: u64,
    pub dev: u64,
    pub nlink: u64,
    pub rdev: u64,
    /// Whether the kernel says one of immutable, append-only or no-dump is
    /// set; `None` where it cannot tell (then the flags must be read).
    pub shows_kept_flag: Option<bool>,
}

fn nanos(secs: i64, nsec: i64) -> i64 {
    secs.saturating_mul(1_000_000_000).saturating_add(nsec)
}

impl Stat {
    /// The entry at `path`, not following a symlink.
    pub(crate) fn of_path(path: &Path) -> std::io::Result<Self> {
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: zeroed statx is a valid out-parameter.
        let mut x: libc::statx = unsafe { std::mem::zeroed() };
        // SAFETY: valid path and out-pointer.
        let rc = unsafe {
            libc::statx(
                libc::AT_FDCWD,
                c.as_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
                libc::STATX_BASIC_STATS,
                &mut x,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let shown =
            (libc::STATX_ATTR_IMMUTABLE | libc::STATX_ATTR_APPEND | libc::STATX_ATTR_NODUMP) as u64;
        let shows_kept_flag =
            (x.stx_attributes_mask & shown == shown).then_some(x.stx_attributes & shown != 0);
        Ok(Self {
            mode: x.stx_mode as u32,
            uid: x.stx_uid,
            gid: x.stx_gid,
            size: x.stx_size,
            blocks: x.stx_blocks,
            mtime: nanos(x.stx_mtime.tv_sec, x.stx_mtime.tv_nsec as i64),
            ctime: nanos(x.stx_ctime.tv_sec, x.stx_ctime.tv_nsec as i64),
            ino: x.stx_ino,
            dev: libc::makedev(x.stx_dev_major, x.stx_dev_minor),
            nlink: x.stx_nlink as u64,
            rdev: libc::makedev(x.stx_rdev_major, x.stx_rdev_minor),
            shows_kept_flag,
        })
    }

    pub(crate) fn file_type(&self) -> u32 {
        self.mode & libc::S_IFMT
    }
}

impl From<&Metadata> for Stat {
    fn from(m: &Metadata) -> Self {
        Self {
            mode: m.mode(),
            uid: m.uid(),
            gid: m.gid(),
            size: m.size(),
            blocks: m.blocks(),
            mtime: nanos(m.mtime(), m.mtime_nsec()),
            ctime: nanos(m.ctime(), m.ctime_nsec()),
            ino: m.ino(),
            dev: m.dev(),
            nlink: m.nlink(),
            rdev: m.rdev(),
            shows_kept_flag: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_statx_says_what_std_metadata_says() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("f");
        std::fs::write(&f, b"some bytes").expect("write");
        let link = dir.path().join("l");
        std::os::unix::fs::symlink("f", &link).expect("symlink");
        for p in [dir.path(), f.as_path(), link.as_path()] {
            let ours = Stat::of_path(p).expect("statx");
            let std = Stat::from(&std::fs::symlink_metadata(p).expect("lstat"));
            assert_eq!(
                Stat {
                    shows_kept_flag: None,
                    ..ours
                },
                std,
                "{}",
                p.display()
            );
        }
        assert_eq!(
            Stat::of_path(&link).expect("statx").file_type(),
            libc::S_IFLNK
        );
        assert!(Stat::of_path(&dir.path().join("missing")).is_err());
    }
}
