//! The service: its configuration, its handle, and the runner loop that
//! claims queued jobs, renews their leases and runs each job's executor
//! in a task of its own. Jobs nobody runs any more are settled in
//! `takeover`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat_catalog::{Catalog, Job, JobId, JobOutcome, NewJob, ReclaimedJob};
use lifeboat_model::job::{JobStatus, JobTask, JobType, TaskStatus};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::error::{Result, codes};
use crate::executors::{self, JobCtx};
use crate::params::BackupParams;
use crate::report::{Detail, Ending, Report};
use crate::scheduler;
use crate::storage::VaultStorage;
use takeover::{give_up, reclaim, take_over_dead_local_owners};

/// How a service runs.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Vault stores and their keys live here (`--data`).
    pub data_dir: PathBuf,
    /// This process's name as a job owner: unique per process.
    pub worker_id: String,
    /// At most this many jobs run at once in this process; 0 makes a
    /// server that only plans (its scheduler queues, others run).
    pub max_concurrent_jobs: usize,
    /// A job's lease in the catalog; renewed every quarter of it.
    pub lease: Duration,
    /// How often (real time) the loops look at the clock and the queue.
    pub tick: Duration,
    /// Key-encryption keys of the vault secrets (default: platform).
    pub keys: crate::kek::KeyConfig,
    /// Each backup job reads its source at most this many bytes per
    /// second (`None`: as fast as it can).
    pub backup_read_limit: Option<u64>,
}

impl ServiceConfig {
    /// Defaults: a fresh worker id, one job per core, a 60 s lease, a 1 s
    /// tick.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        ServiceConfig {
            data_dir: data_dir.into(),
            worker_id: Self::default_worker_id(),
            max_concurrent_jobs: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            lease: Duration::from_secs(60),
            tick: Duration::from_secs(1),
            keys: crate::kek::KeyConfig::default(),
            backup_read_limit: None,
        }
    }

    /// `host:pid:random`: the host and process let a restarted server
    /// recognise the jobs of its dead predecessor on the same machine.
    pub fn default_worker_id() -> String {
        let mut r = [0u8; 4];
        let _ = getrandom::fill(&mut r);
        format!(
            "{}:{}:{}",
            lifeboat_store::util::hostname(),
            std::process::id(),
            hex::encode(r)
        )
    }

    fn lease_secs(&self) -> i64 {
        i64::try_from(self.lease.as_secs()).unwrap_or(60).max(1)
    }
}

/// What `/metrics` and `/healthz` show about this process's service.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStats {
    pub worker_id: String,
    /// Jobs this process runs now.
    pub running_jobs: usize,
    pub max_concurrent_jobs: usize,
    /// How far behind the scheduler was at its last tick: now minus the
    /// oldest due run it found (0 when it was up to date).
    pub scheduler_lag_seconds: f64,
    /// Clock time of the scheduler's last completed tick.
    pub last_tick: Option<DateTime<Utc>>,
    /// Scheduler ticks completed since start.
    pub scheduler_ticks: u64,
    /// Scheduled slots this process queued (others may have queued some).
    pub slots_queued: u64,
    pub jobs_started: u64,
    pub jobs_finished: u64,
    /// Jobs of lost servers this process took over.
    pub jobs_taken_over: u64,
}

pub(crate) struct Running {
    cancel: Arc<AtomicBool>,
    lost: Arc<AtomicBool>,
    task: tokio::task::AbortHandle,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub slots_queued: AtomicU64,
    pub jobs_started: AtomicU64,
    pub jobs_finished: AtomicU64,
    pub jobs_taken_over: AtomicU64,
}

#[derive(Default)]
pub(crate) struct SchedulerState {
    pub lag_seconds: f64,
    pub last_tick: Option<DateTime<Utc>>,
    pub ticks: u64,
}

/// What the loops and job tasks share.
pub(crate) struct Shared {
    pub catalog: Catalog,
    pub clock: Arc<dyn Clock>,
    pub storage: VaultStorage,
    pub cfg: ServiceConfig,
    /// New work: a job was queued, a job ended, or shutdown began.
    pub wake: Notify,
    /// Set once shutdown began: claim nothing more, stop at safe points.
    pub stopping: AtomicBool,
    pub running: Mutex<HashMap<JobId, Running>>,
    pub counters: Counters,
    pub sched: Mutex<SchedulerState>,
}

