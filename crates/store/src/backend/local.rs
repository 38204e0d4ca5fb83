//! A vault in a local folder.
//!
//! put-if-absent is write to a temporary file in the destination folder,
//! fsync, `link(2)` to the final name (which fails if it exists, so two
//! writers cannot clobber each other), unlink the temporary, fsync the
//! folder. A crash leaves at most a `.tmp-*` file, which listings ignore and
//! `gc` removes.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{Backend, ObjectInfo};
use crate::error::{Error, Result};

pub const TEMP_PREFIX: &str = ".tmp-";

pub struct LocalBackend {
    root: PathBuf,
}

impl LocalBackend {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Removes temporary files older than `max_age` left by killed writers.
    pub fn remove_stale_temp_files(&self, max_age: std::time::Duration) -> Result<usize> {
        let mut removed = 0;
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = fs::read_dir(&dir) else { continue };
            for e in rd.flatten() {
                let p = e.path();
                let Ok(ft) = e.file_type() else { continue };
                if ft.is_dir() {
                    stack.push(p);
                } else if e.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                    let old = e
                        .metadata()
                        .ok()
                        .and_then(|m| m.modified().ok())
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age >= max_age);
                    if old && fs::remove_file(&p).is_ok() {
                        removed += 1;
                    }
                }
            }
        }
        Ok(removed)
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("syncing folder {}", dir.display()), e))
}

impl Backend for LocalBackend {
    fn put_if_absent(&self, name: &str, data: &[u8]) -> Result<bool> {
        let dest = self.path(name);
        let dir = dest.parent().unwrap_or(&self.root).to_path_buf();
        if dest.exists() {
            return Ok(false);
        }
        fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating folder {}", dir.display()), e))?;
        let tmp = dir.join(format!(
            "{TEMP_PREFIX}{}",
            hex::encode(crate::crypto::random_array::<8>())
        ));
        let write = || -> std::io::Result<()> {
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(data)?;
            f.sync_all()
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io(format!("writing {}", dest.display()), e));
        }
        let linked = fs::hard_link(&tmp, &dest);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                sync_dir(&dir)?;
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(Error::io(format!("storing {}", dest.display()), e)),
        }
    }

    fn get(&self, name: &str) -> Result<Vec<u8>> {
        let p = self.path(name);
        fs::read(&p).map_err(|e| Error::io(format!("reading {}", p.display()), e))
    }

    fn get_range(&self, name: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        let p = self.path(name);
        let f = File::open(&p).map_err(|e| Error::io(format!("reading {}", p.display()), e))?;
        let mut buf = vec![0u8; len as usize];
        f.read_exact_at(&mut buf, offset).map_err(|e| {
            if e.kind() == ErrorKind::UnexpectedEof {
                Error::corrupt(
                    name,
                    format!("truncated: cannot read {len} bytes at {offset}"),
                )
            } else {
                Error::io(format!("reading {}", p.display()), e)
            }
        })?;
        Ok(buf)
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let base = self.path(prefix.trim_end_matches('/'));
        let mut out = Vec::new();
        let mut stack = vec![base];
        while let Some(dir) = stack.pop() {
            let rd = match fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(format!("listing {}", dir.display()), e)),
            };
            for e in rd {
                let e = e.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
                let fname = e.file_name();
                let fname = fname.to_string_lossy();
                if fname.starts_with(TEMP_PREFIX) {
                    continue;
                }
                let ft = e.file_type().map_err(|err| Error::io("listing", err))?;
                if ft.is_dir() {
                    stack.push(e.path());
                    continue;
                }
                let size = match e.metadata() {
                    Ok(m) => m.len(),
                    Err(err) if err.kind() == ErrorKind::NotFound => continue,
                    Err(err) => return Err(Error::io("listing", err)),
                };
                let rel = e.path();
                let rel = rel.strip_prefix(&self.root).unwrap_or(&rel);
                out.push(ObjectInfo {
                    name: rel.to_string_lossy().into_owned(),
                    size,
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn delete(&self, name: &str) -> Result<()> {
        let p = self.path(name);
        match fs::remove_file(&p) {
            Ok(()) => {
                if let Some(dir) = p.parent() {
                    sync_dir(dir)?;
                }
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("deleting {}", p.display()), e)),
        }
    }

    fn exists(&self, name: &str) -> Result<bool> {
        Ok(self.path(name).exists())
    }

    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn remove_stale_temporaries(&self, max_age: std::time::Duration) -> Result<usize> {
        self.remove_stale_temp_files(max_age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_if_absent_get_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path());
        assert!(b.put_if_absent("packs/ab/x", b"hello").unwrap());
        assert!(!b.put_if_absent("packs/ab/x", b"other").unwrap());
        assert_eq!(b.get("packs/ab/x").unwrap(), b"hello");
        assert_eq!(b.get_range("packs/ab/x", 1, 3).unwrap(), b"ell");
        assert!(b.get_range("packs/ab/x", 3, 10).is_err());
        assert_eq!(
            b.list("packs/").unwrap(),
            vec![ObjectInfo {
                name: "packs/ab/x".into(),
                size: 5
            }]
        );
        assert!(b.list("nothing/").unwrap().is_empty());
        b.delete("packs/ab/x").unwrap();
        b.delete("packs/ab/x").unwrap();
        assert!(b.get("packs/ab/x").unwrap_err().is_not_found());
    }
}
