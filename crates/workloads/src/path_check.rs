//! Checks shared by the workloads whose source is a local path.

use std::path::{Component, Path, PathBuf};

use lifeboat_codes as codes;

use crate::error::{Result, WorkloadError};

/// The kind of file system object a source must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    Anything,
    File,
}

/// Checks that `path` is absolute, has no `..`, exists and is readable as
/// `expect` says; returns it without a trailing slash.
pub(crate) fn check_local_path(path: &Path, expect: Expect, what: &str) -> Result<PathBuf> {
    let text = path.display().to_string();
    if !path.is_absolute() {
        return Err(WorkloadError::invalid(
            "source",
            format!("source must be an absolute path (got {text:?})"),
        ));
    }
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(WorkloadError::invalid(
            "source",
            format!("source must not contain '..' (got {text:?})"),
        ));
    }
    let meta = std::fs::metadata(path).map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::NotFound {
            "does not exist".to_owned()
        } else {
            format!("cannot be read by the server ({e})")
        };
        WorkloadError::refused(
            codes::SOURCE_NOT_FOUND,
            "source",
            format!("source {text:?} {why}; give a path that exists on the server's machine"),
        )
    })?;
    if expect == Expect::File && !meta.is_file() {
        return Err(WorkloadError::invalid(
            "source",
            format!("{what} must be an image file (raw or qcow2); {text:?} is not a file"),
        ));
    }
    let normal = if text.len() > 1 {
        text.trim_end_matches('/')
    } else {
        &text
    };
    Ok(PathBuf::from(normal))
}

/// Fails with `SOURCE_UNAVAILABLE` when `path` cannot be read now.
pub(crate) fn available(path: &Path) -> Result<()> {
    std::fs::symlink_metadata(path)
        .map(|_| ())
        .map_err(|e| WorkloadError::SourceUnavailable {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
}
