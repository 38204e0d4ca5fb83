//! `lifeboat backup item list|show|set-policy`.

use clap::{Args, Subcommand};
use lifeboat_api::items::PolicyRef;

use super::error::{Result, exit};
use super::output::TableView;
use super::{Ctx, TopArg};

pub const VIEW: TableView = &[
    ("Name", "name"),
    ("Workload", "workload"),
    ("Source", "source"),
    ("Policy", "policyName"),
    ("State", "protectionState"),
    ("Health", "healthStatus"),
    ("LastBackupStatus", "lastBackupStatus"),
    ("LastBackupTime", "lastBackupTime"),
    ("NextRunTime", "nextRunTime"),
    ("DeletedTime", "deletedTime"),
    ("PurgeTime", "purgeTime"),
];

#[derive(Args)]
pub struct ItemArgs {
    #[command(subcommand)]
    cmd: ItemCmd,
}

#[derive(Subcommand)]
enum ItemCmd {
    /// List the protected items of a vault.
    #[command(after_help = "Examples:
  lifeboat backup item list --vault prod -o table
  lifeboat backup item list --vault prod --query \"[?protectionState=='ProtectionStopped'].name\" -o tsv")]
    List {
        /// The vault.
        #[arg(long, short = 'v')]
        vault: String,
        #[command(flatten)]
        top: TopArg,
    },
    /// Show a protected item: state, policy, last backup, next run, health.
    #[command(after_help = "Examples:
  lifeboat backup item show --vault prod --name data
  lifeboat backup item show --vault prod --name data --query lastBackupStatus -o tsv")]
    Show {
        /// The vault.
        #[arg(long, short = 'v')]
        vault: String,
        /// The protected item.
        #[arg(long, short = 'n', visible_alias = "item")]
        name: String,
    },
    /// Protect an item with another policy (re-tags its recovery points).
    #[command(after_help = "Examples:
  lifeboat backup item set-policy --vault prod --name data --policy Nightly")]
    SetPolicy {
        /// The vault.
        #[arg(long, short = 'v')]
        vault: String,
        #[arg(long, short = 'n', visible_alias = "item")]
        name: String,
        /// The new policy.
        #[arg(long, short = 'p')]
        policy: String,
    },
}

pub fn run(ctx: &Ctx, a: ItemArgs) -> Result<u8> {
    match a.cmd {
        ItemCmd::List { vault, top } => {
            let list = ctx.client.list_items(&vault, top.take())?;
            ctx.show(&list, Some(VIEW))?;
        }
        ItemCmd::Show { vault, name } => {
            let item = ctx.client.show_item(&vault, &name)?;
            ctx.show(&item, Some(VIEW))?;
        }
        ItemCmd::SetPolicy {
            vault,
            name,
            policy,
        } => {
            let item = ctx
                .client
                .change_policy(&vault, &name, &PolicyRef { policy })?;
            ctx.show(&item, Some(VIEW))?;
        }
    }
    Ok(exit::OK)
}
