//! `Restore`: one sub-task, "Transfer data from vault", done by the item's
//! workload (`lifeboat-workloads`): a path item's point under the target
//! folder, a disk item's point as a new image file staged beside the
//! target and renamed into place.

use std::sync::Arc;

use lifeboat_catalog::Item;
use lifeboat_store::id::PointId as StorePointId;
use lifeboat_store::upload::Progress as StoreProgress;
use lifeboat_workloads::RestoreJob;

use super::{Events, JobCtx, fail};
use crate::error::codes;
use crate::params::RestoreParams;
use crate::report::{Detail, Ending, Report};

pub(crate) async fn run(ctx: &JobCtx, report: &mut Report) -> Ending {
    let item = match ctx.item().await {
        Ok(i) => i,
        Err(d) => return Ending::Failed(d),
    };
    let params = match RestoreParams::from_job(&ctx.job.params, item.source.kind()) {
        Ok(p) => p,
        Err(e) => return Ending::Failed(fail(e)),
    };
    match ctx.catalog().find_point(item.vault_id, &params.point).await {
        Ok(Some(p)) if p.item_id == item.id => {}
        Ok(_) => {
            return Ending::Failed(Detail::new(
                codes::POINT_NOT_FOUND,
                format!(
                    "item '{}' has no recovery point {}",
                    item.name, params.point
                ),
            ));
        }
        Err(e) => return Ending::Failed(fail(e)),
    }
    if let Some(ending) = ctx.held_back("the restore").await {
        return ending;
    }
    report.start_task(0, ctx.now());
    let _ = ctx.push(report).await;
    let ending = transfer(ctx, report, &item, &params).await;
    if ending == Ending::Done {
        report.finish_task(0, ctx.now());
    }
    ending
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
    let events = Events::default();
    let (c, ev, source, request) = (
        counters.clone(),
        events.clone(),
        item.source.clone(),
        p.request.clone(),
    );
    let staging_name = format!(".lifeboat-restore-{}", ctx.job.id);
    let workload = lifeboat_workloads::for_source(&item.source);
    let r = ctx
        .blocking(report, Some((counters, total)), move || {
            workload.restore(RestoreJob {
                vault: &vault,
                point_id: pid,
                point: &manifest,
                source: &source,
                request: &request,
                staging_name,
                progress: c,
                events: &mut |e| ev.push(e),
            })
        })
        .await;
    events.report_to(report);
    match r {
        Ok(Ok(done)) => {
            if done.skipped > 0 {
                tracing::info!(
                    job = ctx.job.id.0,
                    skipped = done.skipped,
                    "restore skipped existing data"
                );
            }
            Ending::Done
        }
        Ok(Err(e)) => Ending::Failed(fail(e)),
        Err(e) => Ending::Failed(fail(e)),
    }
}
