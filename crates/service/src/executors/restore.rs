//! `Restore`: one sub-task, "Transfer data from vault". A path item's point
//! is restored under the target folder (`/` for the original location),
//! limited to the item's source or the paths asked for, with the conflict
//! rule asked for. A disk item's point becomes a new image file: the store
//! writes it into a staging folder beside the target, then it is renamed
//! into place, so a failed restore never leaves a half image at the target.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lifeboat_catalog::Item;
use lifeboat_store::id::PointId as StorePointId;
use lifeboat_store::restore::{Conflict, RestoreOptions, restore};
use lifeboat_store::upload::Progress as StoreProgress;

use super::{JobCtx, fail};
use crate::params::RestoreParams;
use crate::report::{Detail, Ending, Report};

pub(crate) async fn run(ctx: &JobCtx, report: &mut Report) -> Ending {
    let Some(item_id) = ctx.job.item_id else {
        return Ending::Failed(Detail::new(
            "ITEM_NOT_FOUND",
            "the restore job names no item",
        ));
    };
    let item = match ctx.catalog().get_item_by_id(item_id).await {
        Ok(i) => i,
        Err(e) => return Ending::Failed(fail(e)),
    };
    let params: RestoreParams = match serde_json::from_value(ctx.job.params.clone()) {
        Ok(p) => p,
        Err(e) => {
            return Ending::Failed(Detail::new(
                "INVALID_ARGUMENT",
                format!("the restore job's parameters do not parse: {e}"),
            ));
        }
    };
    match ctx.catalog().find_point(item.vault_id, &params.point).await {
        Ok(Some(p)) if p.item_id == item.id => {}
        Ok(_) => {
            return Ending::Failed(Detail::new(
                "POINT_NOT_FOUND",
                format!(
                    "item '{}' has no recovery point {}",
                    item.name, params.point
                ),
            ));
        }
        Err(e) => return Ending::Failed(fail(e)),
    }
    if ctx.refresh_cancel().await {
        return Ending::Cancelled;
    }
    if ctx.is_stopping() {
        return Ending::Requeue(Detail::new(
            "SERVER_SHUTDOWN",
            "the server shut down before the restore started; it runs again",
        ));
    }
    report.start_task(0, ctx.now());
    let _ = ctx.push(report).await;
    let ending = transfer(ctx, report, &item, &params).await;
    if ending == Ending::Done {
        report.finish_task(0, ctx.now());
    }
    ending
}

fn conflict_of(s: &str) -> Conflict {
    match s {
        "overwrite" => Conflict::Overwrite,
        "skip" => Conflict::SkipExisting,
        _ => Conflict::Fail,
    }
}

/// Include paths as the store matches them: absolute, or relative to the
/// item's source; none means the item's whole source.
fn includes(item: &Item, include: &[String]) -> Vec<String> {
    if include.is_empty() {
        return vec![item.source.clone()];
    }
    include
        .iter()
        .map(|i| {
            if i.starts_with('/') {
                i.clone()
            } else {
                format!("{}/{}", item.source.trim_end_matches('/'), i)
            }
        })
        .collect()
}

async fn transfer(ctx: &JobCtx, report: &mut Report, item: &Item, p: &RestoreParams) -> Ending {
    let vault = match ctx.open_vault(item.vault_id).await {
        Ok(v) => v,
        Err(e) => return Ending::Failed(fail(e)),
    };
    let pid = match StorePointId::from_hex(&p.point) {
        Ok(id) => id,
        Err(e) => return Ending::Failed(fail(e)),
    };
    let v = vault.clone();
    let manifest = match tokio::task::spawn_blocking(move || v.load_point(&pid)).await {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => return Ending::Failed(fail(e)),
        Err(e) => return Ending::Failed(fail(e)),
    };
    let counters = Arc::new(StoreProgress::default());
    let total = Some(manifest.summary.bytes);
    let disk = item.workload == "disk";
    if !disk {
        let opts = RestoreOptions {
            includes: includes(item, &p.include),
            conflict: conflict_of(&p.conflict),
            disk_format: None,
        };
        let target = PathBuf::from(&p.target);
        let c = counters.clone();
        let r = ctx
            .blocking(report, Some((counters, total)), move || {
                std::fs::create_dir_all(&target)
                    .map_err(|e| lifeboat_store::Error::io(target.display().to_string(), e))?;
                restore(&vault, &pid, &manifest, &target, &opts, c)
            })
            .await;
        return match r {
            Ok(Ok(rep)) => {
                for e in &rep.errors {
                    report.warn(Detail::new("RESTORE_ENTRY_FAILED", e.clone()));
                }
                if rep.skipped > 0 && p.conflict == "skip" {
                    tracing::info!(
                        job = ctx.job.id.0,
                        skipped = rep.skipped,
                        "restore skipped existing files"
                    );
                }
                Ending::Done
            }
            Ok(Err(e)) => Ending::Failed(fail(e)),
            Err(e) => Ending::Failed(fail(e)),
        };
    }
    let target = PathBuf::from(&p.target);
    if target.symlink_metadata().is_ok() {
        match p.conflict.as_str() {
            "overwrite" => {}
            "skip" => {
                report.warn(Detail::new(
                    "TARGET_SKIPPED",
                    format!(
                        "{} exists; nothing restored (conflict: skip)",
                        target.display()
                    ),
                ));
                return Ending::Done;
            }
            _ => {
                return Ending::Failed(Detail::new(
                    "TARGET_EXISTS",
                    format!(
                        "{} exists; restore with conflict overwrite or skip, or choose another target",
                        target.display()
                    ),
                ));
            }
        }
    }
    let Some(dir) = target.parent().map(Path::to_path_buf) else {
        return Ending::Failed(Detail::new("INVALID_ARGUMENT", "the target has no folder"));
    };
    let staging = dir.join(format!(".lifeboat-restore-{}", ctx.job.id));
    let opts = RestoreOptions {
        includes: Vec::new(),
        conflict: Conflict::Fail,
        disk_format: p.format.clone(),
    };
    let c = counters.clone();
    let r = ctx
        .blocking(report, Some((counters, total)), move || {
            let io = |e: std::io::Error, what: &Path| {
                lifeboat_store::Error::io(what.display().to_string(), e)
            };
            std::fs::create_dir_all(&dir).map_err(|e| io(e, &dir))?;
            if staging.exists() {
                std::fs::remove_dir_all(&staging).map_err(|e| io(e, &staging))?;
            }
            let out = (|| -> lifeboat_store::Result<()> {
                restore(&vault, &pid, &manifest, &staging, &opts, c)?;
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
                std::fs::rename(image.path(), &target).map_err(|e| io(e, &target))?;
                if let Ok(f) = std::fs::File::open(&dir) {
                    let _ = f.sync_all();
                }
                Ok(())
            })();
            let _ = std::fs::remove_dir_all(&staging);
            out
        })
        .await;
    match r {
        Ok(Ok(())) => Ending::Done,
        Ok(Err(e)) => Ending::Failed(fail(e)),
        Err(e) => Ending::Failed(fail(e)),
    }
}
