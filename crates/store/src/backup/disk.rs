//! Backups of disk images (docs/disk-images.md): raw images and block
//! devices through [`RawFileSource`], other formats through `qemu-img`, and
//! any other [`BlockSource`] through [`backup_block_source`]. A disk point
//! names its parent (the previous disk point of the same host and image, or
//! the one the caller gave); when the source knows its changed extents, the
//! unchanged pieces are taken from the parent without being read.

use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::files::entry_from_meta;
use super::{BackupOptions, find_parent};
use crate::blocks::{BlockSource, RawFileSource};
use crate::error::{Error, Result};
use crate::manifest::{Entry, EntryType, Summary, Workload};
use crate::upload::Progress;
use crate::vault::Vault;
use crate::writer::{BackupOutcome, PointSpec, PointWriter};

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
    let _ = warn;
    let abs = std::path::absolute(image).map_err(|e| Error::io(image.display().to_string(), e))?;
    let meta = std::fs::metadata(&abs).map_err(|e| Error::io(abs.display().to_string(), e))?;
    let format = image_format(&abs)?;
    if format == "raw" {
        let mut src = RawFileSource::open(&abs)?;
        return disk_point(vault, &mut src, &abs, Some(&meta), opts, progress);
    }
    // Non-raw images become a sparse raw copy first (docs/disk-images.md).
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
    let _guard = TempFile(tmp.clone());
    let mut src = RawFileSource::open(&tmp)?;
    disk_point(vault, &mut src, &abs, Some(&meta), opts, progress)
}

/// Backs up any block source as the disk image `image` (its file name names
/// the entry; its absolute path is the point's path). The image's file
/// metadata (mode, owner, times) is recorded when `image` exists.
pub fn backup_block_source(
    vault: &Vault,
    source: &mut dyn BlockSource,
    image: &Path,
    opts: &BackupOptions,
    progress: Arc<Progress>,
) -> Result<BackupOutcome> {
    let abs = std::path::absolute(image).map_err(|e| Error::io(image.display().to_string(), e))?;
    let meta = std::fs::metadata(&abs).ok();
    disk_point(vault, source, &abs, meta.as_ref(), opts, progress)
}

fn disk_point(
    vault: &Vault,
    source: &mut dyn BlockSource,
    abs: &Path,
    meta: Option<&Metadata>,
    opts: &BackupOptions,
    progress: Arc<Progress>,
) -> Result<BackupOutcome> {
    let name = abs
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::InvalidArgument(format!("{} has no usable name", abs.display())))?
        .to_string();
    let host = opts.host.clone().unwrap_or_else(crate::util::hostname);
    let paths = vec![abs.display().to_string()];
    let parent_id = opts
        .parent
        .or_else(|| find_parent(vault, &Workload::DISK, &host, &paths));
    let spec = PointSpec {
        tags: opts.tags.clone(),
        parent: parent_id,
        read_limit: opts.read_limit,
        ..PointSpec::new(Workload::DISK, host, paths)
    };
    let mut w = PointWriter::begin(vault, spec, progress)?;
    // The parent's entry for this image; a parent that cannot be read only
    // means every allocated piece is read.
    let parent_entry = match parent_id {
        Some(id) => parent_disk_entry(&w, &id, &name),
        None => None,
    };
    let blocks = w.write_blocks(source, parent_entry.as_ref())?;
    let mut e = match meta {
        Some(m) => entry_from_meta(name.clone(), EntryType::Disk, m),
        None => Entry {
            mode: 0o100600,
            ..Entry::new(name.clone(), EntryType::Disk)
        },
    };
    e.size = blocks.size;
    e.chunk_size = Some(blocks.chunk_size);
    e.chunks = blocks.chunks;
    w.add_entry(&e)?;
    *w.summary_mut() = Summary {
        files: 1,
        bytes: blocks.size,
        ..Default::default()
    };
    w.commit()
}

/// The disk entry named `name` in a point, read through the writer's index.
fn parent_disk_entry(w: &PointWriter<'_>, id: &crate::id::PointId, name: &str) -> Option<Entry> {
    let vault = w.vault();
    let point = vault.load_point(id).ok()?;
    let index = w.index().clone();
    crate::tree::TreeReader::new(point.tree, "parent tree", move |c| {
        vault.read_chunk_via(&index, c)
    })
    .map_while(|r| r.ok())
    .find(|e| e.kind == EntryType::Disk && e.path == name)
}

struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
