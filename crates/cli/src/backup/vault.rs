//! `lifeboat backup vault create|list|show|update|delete`.

use clap::{Args, Subcommand};
use lifeboat_api::vaults::{CreateVault, UpdateVault};

use super::error::{Result, exit};
use super::output::TableView;
use super::{Ctx, TopArg};

pub const VIEW: TableView = &[
    ("Name", "name"),
    ("Kind", "kind"),
    ("Redundancy", "storageRedundancy"),
    ("ProtectedItems", "usage.protectedItems"),
    ("RecoveryPoints", "usage.recoveryPoints"),
    ("StoredBytes", "usage.storedBytes"),
];

#[derive(Args)]
pub struct VaultArgs {
    #[command(subcommand)]
    cmd: VaultCmd,
}

#[derive(Subcommand)]
enum VaultCmd {
    /// Create a vault. A recovery-services vault starts with DefaultPolicy
    /// (daily at 22:00 in the server's time zone, kept 30 days).
    #[command(after_help = "Examples:
  lifeboat backup vault create --name prod
  lifeboat backup vault create --name disks --kind backup
  lifeboat backup vault create --name prod --storage-redundancy LocallyRedundant -o table")]
    Create {
        /// Vault name: 2-50 letters, digits and hyphens, starting with a letter.
        #[arg(long, short = 'n')]
        name: String,
        /// recovery-services (paths and disks, gets DefaultPolicy) or backup (disks).
        #[arg(long, default_value = "recovery-services")]
        kind: String,
        /// LocallyRedundant (others are accepted by the API and refused as not yet supported).
        #[arg(long, value_name = "REDUNDANCY")]
        storage_redundancy: Option<String>,
    },
    /// List vaults.
    #[command(after_help = "Examples:
  lifeboat backup vault list -o table
  lifeboat backup vault list --query \"[].name\" -o tsv")]
    List {
        #[command(flatten)]
        top: TopArg,
    },
    /// Show a vault with its usage.
    #[command(after_help = "Examples:
  lifeboat backup vault show --name prod
  lifeboat backup vault show --name prod --query usage")]
    Show {
        /// The vault name.
        #[arg(long, short = 'n')]
        name: String,
    },
    /// Change a vault's soft delete and immutability settings.
    /// AlwaysON soft delete and Locked immutability can never be undone.
    #[command(after_help = "Examples:
  lifeboat backup vault update --name prod --soft-delete AlwaysON --soft-delete-days 30
  lifeboat backup vault update --name prod --immutability Unlocked
  lifeboat backup vault update --name prod --immutability Locked")]
    Update {
        /// The vault name.
        #[arg(long, short = 'n')]
        name: String,
        /// Enabled, Disabled or AlwaysON (irreversible).
        #[arg(long, value_name = "STATE")]
        soft_delete: Option<String>,
        /// 14-180: how long soft-deleted data is kept (for later deletes).
        #[arg(long, value_name = "DAYS")]
        soft_delete_days: Option<i64>,
        /// Disabled, Unlocked or Locked (irreversible; only from Unlocked).
        #[arg(long, value_name = "STATE")]
        immutability: Option<String>,
    },
    /// Delete a vault: refused with VAULT_NOT_EMPTY while it has protected
    /// items or recovery points that are not soft-deleted; a vault holding
    /// only soft-deleted items is soft-deleted (see `deleted-vault`).
    #[command(after_help = "Examples:
  lifeboat backup vault delete --name lab --yes")]
    Delete {
        /// The vault name.
        #[arg(long, short = 'n')]
        name: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// The vault's resource guard (multi-user authorization): update, show, delete.
    ResourceGuardMapping(super::guard::MappingArgs),
}

pub fn run(ctx: &Ctx, a: VaultArgs) -> Result<u8> {
    match a.cmd {
        VaultCmd::Create {
            name,
            kind,
            storage_redundancy,
        } => {
            let v = ctx.client.create_vault(&CreateVault {
                name,
                kind,
                storage_redundancy,
                properties: None,
            })?;
            ctx.show(&v, Some(VIEW))?;
        }
        VaultCmd::List { top } => {
            let list = ctx.client.list_vaults(top.take())?;
            ctx.show(&list, Some(VIEW))?;
        }
        VaultCmd::Show { name } => {
            let v = ctx.client.show_vault(&name)?;
            ctx.show(&v, Some(VIEW))?;
        }
        VaultCmd::Update {
            name,
            soft_delete,
            soft_delete_days,
            immutability,
        } => {
            let req = UpdateVault {
                soft_delete_state: soft_delete,
                soft_delete_retention_period_in_days: soft_delete_days,
                immutability_state: immutability,
            };
            if req.is_empty() {
                return Err(super::error::CliError::Usage(
                    "give at least one of --soft-delete, --soft-delete-days, --immutability".into(),
                ));
            }
            let v = ctx.client.update_vault(&name, &req)?;
            ctx.show(&v, Some(VIEW))?;
        }
        VaultCmd::ResourceGuardMapping(m) => return super::guard::run_mapping(ctx, m),
        VaultCmd::Delete { name, yes } => {
            if !yes {
                super::protection::confirm(&format!(
                    "Are you sure you want to delete vault '{name}'?"
                ))?;
            }
            ctx.client.delete_vault(&name)?;
        }
    }
    Ok(exit::OK)
}