impl Shared {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, Running>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The service, started on the current Tokio runtime.
pub struct Service;

impl Service {
    /// Starts the scheduler and the runner. First takes over the jobs of
    /// dead predecessors on this host (a restart after SIGKILL), so they
    /// end or run again at once rather than after their lease.
    pub async fn start(
        catalog: Catalog,
        cfg: ServiceConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<ServiceHandle> {
        let storage = VaultStorage::with_keys(cfg.data_dir.clone(), cfg.keys.clone());
        // The platform key on first start; vault secrets not under the
        // current provider (old plain files, a rotation) re-wrapped.
        let s2 = storage.clone();
        let (rewrapped, unavailable) =
            tokio::task::spawn_blocking(move || s2.rewrap_all()).await??;
        if rewrapped > 0 {
            tracing::info!(rewrapped, provider = %cfg.keys.current, "vault secrets re-wrapped");
        }
        for (vault, e) in &unavailable {
            tracing::warn!(vault = %vault, code = %e.code(), "vault key not re-wrapped: {e}");
        }
        let shared = Arc::new(Shared {
            catalog,
            clock,
            storage,
            cfg,
            wake: Notify::new(),
            stopping: AtomicBool::new(false),
            running: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            sched: Mutex::new(SchedulerState::default()),
        });
        take_over_dead_local_owners(&shared).await?;
        tracing::info!(worker = %shared.cfg.worker_id, "job service started");
        let runner = tokio::spawn(runner_loop(shared.clone()));
        let sched = tokio::spawn(scheduler::run(shared.clone()));
        Ok(ServiceHandle {
            shared,
            loops: Arc::new(Mutex::new(vec![runner, sched])),
        })
    }
}

/// A started service. Cheap to clone.
#[derive(Clone)]
pub struct ServiceHandle {
    shared: Arc<Shared>,
    loops: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl ServiceHandle {
    /// A job was queued: claim it now rather than on the next tick.
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    pub fn stats(&self) -> ServiceStats {
        let c = &self.shared.counters;
        let s = self.shared.sched.lock().unwrap_or_else(|p| p.into_inner());
        ServiceStats {
            worker_id: self.shared.cfg.worker_id.clone(),
            running_jobs: self.shared.running().len(),
            max_concurrent_jobs: self.shared.cfg.max_concurrent_jobs,
            scheduler_lag_seconds: s.lag_seconds,
            last_tick: s.last_tick,
            scheduler_ticks: s.ticks,
            slots_queued: c.slots_queued.load(Ordering::Relaxed),
            jobs_started: c.jobs_started.load(Ordering::Relaxed),
            jobs_finished: c.jobs_finished.load(Ordering::Relaxed),
            jobs_taken_over: c.jobs_taken_over.load(Ordering::Relaxed),
        }
    }

    /// The vault stores this service uses.
    pub fn storage(&self) -> &VaultStorage {
        &self.shared.storage
    }

    pub fn worker_id(&self) -> &str {
        &self.shared.cfg.worker_id
    }

    /// Stops the service: nothing more is claimed or planned, running jobs
    /// are told to stop at their next safe point (a backup that has not
    /// started its transfer goes back to the queue; others finish), and
    /// are waited for up to `grace`. Jobs still running then are given up
    /// here: put back in the queue (backups, deletions, sweeps, GC) or
    /// failed (restores), and their leases released.
    pub async fn shutdown(&self, grace: Duration) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.wake.notify_waiters();
        let deadline = Instant::now() + grace;
        while !self.shared.running().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let left: Vec<(JobId, tokio::task::AbortHandle)> = self
            .shared
            .running()
            .iter()
            .map(|(id, r)| (*id, r.task.clone()))
            .collect();
        for (id, task) in left {
            task.abort();
            give_up(&self.shared, id).await;
        }
        self.stop_loops();
        tracing::info!(worker = %self.shared.cfg.worker_id, "job service stopped");
    }

    /// Stops every task of this service at once without writing anything:
    /// what a crash does (the jobs it held keep their leases until they
    /// lapse and another server takes them over). For tests of exactly
    /// that.
    pub fn abort(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.stop_loops();
        for r in self.shared.running().values() {
            r.lost.store(true, Ordering::SeqCst);
            r.task.abort();
        }
    }

