//! Files and folders (`path` items): a tree read through the store's file
//! backup, with the item's latest point as parent so that unchanged files
//! are not read again; restored under a folder (`/` for the original
//! location), all of it or the paths asked for.

use std::path::Path;

use lifeboat_codes as codes;
use lifeboat_model::item::WorkloadKind;
use lifeboat_model::point::Consistency;
use lifeboat_model::source::{Conflict, RestoreRequest, Source};
use lifeboat_store::backup::backup_files;
use lifeboat_store::restore::{self as store_restore, RestoreOptions};

use crate::Workload;
use crate::error::{Result, WorkloadError};
use crate::job::{Backed, BackupJob, Event, RestoreJob, Restored};
use crate::path_check::{Expect, check_local_path};

/// The `path` workload.
pub struct Files;

fn tree_of(source: &Source) -> Result<&Path> {
    match source {
        Source::Path { path } => Ok(path),
        other => Err(WorkloadError::invalid(
            "workload",
            format!("the files workload cannot take a {} source", other.kind()),
        )),
    }
}

/// The store's conflict rule for a restore's.
pub fn store_conflict(c: Conflict) -> store_restore::Conflict {
    match c {
        Conflict::Overwrite => store_restore::Conflict::Overwrite,
        Conflict::Skip => store_restore::Conflict::SkipExisting,
        Conflict::Fail => store_restore::Conflict::Fail,
    }
}

/// Include paths as the store matches them: absolute, or relative to the
/// item's source; none means the whole source.
fn includes(source: &Path, include: &[String]) -> Vec<String> {
    let base = source.display().to_string();
    if include.is_empty() {
        return vec![base];
    }
    include
        .iter()
        .map(|i| {
            if i.starts_with('/') {
                i.clone()
            } else {
                format!("{}/{}", base.trim_end_matches('/'), i)
            }
        })
        .collect()
}

impl Workload for Files {
    fn kind(&self) -> WorkloadKind {
        WorkloadKind::Path
    }

    fn consistency(&self) -> Consistency {
        Consistency::FileSystemConsistent
    }

    fn check_source(&self, source: &Source) -> Result<Source> {
        let path = check_local_path(tree_of(source)?, Expect::Anything, "a path item's source")?;
        Ok(Source::Path { path })
    }

    fn check_restore(&self, source: &Source, request: &RestoreRequest) -> Result<()> {
        tree_of(source)?;
        match request {
            RestoreRequest::Path { .. } => Ok(()),
            other => Err(WorkloadError::invalid(
                "workload",
                format!("a path item cannot be restored as a {} item", other.kind()),
            )),
        }
    }

    fn backup(&self, job: BackupJob<'_>) -> Result<Backed> {
        let tree = tree_of(job.source)?;
        self.check_available(job.source)?;
        let events = job.events;
        let mut warn = |m: &str| events(Event::warning(codes::SOURCE_WARNING, m));
        let outcome = backup_files(
            job.vault,
            &[tree.to_path_buf()],
            &job.options,
            job.progress,
            &mut warn,
        )?;
        Ok(Backed { outcome })
    }

    fn restore(&self, job: RestoreJob<'_>) -> Result<Restored> {
        let tree = tree_of(job.source)?;
        let RestoreRequest::Path {
            target,
            conflict,
            include,
        } = job.request
        else {
            return Err(WorkloadError::invalid(
                "workload",
                "a path item restores files only",
            ));
        };
        let opts = RestoreOptions {
            includes: includes(tree, include),
            conflict: store_conflict(*conflict),
            disk_format: None,
            threads: None,
        };
        std::fs::create_dir_all(target)
            .map_err(|e| lifeboat_store::Error::io(target.display().to_string(), e))?;
        let rep = store_restore::restore(
            job.vault,
            &job.point_id,
            job.point,
            target,
            &opts,
            job.progress,
        )?;
        for e in &rep.errors {
            (job.events)(Event::warning(codes::RESTORE_ENTRY_FAILED, e.clone()));
        }
        for m in &rep.metadata_lost {
            (job.events)(Event::warning(
                codes::METADATA_NOT_RESTORED,
                format!("{}: {} not set: {}", m.path, m.what, m.error),
            ));
        }
        Ok(Restored {
            files: rep.files,
            bytes: rep.bytes,
            skipped: rep.skipped,
            written: rep.written.iter().map(Into::into).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_are_relative_to_the_source_unless_absolute() {
        let s = Path::new("/srv/data");
        assert_eq!(includes(s, &[]), vec!["/srv/data".to_string()]);
        assert_eq!(
            includes(s, &["a/b".into(), "/etc/x".into()]),
            vec!["/srv/data/a/b".to_string(), "/etc/x".to_string()]
        );
    }

    #[test]
    fn every_conflict_rule_maps_to_the_stores() {
        assert_eq!(
            store_conflict(Conflict::Overwrite),
            store_restore::Conflict::Overwrite
        );
        assert_eq!(
            store_conflict(Conflict::Skip),
            store_restore::Conflict::SkipExisting
        );
        assert_eq!(
            store_conflict(Conflict::Fail),
            store_restore::Conflict::Fail
        );
    }
}
