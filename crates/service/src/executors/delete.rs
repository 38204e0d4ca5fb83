//! `DeleteBackupData` (stop protection with delete-data): the item's jobs
//! queued before it are cancelled and waited for, every point is forgotten in the store
//! and then its row deleted, then the item row; a GC is queued for the
//! data. Idempotent, so a server that takes it over simply runs it again.

use std::time::Duration;

use lifeboat_catalog::CatalogError;
use lifeboat_model::job::Progress;

use super::{JobCtx, fail, forget_point};
use crate::error::codes;
use crate::report::{Detail, Ending, Report};

pub(crate) async fn run(ctx: &JobCtx, report: &mut Report) -> Ending {
    let Some(item_id) = ctx.job.item_id else {
        report.warn(Detail::new(
            codes::ITEM_ALREADY_DELETED,
            "the item was already deleted",
        ));
        return Ending::Done;
    };
    let item = match ctx.catalog().get_item_by_id(item_id).await {
        Ok(i) => i,
        Err(CatalogError::NotFound { .. }) => {
            report.warn(Detail::new(
                codes::ITEM_ALREADY_DELETED,
                "the item was already deleted",
            ));
            return Ending::Done;
        }
        Err(e) => return Ending::Failed(fail(e)),
    };
    report.start_task(0, ctx.now());
    let _ = ctx.push(report).await;
    // The jobs queued before this one must end first: queued ones are
    // cancelled, running ones asked to stop (or taken over once their
    // server's lease lapses). Later ones belong to an item undeleted and
    // resumed meanwhile and are left alone.
    loop {
        match ctx
            .catalog()
            .cancel_item_jobs(item.id, ctx.job.id, ctx.now())
            .await
        {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Ending::Failed(fail(e)),
        }
        if ctx.is_stopping() {
            return Ending::Requeue(Detail::new(
                codes::SERVER_SHUTDOWN,
                "the server shut down while the deletion waited for the item's jobs",
            ));
        }
        if ctx.is_lost() {
            return Ending::Done;
        }
        tokio::time::sleep(ctx.shared.cfg.tick.min(Duration::from_secs(1))).await;
    }
    // Soft delete: the item and its data stay until the sweep purges them;
    // this job only ended the item's other jobs.
    if ctx.job.params.get("softDelete") == Some(&serde_json::Value::Bool(true)) {
        report.finish_task(0, ctx.now());
        return Ending::Done;
    }
    let vault = match ctx.open_vault(item.vault_id).await {
        Ok(v) => v,
        Err(e) => return Ending::Failed(fail(e)),
    };
    let mut done = 0u64;
    // A sweep may adopt a point of the item meanwhile: go round again.
    for _round in 0..5 {
        let points = match ctx.catalog().item_points(item.id).await {
            Ok(p) => p,
            Err(e) => return Ending::Failed(fail(e)),
        };
        let total = done + points.len() as u64;
        for p in points {
            let v = vault.clone();
            let sid = p.store_id.clone();
            match tokio::task::spawn_blocking(move || forget_point(&v, &sid)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Ending::Failed(fail(e)),
                Err(e) => return Ending::Failed(fail(e)),
            }
            match ctx.catalog().delete_point(p.id).await {
                Ok(()) | Err(CatalogError::NotFound { .. }) => {}
                Err(e) => return Ending::Failed(fail(e)),
            }
            done += 1;
            report.set_progress(Progress {
                bytes_done: 0,
                bytes_total: None,
                files_done: done,
                files_total: Some(total),
            });
            if done.is_multiple_of(50) {
                let _ = ctx.push(report).await;
            }
        }
        match ctx
            .catalog()
            .delete_item_for_job(item.id, Some(ctx.job.id))
            .await
        {
            Ok(()) | Err(CatalogError::NotFound { .. }) => {
                if done > 0
                    && let Err(e) = ctx.enqueue_gc(item.vault_id).await
                {
                    report.warn(Detail::new(
                        codes::GC_NOT_QUEUED,
                        format!("could not queue garbage collection: {e}"),
                    ));
                }
                report.finish_task(0, ctx.now());
                return Ending::Done;
            }
            Err(CatalogError::InUse { .. }) => continue,
            Err(e) => return Ending::Failed(fail(e)),
        }
    }
    Ending::Failed(Detail::new(
        codes::IN_USE,
        "points or jobs of the item kept appearing; the item was not deleted",
    ))
}