    fn stop_loops(&self) {
        for l in self
            .loops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            l.abort();
        }
    }
}

// ------------------------------------------------------------ the loop

async fn runner_loop(shared: Arc<Shared>) {
    let mut last_renew_real = Instant::now();
    let mut last_renew_clock = shared.now();
    // Runs until the handle stops it; while shutting down it only renews
    // the leases of the jobs that are finishing.
    loop {
        let quarter = shared.cfg.lease / 4;
        let now = shared.now();
        let clock_due = now - last_renew_clock
            >= TimeDelta::from_std(quarter).unwrap_or(TimeDelta::seconds(15))
            || now < last_renew_clock;
        if clock_due || last_renew_real.elapsed() >= quarter {
            if let Err(e) = renew(&shared).await {
                tracing::warn!(error = %e, "renewing job leases failed");
            }
            last_renew_real = Instant::now();
            last_renew_clock = now;
        }
        if !shared.is_stopping() {
            if let Err(e) = reclaim(&shared).await {
                tracing::warn!(error = %e, "taking over lapsed jobs failed");
            }
            if let Err(e) = claim(&shared).await {
                tracing::warn!(error = %e, "claiming jobs failed");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(shared.cfg.tick) => {}
            _ = shared.wake.notified() => {}
        }
    }
}

async fn renew(shared: &Shared) -> Result<()> {
    let ids: Vec<JobId> = shared.running().keys().copied().collect();
    if ids.is_empty() {
        return Ok(());
    }
    let renewed = shared
        .catalog
        .renew(
            &shared.cfg.worker_id,
            &ids,
            shared.cfg.lease_secs(),
            shared.now(),
        )
        .await?;
    let held: HashMap<JobId, bool> = renewed.iter().map(|r| (r.id, r.cancel_requested)).collect();
    for (id, r) in shared.running().iter() {
        match held.get(id) {
            Some(true) => r.cancel.store(true, Ordering::SeqCst),
            Some(false) => {}
            None => r.lost.store(true, Ordering::SeqCst),
        }
    }
    Ok(())
}

async fn claim(shared: &Arc<Shared>) -> Result<()> {
    while !shared.is_stopping() && shared.running().len() < shared.cfg.max_concurrent_jobs {
        let Some(job) = shared
            .catalog
            .claim_next(&shared.cfg.worker_id, shared.cfg.lease_secs(), shared.now())
            .await?
        else {
            return Ok(());
        };
        spawn_job(shared, job);
    }
    Ok(())
}

fn spawn_job(shared: &Arc<Shared>, job: Job) {
    shared.counters.jobs_started.fetch_add(1, Ordering::Relaxed);
    let cancel = Arc::new(AtomicBool::new(job.cancel_requested));
    let lost = Arc::new(AtomicBool::new(false));
    let id = job.id;
    let ctx = JobCtx {
        shared: shared.clone(),
        job,
        cancel: cancel.clone(),
        lost: lost.clone(),
    };
    let sh = shared.clone();
    // Insert before the task can finish and remove itself.
    let mut running = shared.running();
    let handle = tokio::spawn(async move {
        run_job(ctx).await;
        sh.running().remove(&id);
        sh.counters.jobs_finished.fetch_add(1, Ordering::Relaxed);
        sh.wake.notify_one();
    });
    running.insert(
        id,
        Running {
            cancel,
            lost,
            task: handle.abort_handle(),
        },
    );
}

async fn run_job(ctx: JobCtx) {
    let job = ctx.job.clone();
    let now = ctx.now();
    // The catalog hands out only job types this binary knows.
    let kind = job.job_type;
    let entity = executors::entity_name(&ctx).await;
    let mut report = Report::started(&job, kind, &entity, job.start_time.unwrap_or(now));
    let _ = ctx.push(&report).await;
    let ending = match kind {
        JobType::Backup => executors::backup::run(&ctx, &mut report).await,
        JobType::Restore => executors::restore::run(&ctx, &mut report).await,
        JobType::DeleteBackupData => executors::delete::run(&ctx, &mut report).await,
        JobType::ExpirySweep => executors::sweep::run(&ctx, &mut report).await,
        JobType::GarbageCollection => executors::gc::run(&ctx, &mut report).await,
    };
    if ctx.is_lost() {
        tracing::warn!(
            job = job.id.0,
            "lost the job's lease; another server settles it"
        );
        return;
    }
    let now = ctx.now();
    if let Ending::Requeue(d) = &ending {
        let w = report.warnings_with(d);
        match ctx
            .shared
            .catalog
            .requeue_job(job.id, &ctx.shared.cfg.worker_id, Some(&w))
            .await
        {
            Ok(_) => return,
            Err(e) => tracing::warn!(job = job.id.0, error = %e, "could not re-queue the job"),
        }
    }
    let ending = match ending {
        Ending::Requeue(d) => Ending::Failed(d),
        e => e,
    };
    let state = report.close(ending, now);
    let out = JobOutcome {
        state,
        end_time: now,
        progress: Some(report.progress_json(now)),
        tasks: Some(report.tasks_json()),
        warnings: report.warnings_json(),
        errors: report.errors_json(),
    };
    match ctx
        .shared
        .catalog
        .finish_job(job.id, &ctx.shared.cfg.worker_id, &out)
        .await
    {
        Ok(_) => tracing::info!(job = job.id.0, kind = %job.job_type, state = %state, "job ended"),
        Err(e) => tracing::warn!(job = job.id.0, error = %e, "could not record the job's end"),
    }
}

mod takeover;

#[cfg(test)]
mod tests;
