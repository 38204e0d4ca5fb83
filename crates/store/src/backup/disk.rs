//! Backups of disk images (docs/disk-images.md): raw images and block
//! devices through [`RawFileSource`], and any other [`BlockSource`] (a
//! qcow2 image read through qemu-nbd, by the disk workload) through
//! [`backup_block_source`]. A disk point
//! names its parent (the previous disk point of the same host and image, or
//! the one the caller gave); when the source knows its changed extents, the
//! unchanged pieces are taken from the parent without being read.

use std::fs::Metadata;
use std::path::Path;
use std::sync::Arc;

use super::files::entry_from_meta;
use super::{BackupOptions, find_parent};
use crate::blocks::{BlockSource, RawFileSource};
use crate::error::{Error, Result};
use crate::manifest::{Entry, EntryType, Summary, Workload};
use crate::upload::Progress;
use crate::vault::Vault;
use crate::writer::{BackupOutcome, PointSpec, PointWriter};

/// The container format whose signature `head` (the image's first bytes)
/// starts with, if any. A raw image read as raw is its own guest view; a
/// container read as raw would back up its metadata as if it were the disk.
fn container_format(head: &[u8]) -> Option<&'static str> {
    const SIGNATURES: [(&[u8], &str); 4] = [
        (b"QFI\xfb", "qcow2"),
        (b"QED\0", "qed"),
        (b"KDMV", "vmdk"),
        (b"vhdxfile", "vhdx"),
    ];
    SIGNATURES
        .iter()
        .find(|(sig, _)| head.starts_with(sig))
        .map(|(_, name)| *name)
}

/// Backs up a raw image or block device. Images in a container format
/// (qcow2, …) are refused here: the disk workload (`lifeboat-workloads`)
/// reads them in place through qemu-nbd and hands the result to
/// [`backup_block_source`].
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
    let mut src = RawFileSource::open(&abs)?;
    let mut head = [0u8; 8];
    let n = usize::try_from(src.size().min(8)).unwrap_or(8);
    src.read_at(0, &mut head[..n])?;
    if let Some(format) = container_format(&head[..n]) {
        return Err(Error::InvalidArgument(format!(
            "{} is a {format} image, not raw; back it up as a disk item (the disk workload reads it through qemu-nbd)",
            abs.display()
        )));
    }
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
        Some(m) => entry_from_meta(name.clone(), EntryType::Disk, &m.into()),
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

#[cfg(test)]
mod tests {
    use super::container_format;

    #[test]
    fn container_signatures_are_told_from_raw_data() {
        assert_eq!(container_format(b"QFI\xfb\0\0\0\x03"), Some("qcow2"));
        assert_eq!(container_format(b"KDMV\x01"), Some("vmdk"));
        assert_eq!(container_format(b"vhdxfile"), Some("vhdx"));
        assert_eq!(container_format(b"QED\0"), Some("qed"));
        assert_eq!(container_format(b"\0\0\0\0\0\0\0\0"), None);
        assert_eq!(container_format(b"QF"), None);
        assert_eq!(container_format(b""), None);
    }
}
