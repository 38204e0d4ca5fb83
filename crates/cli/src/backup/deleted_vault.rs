//! `lifeboat backup deleted-vault list|show|undelete`: vaults soft-deleted
//! because they held only soft-deleted items (docs/security.md).

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::client::seg;
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

fn path(name: &str) -> String {
    format!("/api/v1/deleted-vaults/{}", seg(name))
}

pub fn run(ctx: &Ctx, a: DeletedVaultArgs) -> Result<u8> {
    match a.cmd {
        DeletedVaultCmd::List { top } => {
            let list = ctx.client.list("/api/v1/deleted-vaults", &[], top.get())?;
            ctx.show(&Value::Array(list), Some(VIEW))?;
        }
        DeletedVaultCmd::Show { name } => {
            let v = ctx.client.get(&path(&name))?;
            ctx.show(&v, Some(VIEW))?;
        }
        DeletedVaultCmd::Undelete { name } => {
            let v = ctx
                .client
                .post(&format!("{}/undelete", path(&name)), &json!({}))?;
            ctx.show(&v, Some(super::vault::VIEW))?;
        }
    }
    Ok(exit::OK)
}
