//! The flags every restore command shares: what to do with a file that is
//! already where a restored one goes.

use clap::Args;
use lifeboat_model::source::Conflict;

#[derive(Args, Debug, Clone, Copy)]
pub struct ConflictFlags {
    /// Replace what is in the way.
    #[arg(long, conflicts_with = "skip_existing")]
    pub overwrite: bool,
    /// Leave what exists alone and restore the rest.
    #[arg(long)]
    pub skip_existing: bool,
}

impl ConflictFlags {
    /// The rule chosen; without either flag a file in the way stops the
    /// restore.
    pub fn conflict(self) -> Conflict {
        if self.overwrite {
            Conflict::Overwrite
        } else if self.skip_existing {
            Conflict::Skip
        } else {
            Conflict::Fail
        }
    }
}
