//! `lifeboat backup deleted-vault list|show|undelete`: vaults soft-deleted
//! because they held only soft-deleted items (docs/security.md).

use clap::{Args, Subcommand};

use super::error::{Result, exit};
use super::output::TableView;
use super::{Ctx, TopArg};

pub const VIEW: TableView = &[
    ("Name", "name"),
    ("Kind", "kind"),
    ("ProtectedItems", "usage.protectedItems"),
    ("RecoveryPoints", "usage.recoveryPoints"),
    ("DeletedTime", "deletedTime"),
    ("PurgeTime", "purgeTime"),
];

#[derive(Args)]
pub struct DeletedVaultArgs {
    #[command(subcommand)]
    cmd: DeletedVaultCmd,
}

#[derive(Subcommand)]
enum DeletedVaultCmd {
    /// List soft-deleted vaults.
    #[command(after_help = "Examples:
  lifeboat backup deleted-vault list -o table")]
    List {
        #[command(flatten)]
        top: TopArg,
    },
    /// Show a soft-deleted vault with its delete and purge times.
    #[command(after_help = "Examples:
  lifeboat backup deleted-vault show --name prod")]
    Show {
        /// The vault name.
        #[arg(long, short = 'n')]
        name: String,
    },
    /// Undelete a soft-deleted vault (its items stay soft-deleted until
    /// `protection undelete`).
    #[command(after_help = "Examples:
  lifeboat backup deleted-vault undelete --name prod
  lifeboat backup protection undelete --vault prod --item data")]
    Undelete {
        /// The vault name.
        #[arg(long, short = 'n')]
        name: String,
    },
}

pub fn run(ctx: &Ctx, a: DeletedVaultArgs) -> Result<u8> {
    match a.cmd {
        DeletedVaultCmd::List { top } => {
            let list = ctx.client.list_deleted_vaults(top.take())?;
            ctx.show(&list, Some(VIEW))?;
        }
        DeletedVaultCmd::Show { name } => {
            let v = ctx.client.show_deleted_vault(&name)?;
            ctx.show(&v, Some(VIEW))?;
        }
        DeletedVaultCmd::Undelete { name } => {
            let v = ctx.client.undelete_vault(&name)?;
            ctx.show(&v, Some(super::vault::VIEW))?;
        }
    }
    Ok(exit::OK)
}
