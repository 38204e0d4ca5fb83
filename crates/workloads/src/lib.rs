//! # lifeboat-workloads: what each kind of protected item does
//!
//! This crate owns the workload seam (docs/workloads.md). A workload is one
//! kind of thing Lifeboat protects: a folder tree ([`files`]), a disk image
//! ([`disk`]); virtual machines and databases come next, each as one more
//! module here. Every workload implements [`Workload`]:
//!
//! - check a source ([`Workload::check_source`]), before an item is made;
//! - check a restore request against the item's source
//!   ([`Workload::check_restore`]), before a restore is queued;
//! - back up into the store's point writer, given the parent point
//!   ([`Workload::backup`]);
//! - restore one of its points, with progress counters and events
//!   ([`Workload::restore`]).
//!
//! [`registry`] lists them and [`for_kind`] picks the one for a source.
//!
//! The crate depends on the store, the NBD client and the model only: no
//! catalog, no HTTP, no server state, so the same code runs in the vault
//! service and, later, in an agent on another machine. Callers hand it
//! typed values (`lifeboat_model::source::{Source, RestoreRequest}`); no
//! workload name is compared as a string anywhere.

pub mod disk;
pub mod error;
pub mod files;
pub mod job;
mod path_check;

pub use error::{Result, WorkloadError};
pub use job::{Backed, BackupJob, Event, RestoreJob, Restored};

use lifeboat_model::item::WorkloadKind;
use lifeboat_model::point::Consistency;
use lifeboat_model::source::{RestoreRequest, Source};

/// One kind of protected item. Implementations are stateless; each lives
/// in its own module and is listed once in [`registry`].
pub trait Workload: Send + Sync {
    /// The workload's kind (its name on the wire and in the catalog).
    fn kind(&self) -> WorkloadKind;

    /// The consistency its points have when the backup succeeds.
    fn consistency(&self) -> Consistency;

    /// Checks that `source` can be protected here and returns it in its
    /// normal form (no trailing slash, …). Refusals carry a stable code and
    /// the field at fault.
    fn check_source(&self, source: &Source) -> Result<Source>;

    /// Checks a restore of one of the item's points before it is queued.
    fn check_restore(&self, source: &Source, request: &RestoreRequest) -> Result<()>;

    /// Fails with `SOURCE_UNAVAILABLE` when the source cannot be read now
    /// (the service checks it before it opens the vault; [`Workload::backup`]
    /// checks it too, for callers that do not).
    fn check_available(&self, source: &Source) -> Result<()> {
        path_check::available(source.path())
    }

    /// Backs `job.source` up into a new point; `job.options.parent` is the
    /// point to compare against (the item's latest), if any.
    fn backup(&self, job: BackupJob<'_>) -> Result<Backed>;

    /// Restores `job.point` as `job.request` asks.
    fn restore(&self, job: RestoreJob<'_>) -> Result<Restored>;
}

/// Every workload, in the order of [`WorkloadKind::ALL`].
pub fn registry() -> [&'static dyn Workload; 2] {
    [&files::Files, &disk::Disk]
}

/// The workload of `kind`.
pub fn for_kind(kind: WorkloadKind) -> &'static dyn Workload {
    match kind {
        WorkloadKind::Path => &files::Files,
        WorkloadKind::Disk => &disk::Disk,
    }
}

/// The workload that protects `source`.
pub fn for_source(source: &Source) -> &'static dyn Workload {
    for_kind(source.kind())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_has_one_workload_per_kind_in_order() {
        let kinds: Vec<_> = registry().iter().map(|w| w.kind()).collect();
        assert_eq!(kinds, WorkloadKind::ALL.to_vec());
        for k in WorkloadKind::ALL {
            assert_eq!(for_kind(k).kind(), k);
        }
    }
}
