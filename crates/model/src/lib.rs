//! # lifeboat-model: the domain, without I/O
//!
//! Vaults, backup policies, protected items, recovery points and jobs as
//! plain types, and the pure logic around them: policy validation,
//! schedules, retention tagging and expiry, state machines. Nothing here
//! touches a disk, a clock or a network; callers pass the time in.
//!
//! JSON field names follow Azure Backup's (`schedulePolicy`,
//! `retentionPolicy`, `instantRpRetentionRangeInDays`, …) so the REST API can
//! take the same policy JSON as Azure. Each module says what it owns:
//!
//! - [`error`]: [`ModelError`] — stable code, field path, message.
//! - [`calendar`]: days, weeks, months, times of day, time zones.
//! - [`vault`]: vault names, kinds, redundancy, security settings.
//! - [`guard`]: soft delete and immutable-vault rules, alert kinds.
//! - [`mua`]: multi-user authorization: critical operations, the approval
//!   request state machine.
//! - [`policy`]: the Azure VM policy (V1/V2), validation, `DefaultPolicy`.
//! - [`schedule`]: due slots in the policy's time zone, DST-correct.
//! - [`retention`]: tags, expiry, re-tagging on policy change, holds.
//! - [`item`]: workloads, protection states, stop/resume/change-policy.
//! - [`point`]: recovery points, on-demand retain-until.
//! - [`source`]: typed sources and restore requests, one variant per workload.
//! - [`job`]: job types, statuses, sub-tasks, progress, durations.
//! - [`names`]: the wire names of states, job types and statuses, the one
//!   place they become text and back.
//!
//! With the `openapi` feature the types the REST API carries also describe
//! themselves as OpenAPI schemas (`utoipa::ToSchema`), for `lifeboat-api`.

pub mod calendar;
pub mod error;
pub mod guard;
pub mod item;
pub mod job;
pub mod mua;
pub mod names;
pub mod point;
pub mod policy;
pub mod retention;
pub mod schedule;
pub mod source;
pub mod vault;

pub use error::{ErrorCode, ModelError};
pub use policy::{Policy, ValidPolicy};
