//! Block sources: what a disk backup reads. A source has a size, tells which
//! extents hold data (the rest reads as zeros) and, where it knows, which
//! extents changed since the parent point (a dirty bitmap). The point writer
//! cuts it into fixed `disk_chunk_size` pieces ([`crate::writer`]).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A byte range of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Extent {
    pub offset: u64,
    pub len: u64,
}

impl Extent {
    pub fn end(&self) -> u64 {
        self.offset.saturating_add(self.len)
    }
}

pub trait BlockSource: Send {
    fn size(&self) -> u64;
    /// Allocated (data) extents, sorted, non-overlapping; everything else reads as zeros.
    fn allocated_extents(&mut self) -> Result<Vec<Extent>>;
    /// Extents changed since the parent point, where the source knows it (a dirty bitmap); None = unknown, read all allocated.
    fn changed_extents(&mut self) -> Result<Option<Vec<Extent>>>;
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()>;
}

/// Sorts extents, drops empty ones and merges overlapping or touching ones,
/// so a source that breaks the "sorted, non-overlapping" rule cannot make a
/// backup skip data.
pub fn normalize_extents(mut v: Vec<Extent>) -> Vec<Extent> {
    v.retain(|e| e.len > 0);
    v.sort();
    let mut out: Vec<Extent> = Vec::with_capacity(v.len());
    for e in v {
        match out.last_mut() {
            Some(last) if e.offset <= last.end() => {
                let end = last.end().max(e.end());
                last.len = end - last.offset;
            }
            _ => out.push(e),
        }
    }
    out
}

/// The data extents of a file, from SEEK_DATA/SEEK_HOLE; the whole file
/// when the file system cannot tell.
pub fn data_extents(f: &File, size: u64) -> Vec<Extent> {
    let fd = std::os::fd::AsRawFd::as_raw_fd(f);
    let mut out = Vec::new();
    let mut pos = 0u64;
    let whole = || {
        if size == 0 {
            Vec::new()
        } else {
            vec![Extent {
                offset: 0,
                len: size,
            }]
        }
    };
    while pos < size {
        // SAFETY: lseek on an open descriptor; -1 on error or past the last data.
        let data = unsafe { libc::lseek(fd, pos as libc::off_t, libc::SEEK_DATA) };
        if data < 0 {
            if out.is_empty() && std::io::Error::last_os_error().raw_os_error() != Some(libc::ENXIO)
            {
                return whole();
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
        out.push(Extent {
            offset: data as u64,
            len: end - data as u64,
        });
        pos = end;
    }
    out
}

/// A raw image, a plain file or a block device, read with `pread`; its
/// allocated extents come from SEEK_DATA/SEEK_HOLE.
pub struct RawFileSource {
    file: File,
    path: PathBuf,
    size: u64,
    changed: Option<Vec<Extent>>,
}

impl RawFileSource {
    pub fn open(path: &Path) -> Result<Self> {
        let ctx = || path.display().to_string();
        let file = File::open(path).map_err(|e| Error::io(ctx(), e))?;
        // A block device reports size 0 in its metadata; seeking to the end tells.
        let mut size = file.metadata().map_err(|e| Error::io(ctx(), e))?.len();
        if size == 0 {
            let mut f = &file;
            size = std::io::Seek::seek(&mut f, std::io::SeekFrom::End(0))
                .map_err(|e| Error::io(ctx(), e))?;
        }
        Ok(Self {
            file,
            path: path.to_path_buf(),
            size,
            changed: None,
        })
    }

    /// The extents the caller knows changed since the parent point.
    pub fn with_changed_extents(mut self, changed: Vec<Extent>) -> Self {
        self.changed = Some(changed);
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl BlockSource for RawFileSource {
    fn size(&self) -> u64 {
        self.size
    }

    fn allocated_extents(&mut self) -> Result<Vec<Extent>> {
        Ok(data_extents(&self.file, self.size))
    }

    fn changed_extents(&mut self) -> Result<Option<Vec<Extent>>> {
        Ok(self.changed.clone())
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.file
            .read_exact_at(buf, offset)
            .map_err(|e| Error::io(self.path.display().to_string(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x(offset: u64, len: u64) -> Extent {
        Extent { offset, len }
    }

    #[test]
    fn normalizing_sorts_and_merges() {
        assert_eq!(
            normalize_extents(vec![x(10, 5), x(0, 4), x(3, 2), x(20, 0), x(15, 1)]),
            vec![x(0, 5), x(10, 6)]
        );
    }

    #[test]
    fn a_sparse_file_has_its_data_extents() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("img");
        let f = File::create(&p).unwrap();
        f.set_len(8 << 20).unwrap();
        f.write_all_at(&[1u8; 4096], 4 << 20).unwrap();
        drop(f);
        let mut s = RawFileSource::open(&p).unwrap();
        assert_eq!(s.size(), 8 << 20);
        let ext = s.allocated_extents().unwrap();
        // The file system may allocate more than written, never less.
        assert!(
            ext.iter()
                .any(|e| e.offset <= 4 << 20 && e.end() >= (4 << 20) + 4096),
            "{ext:?}"
        );
        let mut b = [0u8; 4];
        s.read_at(4 << 20, &mut b).unwrap();
        assert_eq!(b, [1; 4]);
        assert!(s.changed_extents().unwrap().is_none());
    }
}
