//! What a workload is handed to back up or restore, and what it hands back.

use std::path::PathBuf;
use std::sync::Arc;

use lifeboat_codes::Code;
use lifeboat_model::source::{RestoreRequest, Source};
use lifeboat_store::backup::{BackupOptions, BackupOutcome};
use lifeboat_store::id::PointId;
use lifeboat_store::manifest::Point;
use lifeboat_store::upload::Progress;
use lifeboat_store::vault::Vault;

/// Something a running job reports besides its byte counters: a warning
/// with a stable code, which the service records on the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Warning { code: Code, message: String },
}

impl Event {
    pub(crate) fn warning(code: Code, message: impl Into<String>) -> Event {
        Event::Warning {
            code,
            message: message.into(),
        }
    }
}

/// A backup of one source into a new point.
pub struct BackupJob<'a> {
    pub vault: &'a Vault,
    pub source: &'a Source,
    /// Tags, host, parent, read limit (the store's options).
    pub options: BackupOptions,
    /// Byte counters, read by whoever shows progress.
    pub progress: Arc<Progress>,
    pub events: &'a mut dyn FnMut(Event),
}

/// A committed backup.
#[derive(Debug)]
pub struct Backed {
    pub outcome: BackupOutcome,
}

/// A restore of one point.
pub struct RestoreJob<'a> {
    pub vault: &'a Vault,
    pub point_id: PointId,
    pub point: &'a Point,
    /// The item's source (relative include paths are relative to it).
    pub source: &'a Source,
    pub request: &'a RestoreRequest,
    /// A name for staging beside the target that no other restore uses
    /// (the service passes `.lifeboat-restore-<job id>`).
    pub staging_name: String,
    pub progress: Arc<Progress>,
    pub events: &'a mut dyn FnMut(Event),
}

/// What a restore wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restored {
    pub files: u64,
    pub bytes: u64,
    /// Entries left as they were (conflict `skip`).
    pub skipped: u64,
    /// Where the data went.
    pub written: Vec<PathBuf>,
}
