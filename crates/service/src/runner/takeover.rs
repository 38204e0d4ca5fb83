//! Jobs that nobody runs any more: those still running when a shutdown's
//! grace ran out, those of an earlier process on this host that died, and
//! those whose lease lapsed because their server stopped. Each is ended,
//! or queued again, so that no job stays `InProgress` forever.

use lifeboat_model::job::close_open_tasks;

use super::*;

/// A job still running when the shutdown grace ran out.
pub(super) async fn give_up(shared: &Shared, id: JobId) {
    let cat = &shared.catalog;
    let owner = &shared.cfg.worker_id;
    let Ok(job) = cat.get_job(id).await else {
        return;
    };
    let detail = Detail::new(
        codes::SERVER_SHUTDOWN,
        format!("server {owner} shut down while the job ran"),
    );
    let requeue = job.job_type != JobType::Restore && !job.cancel_requested;
    if requeue
        && cat
            .requeue_job(id, owner, Some(&warnings_with(&job, &detail)))
            .await
            .is_ok()
    {
        return;
    }
    let _ = finish_lost(
        shared,
        &job,
        if job.cancel_requested {
            None
        } else {
            Some(detail)
        },
    )
    .await;
}

fn warnings_with(job: &Job, d: &Detail) -> Value {
    let mut w = match &job.warnings {
        Value::Array(a) => a.clone(),
        _ => Vec::new(),
    };
    w.push(json!({"errorCode": d.code, "errorString": d.message}));
    Value::Array(w)
}

/// Ends a job held by this worker that nobody runs any more: `Failed`
/// with `detail`, or `Cancelled` without one. Open sub-tasks are closed.
async fn finish_lost(shared: &Shared, job: &Job, detail: Option<Detail>) -> Result<()> {
    let now = shared.now();
    let mut tasks: Vec<JobTask> = serde_json::from_value(job.tasks.clone()).unwrap_or_default();
    let closing = if detail.is_some() {
        TaskStatus::Failed
    } else {
        TaskStatus::Cancelled
    };
    close_open_tasks(&mut tasks, closing, now);
    let (state, errors) = match &detail {
        Some(d) => (
            JobStatus::Failed,
            json!([{"errorCode": d.code, "errorString": d.message}]),
        ),
        None => (JobStatus::Cancelled, json!([])),
    };
    shared
        .catalog
        .finish_job(
            job.id,
            &shared.cfg.worker_id,
            &JobOutcome {
                state,
                end_time: now,
                progress: None,
                tasks: Some(serde_json::to_value(&tasks).unwrap_or(json!([]))),
                warnings: job.warnings.clone(),
                errors,
            },
        )
        .await?;
    Ok(())
}

/// A job taken over from a server that died: backups fail with
/// `SERVER_LOST` and are queued again once, deletions go back to the
/// queue (they must finish), a job being cancelled ends cancelled, and
/// anything else fails.
async fn handle_taken_over(shared: &Shared, r: &ReclaimedJob) {
    let job = &r.job;
    let owner = &shared.cfg.worker_id;
    shared
        .counters
        .jobs_taken_over
        .fetch_add(1, Ordering::Relaxed);
    let prev = r.previous_owner.as_deref().unwrap_or("unknown");
    let detail = Detail::new(
        codes::SERVER_LOST,
        format!("server {prev} stopped while running the job; {owner} took it over"),
    );
    tracing::warn!(job = job.id.0, kind = %job.job_type, from = prev, "took over a job of a lost server");
    let result: Result<()> = async {
        if job.cancel_requested {
            return finish_lost(shared, job, None).await;
        }
        if job.job_type == JobType::DeleteBackupData {
            shared
                .catalog
                .requeue_job(job.id, owner, Some(&warnings_with(job, &detail)))
                .await?;
            return Ok(());
        }
        finish_lost(shared, job, Some(detail.clone())).await?;
        if job.job_type == JobType::Backup {
            let mut p: BackupParams =
                serde_json::from_value(job.params.clone()).unwrap_or_default();
            if p.retry_of.is_none() {
                if p.slot.is_none() {
                    p.slot = job.slot_key.clone().filter(|_| !p.on_demand);
                }
                p.retry_of = Some(job.id.0);
                shared
                    .catalog
                    .enqueue(&NewJob {
                        vault_id: job.vault_id,
                        item_id: job.item_id,
                        job_type: JobType::Backup,
                        slot_key: None,
                        params: serde_json::to_value(&p).unwrap_or(json!({})),
                        queued_at: shared.now(),
                    })
                    .await?;
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::error!(job = job.id.0, error = %e, "could not settle a taken-over job");
    }
}

/// Jobs of earlier processes on this host that no longer exist.
pub(super) async fn take_over_dead_local_owners(shared: &Arc<Shared>) -> Result<()> {
    let me = &shared.cfg.worker_id;
    let host = lifeboat_store::util::hostname();
    let pid = std::process::id();
    for owner in shared.catalog.held_job_owners().await? {
        if &owner == me || !is_dead_local(&owner, &host, pid) {
            continue;
        }
        let jobs = shared
            .catalog
            .reclaim_from(&owner, me, shared.cfg.lease_secs(), shared.now())
            .await?;
        for r in &jobs {
            handle_taken_over(shared, r).await;
        }
    }
    Ok(())
}

/// Whether `owner` (`host:pid:random`) names a process of this host,
/// other than this one, that no longer runs.
pub(super) fn is_dead_local(owner: &str, host: &str, my_pid: u32) -> bool {
    let mut parts = owner.rsplitn(3, ':');
    let (Some(_rand), Some(pid), Some(h)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    h == host && pid != my_pid && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Takes over the jobs whose lease lapsed, fifty at a time.
pub(super) async fn reclaim(shared: &Shared) -> Result<()> {
    loop {
        let jobs = shared
            .catalog
            .reclaim_expired(
                &shared.cfg.worker_id,
                shared.cfg.lease_secs(),
                shared.now(),
                50,
            )
            .await?;
        let n = jobs.len();
        for r in &jobs {
            // One of ours whose lease looked lapsed (the clock jumped):
            // reclaiming renewed it; keep running it.
            if shared.running().contains_key(&r.job.id) {
                continue;
            }
            handle_taken_over(shared, r).await;
        }
        if n < 50 {
            return Ok(());
        }
    }
}
