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

use crate::error::{BackendError, BackendErrorKind, BackendResult, Op};
use crate::{Backend, ListPage, ObjectInfo, OpenObject};

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

    /// The file of an object. Names are relative and never climb out of
    /// the root, whatever a damaged listing or manifest says.
    fn path(&self, op: Op, name: &str) -> BackendResult<PathBuf> {
        let bad = name.starts_with('/')
            || name
                .split('/')
                .any(|c| c == ".." || c == "." || c.starts_with(TEMP_PREFIX));
        if bad {
            return Err(BackendError::new(
                BackendErrorKind::Permanent,
                op,
                name,
                "not a valid object name",
            ));
        }
        Ok(self.root.join(name))
    }

    /// Removes temporary files older than `max_age` left by killed writers.
    pub fn remove_stale_temp_files(&self, max_age: std::time::Duration) -> BackendResult<usize> {
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

    /// Depth-first walk in name order, collecting files named after `token`
    /// until `out` holds `limit`. Folders sort as `name/`, so the walk order
    /// is the byte order of the full names, and a folder wholly before the
    /// token is skipped without being read.
    fn walk(
        &self,
        dir: &Path,
        rel: &str,
        token: Option<&str>,
        limit: usize,
        out: &mut Vec<ObjectInfo>,
    ) -> BackendResult<()> {
        let rd = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(BackendError::io(Op::List, dir.display().to_string(), e)),
        };
        let mut entries: Vec<(String, bool)> = Vec::new();
        for e in rd {
            let e = e.map_err(|e| BackendError::io(Op::List, dir.display().to_string(), e))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(TEMP_PREFIX) {
                continue;
            }
            let is_dir = match e.file_type() {
                Ok(ft) => ft.is_dir(),
                Err(err) if err.kind() == ErrorKind::NotFound => continue,
                Err(err) => {
                    return Err(BackendError::io(Op::List, dir.display().to_string(), err));
                }
            };
            let full = format!("{rel}{name}{}", if is_dir { "/" } else { "" });
            entries.push((full, is_dir));
        }
        entries.sort();
        for (full, is_dir) in entries {
            if out.len() >= limit {
                return Ok(());
            }
            if is_dir {
                let skip = token.is_some_and(|t| !t.starts_with(&full) && full.as_str() < t);
                if !skip {
                    self.walk(&self.root.join(&full), &full, token, limit, out)?;
                }
                continue;
            }
            if token.is_some_and(|t| full.as_str() <= t) {
                continue;
            }
            let size = match fs::metadata(self.root.join(&full)) {
                Ok(m) => m.len(),
                Err(err) if err.kind() == ErrorKind::NotFound => continue, // deleted meanwhile
                Err(err) => return Err(BackendError::io(Op::List, full, err)),
            };
            out.push(ObjectInfo { name: full, size });
        }
        Ok(())
    }
}

fn sync_dir(op: Op, dir: &Path) -> BackendResult<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| BackendError::io(op, dir.display().to_string(), e))
}

