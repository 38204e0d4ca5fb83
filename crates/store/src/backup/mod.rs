//! Backups of the two built-in workloads, over the point writer
//! ([`crate::writer`]): files and folders ([`files`]) and disk images
//! ([`disk`]). These are thin: a workload decides what to read and in which
//! order; the writer chunks, uploads and commits.

use std::path::Path;

use crate::error::Result;
use crate::id::PointId;
use crate::manifest::Workload;
use crate::vault::Vault;

pub mod disk;
pub mod files;
mod stat;

pub use crate::chunker::is_zero;
pub use crate::writer::BackupOutcome;
pub use disk::{backup_block_source, backup_disk};
pub use files::backup_files;

#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    pub tags: Vec<String>,
    /// Overrides the host name recorded in the point.
    pub host: Option<String>,
    /// Use this parent for change detection instead of the latest matching point.
    pub parent: Option<PointId>,
    /// Read every file even if the parent says it is unchanged.
    pub force_read: bool,
    /// Read the source at most this many bytes per second (`None`: no cap).
    pub read_limit: Option<u64>,
}

/// Compares manifest paths component by component: the order of a
/// depth-first walk with sorted names.
pub fn cmp_paths(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/').cmp(b.split('/'))
}

/// Manifest path of a source: its absolute path without the leading `/`.
pub(crate) fn rel_of(abs: &Path) -> Result<String> {
    use std::os::unix::ffi::OsStrExt;
    let s = crate::names::encode(abs.as_os_str().as_bytes());
    Ok(s.trim_start_matches('/').trim_end_matches('/').to_string())
}

/// Picks the parent for change detection: the newest point of the same
/// workload with the same host and paths.
pub fn find_parent(
    vault: &Vault,
    workload: &Workload,
    host: &str,
    paths: &[String],
) -> Option<PointId> {
    let (points, _) = vault.points().ok()?;
    points
        .into_iter()
        .rev()
        .find(|(_, p)| &p.kind == workload && p.host == host && p.paths == paths)
        .map(|(id, _)| id)
}
