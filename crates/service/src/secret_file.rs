//! Secret files (vault secrets, platform keys): written 0600 in a 0700
//! folder, fsynced, and put in place atomically, so a crash leaves the old
//! file or the new one, never a mix.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Result, ServiceError};

fn secret_dir(path: &Path) -> Result<&Path> {
    let dir = path
        .parent()
        .ok_or_else(|| ServiceError::Internal(format!("{} has no folder", path.display())))?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| ServiceError::io(dir.display().to_string(), e))?;
    // An existing folder keeps its mode from DirBuilder: tighten it.
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| ServiceError::io(dir.display().to_string(), e))?;
    Ok(dir)
}

fn write_tmp(dir: &Path, path: &Path, data: &[u8]) -> std::io::Result<PathBuf> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("key");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    Ok(tmp)
}

/// Writes a secret file that must not exist yet: a 0600 temporary file in
/// a 0700 folder, fsync, hard link (fails if the file appeared meanwhile),
/// fsync the folder.
pub(crate) fn write_new(path: &Path, data: &[u8]) -> Result<()> {
    place(path, data, |tmp, path| {
        fs::hard_link(tmp, path)?;
        fs::remove_file(tmp)
    })
}

/// Replaces a secret file atomically: temporary file, fsync, rename over,
/// fsync the folder. A crash leaves the old or the new file, never a mix.
pub(crate) fn write_replace(path: &Path, data: &[u8]) -> Result<()> {
    place(path, data, |tmp, path| fs::rename(tmp, path))
}

/// Writes `data` to a temporary file beside `path`, then `put` moves it to
/// `path`; on failure the temporary file is removed. The folder is synced
/// after a success.
fn place(
    path: &Path,
    data: &[u8],
    put: impl FnOnce(&Path, &Path) -> std::io::Result<()>,
) -> Result<()> {
    let dir = secret_dir(path)?;
    let mut tmp = None;
    let r = (|| -> std::io::Result<()> {
        let t = write_tmp(dir, path, data)?;
        tmp = Some(t.clone());
        put(&t, path)
    })();
    if let Err(e) = r {
        if let Some(t) = tmp {
            let _ = fs::remove_file(t);
        }
        return Err(ServiceError::io(path.display().to_string(), e));
    }
    sync_dir(dir);
    Ok(())
}

pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