impl Backend for LocalBackend {
    fn put_if_absent(&self, name: &str, data: &[u8]) -> BackendResult<bool> {
        let dest = self.path(Op::Put, name)?;
        let dir = dest.parent().unwrap_or(&self.root).to_path_buf();
        if dest.exists() {
            return Ok(false);
        }
        fs::create_dir_all(&dir)
            .map_err(|e| BackendError::io(Op::Put, dir.display().to_string(), e))?;
        let mut rand = [0u8; 8];
        getrandom::fill(&mut rand).map_err(|e| {
            BackendError::new(
                BackendErrorKind::Transient,
                Op::Put,
                name,
                format!("the operating system's random source failed: {e}"),
            )
        })?;
        let tmp = dir.join(format!("{TEMP_PREFIX}{}", hex::encode(rand)));
        let write = || -> std::io::Result<()> {
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(data)?;
            f.sync_all()
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(BackendError::io(Op::Put, dest.display().to_string(), e));
        }
        let linked = fs::hard_link(&tmp, &dest);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                sync_dir(Op::Put, &dir)?;
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(BackendError::io(Op::Put, dest.display().to_string(), e)),
        }
    }

    fn get(&self, name: &str) -> BackendResult<Vec<u8>> {
        let p = self.path(Op::Get, name)?;
        fs::read(&p).map_err(|e| BackendError::io(Op::Get, p.display().to_string(), e))
    }

    fn get_range(&self, name: &str, offset: u64, len: u64) -> BackendResult<Vec<u8>> {
        LocalObject::open(self, name)?.get_range(offset, len)
    }

    fn open_object(&self, name: &str) -> BackendResult<Option<Box<dyn OpenObject>>> {
        Ok(Some(Box::new(LocalObject::open(self, name)?)))
    }

    fn list_page(
        &self,
        prefix: &str,
        token: Option<&str>,
        limit: usize,
    ) -> BackendResult<ListPage> {
        let rel = if prefix.is_empty() || prefix.ends_with('/') {
            prefix.to_string()
        } else {
            format!("{prefix}/")
        };
        let base = if rel.is_empty() {
            self.root.clone()
        } else {
            self.path(Op::List, rel.trim_end_matches('/'))?
        };
        let limit = limit.max(1);
        let mut objects = Vec::new();
        self.walk(&base, &rel, token, limit, &mut objects)?;
        let next = (objects.len() >= limit)
            .then(|| objects.last().map(|o| o.name.clone()))
            .flatten();
        Ok(ListPage { objects, next })
    }

    fn delete(&self, name: &str) -> BackendResult<()> {
        let p = self.path(Op::Delete, name)?;
        match fs::remove_file(&p) {
            Ok(()) => {
                if let Some(dir) = p.parent() {
                    sync_dir(Op::Delete, dir)?;
                }
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(BackendError::io(Op::Delete, p.display().to_string(), e)),
        }
    }

    fn exists(&self, name: &str) -> BackendResult<bool> {
        let p = self.path(Op::Exists, name)?;
        match fs::symlink_metadata(&p) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(BackendError::io(Op::Exists, p.display().to_string(), e)),
        }
    }

    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn remove_stale_temporaries(&self, max_age: std::time::Duration) -> BackendResult<usize> {
        self.remove_stale_temp_files(max_age)
    }
}

/// An object's file, open for range reads; its size is read once (objects
/// are never rewritten).
struct LocalObject {
    file: File,
    size: u64,
    name: String,
    path: PathBuf,
}

impl LocalObject {
    fn open(backend: &LocalBackend, name: &str) -> BackendResult<Self> {
        let path = backend.path(Op::GetRange, name)?;
        let io = |e| BackendError::io(Op::GetRange, path.display().to_string(), e);
        let file = File::open(&path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        Ok(Self {
            file,
            size,
            name: name.to_string(),
            path,
        })
    }

    fn truncated(&self, offset: u64, len: u64) -> BackendError {
        BackendError::new(
            BackendErrorKind::OutOfRange,
            Op::GetRange,
            &self.name,
            format!(
                "truncated: cannot read {len} bytes at {offset} (object has {})",
                self.size
            ),
        )
    }
}

impl OpenObject for LocalObject {
    fn get_range(&self, offset: u64, len: u64) -> BackendResult<Vec<u8>> {
        // Checked before allocating: a damaged length must not ask for memory.
        if offset.checked_add(len).is_none_or(|end| end > self.size) {
            return Err(self.truncated(offset, len));
        }
        let mut buf = vec![0u8; len as usize];
        self.read_at(offset, &mut buf)?;
        Ok(buf)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> BackendResult<()> {
        let len = buf.len() as u64;
        if offset.checked_add(len).is_none_or(|end| end > self.size) {
            return Err(self.truncated(offset, len));
        }
        self.file.read_exact_at(buf, offset).map_err(|e| {
            if e.kind() == ErrorKind::UnexpectedEof {
                self.truncated(offset, len)
            } else {
                BackendError::io(Op::GetRange, self.path.display().to_string(), e)
            }
        })
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

    #[test]
    fn names_cannot_leave_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path().join("v"));
        for bad in ["../x", "/etc/passwd", "a/../../x", "a/./b", ".tmp-1"] {
            assert!(b.put_if_absent(bad, b"x").is_err(), "{bad}");
            assert!(b.get(bad).is_err(), "{bad}");
        }
        assert!(!dir.path().join("x").exists());
    }

    #[test]
    fn listing_order_is_name_order_across_folders() {
        // `a.x` sorts before `a/b` ('.' < '/'): the walk must agree.
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path());
        for n in ["p/a/b", "p/a.x", "p/a-", "p/b", "p/a/c/d"] {
            b.put_if_absent(n, n.as_bytes()).unwrap();
        }
        let mut want = vec!["p/a/b", "p/a.x", "p/a-", "p/b", "p/a/c/d"];
        want.sort();
        let mut got = Vec::new();
        let mut token = None;
        loop {
            let page = b.list_page("p/", token.as_deref(), 2).unwrap();
            got.extend(page.objects.into_iter().map(|o| o.name));
            match page.next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(got, want);
    }
}
