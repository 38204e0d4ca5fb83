//! `GarbageCollection` of one vault: the store's two-phase GC (it runs
//! beside backups; data no point references goes, in packs that have been
//! condemned long enough), as the store's plan then its execution. One
//! sub-task, "Collect unreferenced data".

use lifeboat_model::job::Progress;
use lifeboat_store::gc::{GcIntent, execute, plan};

use super::{JobCtx, fail};
use crate::report::{Detail, Ending, Report};

pub(crate) async fn run(ctx: &JobCtx, report: &mut Report) -> Ending {
    if let Some(ending) = ctx.held_back("garbage collection").await {
        return ending;
    }
    report.start_task(0, ctx.now());
    let _ = ctx.push(report).await;
    let vault = match ctx.open_vault(ctx.job.vault_id).await {
        Ok(v) => v,
        Err(e) => return Ending::Failed(fail(e)),
    };
    let vault_id = ctx.job.vault_id.0;
    let r = ctx
        .blocking(report, None, move || {
            // The plan the store's own `gc --dry-run` shows, logged, then
            // carried out as it is.
            let plan = plan(&vault, GcIntent::Collect)?;
            tracing::info!(
                vault = vault_id,
                delete = plan.delete.len(),
                condemn = plan.condemn.len(),
                repack = plan.repack.len(),
                rescue = plan.rescue.len(),
                bytes_reclaimed_now = plan.bytes_reclaimed_now,
                bytes_reclaimed_later = plan.bytes_reclaimed_later,
                "garbage collection planned"
            );
            execute(&vault, plan)
        })
        .await;
    match r {
        Ok(Ok(rep)) => {
            report.set_progress(Progress {
                bytes_done: rep.bytes_deleted,
                bytes_total: Some(rep.bytes_deleted),
                files_done: rep.packs_deleted as u64,
                files_total: Some(rep.packs_deleted as u64),
            });
            tracing::info!(
                vault = ctx.job.vault_id.0,
                packs_deleted = rep.packs_deleted,
                bytes_deleted = rep.bytes_deleted,
                packs_condemned = rep.packs_condemned,
                "garbage collection done"
            );
            report.finish_task(0, ctx.now());
            Ending::Done
        }
        Ok(Err(e @ lifeboat_store::Error::GcRunning { .. })) => {
            // Another server (or `lifeboat store gc`) is collecting this
            // store right now; that run does the work this one would.
            report.warn(Detail::new(e.code(), e.to_string()));
            report.finish_task(0, ctx.now());
            Ending::Done
        }
        Ok(Err(e)) => Ending::Failed(fail(e)),
        Err(e) => Ending::Failed(fail(e)),
    }
}
