//! Disk images (`disk` items): a raw image is read directly (SEEK_DATA and
//! SEEK_HOLE find its data); any other format qemu knows (qcow2, …) is read
//! in place through a read-only qemu-nbd export, with no temporary copy
//! (docs/disk-images.md). A point becomes a new image file again: the store
//! writes it into a staging folder beside the target, then it is renamed
//! into place, so a failed restore never leaves half an image at the target.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lifeboat_codes as codes;
use lifeboat_model::item::WorkloadKind;
use lifeboat_model::point::Consistency;
use lifeboat_model::source::{Conflict, RestoreRequest, Source};
use lifeboat_nbd::{ExportOptions, OpenedImage, open_image};
use lifeboat_store::backup::{BackupOptions, BackupOutcome, backup_block_source, backup_disk};
use lifeboat_store::restore::{self as store_restore, RestoreOptions};
use lifeboat_store::upload::Progress;
use lifeboat_store::vault::Vault;

use crate::Workload;
use crate::error::{Result, WorkloadError};
use crate::job::{Backed, BackupJob, Event, RestoreJob, Restored};
use crate::path_check::{Expect, check_local_path};

/// The `disk` workload.
pub struct Disk;

fn image_of(source: &Source) -> Result<&Path> {
    match source {
        Source::Disk { image } => Ok(image),
        other => Err(WorkloadError::invalid(
            "workload",
            format!("the disk workload cannot take a {} source", other.kind()),
        )),
    }
}

/// Backs up the image at `image` in place: raw directly, other formats
/// through qemu-nbd. `export` chooses the format (default: as `qemu-img
/// info` reports it), a dirty bitmap, and whether a locked image is read.
pub fn backup_image(
    vault: &Vault,
    image: &Path,
    options: &BackupOptions,
    export: &ExportOptions,
    progress: Arc<Progress>,
    warn: &mut dyn FnMut(&str),
) -> Result<BackupOutcome> {
    Ok(match open_image(image, export)? {
        OpenedImage::Raw(path) => backup_disk(vault, &path, options, progress, warn)?,
        OpenedImage::Nbd(mut source) => {
            backup_block_source(vault, &mut source, image, options, progress)?
        }
    })
}

/// Where a disk restore stages its image: a folder beside the target.
fn staging_dir(target: &Path, name: &str) -> Result<(PathBuf, PathBuf)> {
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .ok_or_else(|| WorkloadError::invalid("target", "the target has no folder"))?;
    Ok((dir.to_path_buf(), dir.join(name)))
}

impl Workload for Disk {
    fn kind(&self) -> WorkloadKind {
        WorkloadKind::Disk
    }

    fn consistency(&self) -> Consistency {
        Consistency::CrashConsistent
    }

    fn check_source(&self, source: &Source) -> Result<Source> {
        let image = check_local_path(image_of(source)?, Expect::File, "a disk item's source")?;
        Ok(Source::Disk { image })
    }

    fn check_restore(&self, source: &Source, request: &RestoreRequest) -> Result<()> {
        image_of(source)?;
        match request {
            RestoreRequest::Disk { .. } => Ok(()),
            other => Err(WorkloadError::invalid(
                "workload",
                format!("a disk item cannot be restored as a {} item", other.kind()),
            )),
        }
    }

    fn backup(&self, job: BackupJob<'_>) -> Result<Backed> {
        let image = image_of(job.source)?;
        self.check_available(job.source)?;
        let events = job.events;
        let mut warn = |m: &str| events(Event::warning(codes::SOURCE_WARNING, m));
        let outcome = backup_image(
            job.vault,
            image,
            &job.options,
            &ExportOptions::default(),
            job.progress,
            &mut warn,
        )?;
        Ok(Backed { outcome })
    }

    fn restore(&self, job: RestoreJob<'_>) -> Result<Restored> {
        let RestoreRequest::Disk {
            target,
            conflict,
            format,
        } = job.request
        else {
            return Err(WorkloadError::invalid(
                "workload",
                "a disk item restores an image only",
            ));
        };
        if target.symlink_metadata().is_ok() {
            match conflict {
                Conflict::Overwrite => {}
                Conflict::Skip => {
                    (job.events)(Event::warning(
                        codes::TARGET_SKIPPED,
                        format!(
                            "{} exists; nothing restored (conflict: skip)",
                            target.display()
                        ),
                    ));
                    return Ok(Restored {
                        skipped: 1,
                        ..Restored::default()
                    });
                }
                Conflict::Fail => {
                    return Err(WorkloadError::TargetExists(target.display().to_string()));
                }
            }
        }
        let (dir, staging) = staging_dir(target, &job.staging_name)?;
        let io = |e: std::io::Error, what: &Path| {
            lifeboat_store::Error::io(what.display().to_string(), e)
        };
        std::fs::create_dir_all(&dir).map_err(|e| io(e, &dir))?;
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(|e| io(e, &staging))?;
        }
        let opts = RestoreOptions {
            includes: Vec::new(),
            conflict: store_restore::Conflict::Fail,
            disk_format: Some(format.as_str().to_string()),
            threads: None,
        };
        let out = (|| -> Result<Restored> {
            let rep = store_restore::restore(
                job.vault,
                &job.point_id,
                job.point,
                &staging,
                &opts,
                job.progress,
            )?;
            let mut made = std::fs::read_dir(&staging).map_err(|e| io(e, &staging))?;
            let image = made
                .next()
                .transpose()
                .map_err(|e| io(e, &staging))?
                .ok_or_else(|| {
                    lifeboat_store::Error::InvalidArgument(
                        "the recovery point holds no disk image".into(),
                    )
                })?;
            std::fs::rename(image.path(), target).map_err(|e| io(e, target))?;
            // The rename is durable once the folder is.
            if let Ok(f) = std::fs::File::open(&dir) {
                let _ = f.sync_all();
            }
            Ok(Restored {
                files: 1,
                bytes: rep.bytes,
                skipped: 0,
                written: vec![target.clone()],
            })
        })();
        let _ = std::fs::remove_dir_all(&staging);
        out
    }
}
