//! # lifeboat-service: the engine room of `lifeboat server`
//!
//! This crate owns what happens *behind* the API: the scheduler that turns
//! policies into queued backups, the job runner that claims queued jobs and
//! runs them against the vault stores, the executors of each job type, the
//! vault storage layout on disk, and the domain operations the API calls
//! (on-demand backup, restore, stop/resume/change policy with re-tagging,
//! delete data, cancel). It owns no HTTP and no SQL: the catalog
//! (`lifeboat-catalog`) keeps the rows, the model (`lifeboat-model`) decides
//! what is allowed, the store (`lifeboat-store`) keeps the data.
//!
//! ## Interface (what `crates/server` calls)
//!
//! - [`Service::start`]`(catalog, `[`ServiceConfig`]`, Arc<dyn `[`Clock`]`>)
//!   -> `[`ServiceHandle`]: starts the scheduler and the runners on the
//!   current Tokio runtime. [`ServiceHandle::wake`] after queueing a job (it
//!   is claimed at once instead of on the next tick),
//!   [`ServiceHandle::stats`] for `/metrics`, [`ServiceHandle::shutdown`]
//!   on SIGTERM, [`ServiceHandle::storage`] for the [`VaultStorage`].
//! - [`Clock`]: [`SystemClock`], [`ManualClock`] (in-process tests),
//!   [`FileClock`] (`lifeboat server --clock-file PATH`).
//! - [`VaultStorage`]: `create` / `open` / `remove` a vault's store in
//!   `<data>/vaults/<vault id>/` with its key in
//!   `<data>/secrets/vault-<vault id>.key`, wrapped by a key-encryption key
//!   ([`kek`]: platform, customer key file or external command; configured
//!   by [`ServiceConfig::keys`], re-wrapped at start) (blocking; `*_async`
//!   wrappers).
//! - [`ops`]: one async fn per API action, each taking `&Catalog` and
//!   `&dyn Clock` (and the item or vault row the API already looked up),
//!   returning [`ServiceError`] with a stable [`ServiceError::code`]:
//!   [`ops::resolve_policy`], [`ops::next_run`], [`ops::reschedule_item`],
//!   [`ops::retag_item_points`], [`ops::policy_replaced`],
//!   [`ops::change_item_policy`], [`ops::stop_protection`],
//!   [`ops::resume_protection`], [`ops::enqueue_backup_now`],
//!   [`ops::enqueue_restore`], [`ops::enqueue_delete_data`],
//!   [`ops::enqueue_sweep`], [`ops::cancel_job`], [`ops::delete_vault`].
//! - [`protect`]: soft delete and immutable vaults (settings, undelete of
//!   items and vaults, the store's immutability holds, alerts); the guards
//!   themselves run inside the `ops` above.
//! - Job rows as the runner writes them (the API shows them as they are):
//!   `progress` = `{bytesDone, bytesTotal, filesDone, filesTotal, percent,
//!   etaSeconds}`; `tasks` = `[{taskId, status, startTime, endTime}]`
//!   (`lifeboat_model::job::JobTask`); `warnings` / `errors` =
//!   `[{errorCode, errorString}]` (`JobErrorDetail`). Job types are the
//!   model's names: `Backup`, `Restore`, `DeleteBackupData`, `ExpirySweep`,
//!   `GarbageCollection`; `params` per type as docs/service.md says.
//!
//! ## Design notes
//!
//! - **Exactly once.** The scheduler plans each Protected item forward from
//!   a persisted watermark, `items.next_run` (the instant of the next slot
//!   not yet queued), never from "now minus something": a due item gets its
//!   latest due slot queued with the slot's key, then its watermark moves to
//!   the first slot after now with a compare-and-set. The catalog's unique
//!   (item, slot key) makes a slot one job however many servers plan it;
//!   restarts and clock jumps neither skip nor repeat a slot. Slots missed
//!   while no server ran collapse into the latest one, which runs once,
//!   late, with warnings ([`plan`]).
//! - **Leases.** A runner holds each job under a lease in the catalog,
//!   renewed every quarter lease (clock time or real time, whichever comes
//!   first); a job whose lease lapsed is taken over by any server: backups
//!   fail with `SERVER_LOST` and are queued again once, deletions are queued
//!   again, the rest fail. A server also takes over at once the jobs of an
//!   earlier process on its own host that no longer exists (restart after
//!   SIGKILL).
//! - **Truth.** A point row is written only after the store committed the
//!   point; the point's store tags name its item, origin and time, so the
//!   expiry sweep adopts store points that have no row (a job killed between
//!   commit and insert). Rows are deleted only after the store deleted the
//!   manifest; GC collects the data later.
//! - **Bounded concurrency.** Each process runs at most
//!   `max_concurrent_jobs` jobs; the rest wait in the queue (a scheduled
//!   job is queued at its slot's time, so queue age is lateness). With 0 a
//!   process only plans.
//! - **Blocking work** (store calls, KDF) runs on `spawn_blocking`; async
//!   tasks only wait, report progress every second and renew leases. A
//!   blocking store call cannot be interrupted, so cancel and shutdown act
//!   at safe points: before a transfer starts, and after it ends (a
//!   cancelled backup's point is then forgotten again).
//! - **Time** comes only from the [`Clock`]; loops tick in real time (at
//!   most every second) and compare with `clock.now()`.

pub mod clock;
pub mod error;
mod executors;
pub mod kek;
pub mod mua;
pub mod ops;
pub mod params;
pub mod plan;
pub mod protect;
mod report;
mod retention;
mod runner;
mod scheduler;
mod secret_file;
pub mod storage;

pub use clock::{Clock, FileClock, ManualClock, SystemClock};
pub use error::{Result, ServiceError};
pub use kek::{KekProvider, KeyConfig};
pub use params::{BackupParams, RestoreParams, RestoreRequest};
pub use runner::{Service, ServiceConfig, ServiceHandle, ServiceStats};
pub use storage::VaultStorage;
