//! Job executors: one module per job type. Each takes the job's context
//! and its report, does the work (store calls on the blocking pool, with
//! progress pushed to the catalog every second) and says how the job
//! ended; the runner writes the end.

pub(crate) mod backup;
pub(crate) mod delete;
pub(crate) mod gc;
mod points;
pub(crate) mod restore;
pub(crate) mod sweep;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lifeboat_catalog::{Catalog, CatalogError, Item, Job, JobFilter, NewJob, Page, VaultId};
use lifeboat_model::job::{JobStatus, JobType, Progress};
use lifeboat_store::Vault;
use lifeboat_store::id::PointId as StorePointId;
use lifeboat_store::upload::Progress as StoreProgress;
use lifeboat_workloads::Event;

use crate::error::{Result, ServiceError, codes};
use crate::params;
use crate::report::{Detail, Ending, Report};
use crate::runner::Shared;
use crate::storage::VaultStorage;

/// What an executor works with.
pub(crate) struct JobCtx {
    pub shared: Arc<Shared>,
    pub job: Job,
    /// Someone asked to cancel the job (seen at lease renewal).
    pub cancel: Arc<AtomicBool>,
    /// Another server holds the job now: write nothing more.
    pub lost: Arc<AtomicBool>,
}

impl JobCtx {
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.now()
    }

    pub fn catalog(&self) -> &Catalog {
        &self.shared.catalog
    }

    pub fn storage(&self) -> &VaultStorage {
        &self.shared.storage
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    /// Reads the job's cancel flag from the catalog now (renewals see it
    /// only every quarter lease): at safe points and with each progress
    /// report, so a cancel takes effect within a second.
    pub async fn refresh_cancel(&self) -> bool {
        if !self.is_cancelled()
            && let Ok(j) = self.catalog().get_job(self.job.id).await
            && j.cancel_requested
        {
            self.cancel.store(true, Ordering::SeqCst);
        }
        self.is_cancelled()
    }

    /// The item the job is for: `ITEM_NOT_FOUND` when the job names none
    /// (the job type always does) or the catalog cannot give it.
    pub async fn item(&self) -> std::result::Result<Item, Detail> {
        let Some(item_id) = self.job.item_id else {
            return Err(Detail::new(
                codes::ITEM_NOT_FOUND,
                format!("the {} job names no item", self.job.job_type),
            ));
        };
        self.catalog().get_item_by_id(item_id).await.map_err(fail)
    }

    /// Whether the job's work may begin: `Some(Cancelled)` when a cancel
    /// was asked, `Some(Requeue)` when the server is shutting down (the job
    /// runs again elsewhere or later), `None` to go on. `work` names the
    /// work in the requeue reason, e.g. "the backup".
    pub async fn held_back(&self, work: &str) -> Option<Ending> {
        if self.refresh_cancel().await {
            return Some(Ending::Cancelled);
        }
        if self.is_stopping() {
            return Some(Ending::Requeue(Detail::new(
                codes::SERVER_SHUTDOWN,
                format!("the server shut down before {work} started; it runs again"),
            )));
        }
        None
    }

    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    pub fn is_stopping(&self) -> bool {
        self.shared.is_stopping()
    }

    /// Writes the report's progress and sub-tasks to the job row.
    pub async fn push(&self, report: &Report) -> Result<()> {
        if self.is_lost() {
            return Ok(());
        }
        let now = self.now();
        match self
            .catalog()
            .update_progress(
                self.job.id,
                &self.shared.cfg.worker_id,
                &report.progress_json(now),
                Some(&report.tasks_json()),
            )
            .await
        {
            Ok(()) => Ok(()),
            Err(CatalogError::LeaseLost { .. }) => {
                self.lost.store(true, Ordering::SeqCst);
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Runs blocking work on the blocking pool; meanwhile copies the store's
    /// counters into the report every second and pushes it.
    pub async fn blocking<T: Send + 'static>(
        &self,
        report: &mut Report,
        counters: Option<(Arc<StoreProgress>, Option<u64>)>,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let mut handle = tokio::task::spawn_blocking(f);
        let mut every = tokio::time::interval(Duration::from_secs(1));
        every.tick().await;
        loop {
            tokio::select! {
                r = &mut handle => {
                    if let Some((c, total)) = &counters {
                        report.set_progress(snapshot(c, *total));
                    }
                    return Ok(r?);
                }
                _ = every.tick() => {
                    if let Some((c, total)) = &counters {
                        report.set_progress(snapshot(c, *total));
                        if let Err(e) = self.push(report).await {
                            tracing::warn!(job = self.job.id.0, error = %e, "could not report progress");
                        }
                    }
                    self.refresh_cancel().await;
                }
            }
        }
    }

    /// The job's vault store, opened on the blocking pool.
    pub async fn open_vault(&self, id: VaultId) -> Result<Arc<Vault>> {
        self.storage().open_async(id).await
    }

    /// Queues a GC of the vault unless one is already waiting.
    pub async fn enqueue_gc(&self, vault_id: VaultId) -> Result<()> {
        let waiting = self
            .catalog()
            .list_jobs(
                &JobFilter {
                    vault_id: Some(vault_id),
                    job_type: Some(JobType::GarbageCollection),
                    state: Some(JobStatus::Queued),
                    ..JobFilter::default()
                },
                &Page::first(1),
            )
            .await?;
        if waiting.items.is_empty() {
            self.catalog()
                .enqueue(&NewJob {
                    vault_id,
                    item_id: None,
                    job_type: JobType::GarbageCollection,
                    slot_key: None,
                    params: params::empty(),
                    queued_at: self.now(),
                })
                .await?;
            self.shared.wake.notify_one();
        }
        Ok(())
    }
}

/// The store's counters as the model's progress. A backup's byte total is
/// used once the walk has finished (before that it only grows).
fn snapshot(c: &StoreProgress, fixed_total: Option<u64>) -> Progress {
    let known = c.total_known.load(Ordering::Relaxed);
    let total = fixed_total.or_else(|| known.then(|| c.bytes_total.load(Ordering::Relaxed)));
    Progress {
        bytes_done: c.bytes_read.load(Ordering::Relaxed),
        bytes_total: total,
        files_done: c.files_done.load(Ordering::Relaxed),
        files_total: None,
    }
}

/// The name a job's report is about: its item, else its vault.
pub(crate) async fn entity_name(ctx: &JobCtx) -> String {
    if let Some(id) = ctx.job.item_id
        && let Ok(item) = ctx.catalog().get_item_by_id(id).await
    {
        return item.name;
    }
    match ctx.catalog().get_vault_by_id(ctx.job.vault_id).await {
        Ok(v) => v.name,
        Err(_) => format!("vault {}", ctx.job.vault_id),
    }
}

/// Deletes a point's manifest from the store (its data stays until GC)
/// through the engine's guarded path: a locked immutable vault refuses a
/// point it still holds (`IMMUTABLE_POINT_HELD`). A point already gone is
/// fine.
pub(crate) fn forget_point(vault: &Vault, store_id: &str) -> Result<()> {
    let id = StorePointId::from_hex(store_id)?;
    lifeboat_store::immutable::forget_point(vault, &id)?;
    Ok(())
}

/// Whether a store refusal is a locked vault's hold (skip the point, it
/// goes once its hold expires) rather than a failure.
pub(crate) fn is_held(e: &ServiceError) -> bool {
    matches!(
        e,
        ServiceError::Store(lifeboat_store::Error::PointHeld { .. })
    )
}

/// What a workload reports from its blocking thread while it runs, kept
/// until the job's report takes it.
#[derive(Clone, Default)]
pub(crate) struct Events(Arc<Mutex<Vec<Event>>>);

impl Events {
    pub(crate) fn push(&self, e: Event) {
        if let Ok(mut v) = self.0.lock() {
            v.push(e);
        }
    }

    /// Moves every event into the report, as warnings with their codes.
    pub(crate) fn report_to(&self, report: &mut Report) {
        let taken = self.0.lock().map(|mut v| std::mem::take(&mut *v));
        for Event::Warning { code, message } in taken.unwrap_or_default() {
            report.warn(Detail::new(code, message));
        }
    }
}

/// A failure as a job error.
pub(crate) fn fail(e: impl Into<ServiceError>) -> Detail {
    let e = e.into();
    Detail::from(&e)
}
