//! Multi-user authorization (docs/security.md): `lifeboat backup
//! resource-guard create|list|show|delete|member|request` and `lifeboat
//! backup vault resource-guard-mapping update|show|delete`.

use clap::{Args, Subcommand};
use lifeboat_api::mua::{
    ApproveBody, AttachGuard, CreateMuaRequest, CreateResourceGuard, GuardMemberBody, RequestQuery,
};

use super::error::{Result, exit};
use super::output::TableView;
use super::{Ctx, TopArg};

pub const GUARD_VIEW: TableView = &[
    ("Name", "name"),
    ("Owner", "owner"),
    ("Members", "members"),
    ("Vaults", "vaults"),
    ("CriticalOperations", "criticalOperations"),
];

pub const REQUEST_VIEW: TableView = &[
    ("Id", "id"),
    ("Vault", "vault"),
    ("Operation", "operation"),
    ("Target", "target"),
    ("Requester", "requester"),
    ("Status", "status"),
    ("Expires", "expiresTime"),
    ("DecidedBy", "decidedBy"),
];

pub const MAPPING_VIEW: TableView = &[
    ("Vault", "vault"),
    ("Guard", "guard"),
    ("MultiUserAuthorization", "multiUserAuthorization"),
    ("Attached", "attachedTime"),
];

#[derive(Args)]
pub struct ResourceGuardArgs {
    #[command(subcommand)]
    cmd: GuardCmd,
}

#[derive(Subcommand)]
enum GuardCmd {
    /// Create a resource guard; you (or --owner) hold it.
    #[command(after_help = "Examples:
  lifeboat backup resource-guard create --name sec-guard
  lifeboat backup resource-guard create --name sec-guard --owner secadmin
  lifeboat backup resource-guard create --name g2 --critical-operations disable-soft-delete,detach-guard,reduce-retention")]
    Create {
        /// Guard name: 2-50 letters, digits and hyphens, starting with a letter.
        #[arg(long, short = 'n')]
        name: String,
        /// The identity that owns and holds it [default: you].
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// Operations to protect [default: all five]; disable-soft-delete
        /// and detach-guard are mandatory.
        #[arg(long, value_delimiter = ',', value_name = "OPS")]
        critical_operations: Option<Vec<String>>,
    },
    /// List the guards you hold (every guard for a server-scope Owner).
    #[command(after_help = "Examples:
  lifeboat backup resource-guard list -o table")]
    List {
        #[command(flatten)]
        top: TopArg,
    },
    /// Show a guard.
    Show {
        #[arg(long, short = 'n')]
        name: String,
    },
    /// Delete a guard (refused while a vault uses it).
    Delete {
        #[arg(long, short = 'n')]
        name: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Holders of a guard: add, remove.
    Member(MemberArgs),
    /// Approval requests: create, list, approve, reject.
    Request(RequestArgs),
}

#[derive(Args)]
struct MemberArgs {
    #[command(subcommand)]
    cmd: MemberCmd,
}

#[derive(Subcommand)]
enum MemberCmd {
    /// Add a holder.
    #[command(after_help = "Examples:
  lifeboat backup resource-guard member add --guard sec-guard --identity bob")]
    Add {
        #[arg(long)]
        guard: String,
        #[arg(long)]
        identity: String,
    },
    /// Remove a holder (never the owner).
    Remove {
        #[arg(long)]
        guard: String,
        #[arg(long)]
        identity: String,
    },
}

#[derive(Args)]
struct RequestArgs {
    #[command(subcommand)]
    cmd: RequestCmd,
}

#[derive(Subcommand)]
enum RequestCmd {
    /// Ask the holders of a vault's guard to approve a critical operation.
    #[command(after_help = "Examples:
  lifeboat backup resource-guard request create --vault prod --operation disable-soft-delete
  lifeboat backup resource-guard request create --vault prod --operation reduce-retention --target DefaultPolicy
  lifeboat backup resource-guard request create --vault prod --operation stop-protection-delete-data --target data")]
    Create {
        #[arg(long)]
        vault: String,
        /// disable-soft-delete, reduce-retention, stop-protection-delete-data,
        /// disable-immutability or detach-guard.
        #[arg(long)]
        operation: String,
        /// The item or policy it is about (none for vault-level operations).
        #[arg(long)]
        target: Option<String>,
    },
    /// List a guard's requests (holders only).
    #[command(after_help = "Examples:
  lifeboat backup resource-guard request list --guard sec-guard --status Pending -o table")]
    List {
        #[arg(long)]
        guard: String,
        /// Pending, Approved, Used, Rejected or Expired.
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        top: TopArg,
    },
    /// Approve a request (holders only, not your own).
    #[command(after_help = "Examples:
  lifeboat backup resource-guard request approve --guard sec-guard --id 7 --valid-for-minutes 30")]
    Approve {
        #[arg(long)]
        guard: String,
        #[arg(long)]
        id: i64,
        /// How long the approval may be used, 1-1440 [default: 60].
        #[arg(long, value_name = "MINUTES")]
        valid_for_minutes: Option<i64>,
    },
    /// Reject a request (holders only, not your own).
    Reject {
        #[arg(long)]
        guard: String,
        #[arg(long)]
        id: i64,
    },
}

pub fn run(ctx: &Ctx, a: ResourceGuardArgs) -> Result<u8> {
    match a.cmd {
        GuardCmd::Create {
            name,
            owner,
            description,
            critical_operations,
        } => {
            let v = ctx.client.create_guard(&CreateResourceGuard {
                name,
                owner,
                description,
                critical_operations,
            })?;
            ctx.show(&v, Some(GUARD_VIEW))?;
        }
        GuardCmd::List { top } => {
            let list = top.cut(ctx.client.list_guards()?);
            ctx.show(&list, Some(GUARD_VIEW))?;
        }
        GuardCmd::Show { name } => {
            let v = ctx.client.show_guard(&name)?;
            ctx.show(&v, Some(GUARD_VIEW))?;
        }
        GuardCmd::Delete { name, yes } => {
            if !yes {
                super::protection::confirm(&format!(
                    "Are you sure you want to delete resource guard '{name}'?"
                ))?;
            }
            ctx.client.delete_guard(&name)?;
        }
        GuardCmd::Member(m) => match m.cmd {
            MemberCmd::Add { guard, identity } => {
                let v = ctx
                    .client
                    .add_guard_member(&guard, &GuardMemberBody { identity })?;
                ctx.show(&v, Some(GUARD_VIEW))?;
            }
            MemberCmd::Remove { guard, identity } => {
                ctx.client.remove_guard_member(&guard, &identity)?;
            }
        },
        GuardCmd::Request(r) => run_request(ctx, r.cmd)?,
    }
    Ok(exit::OK)
}

fn run_request(ctx: &Ctx, cmd: RequestCmd) -> Result<()> {
    match cmd {
        RequestCmd::Create {
            vault,
            operation,
            target,
        } => {
            let v = ctx
                .client
                .create_request(&vault, &CreateMuaRequest { operation, target })?;
            ctx.show(&v, Some(REQUEST_VIEW))?;
        }
        RequestCmd::List { guard, status, top } => {
            let list = top.cut(ctx.client.list_requests(&guard, &RequestQuery { status })?);
            ctx.show(&list, Some(REQUEST_VIEW))?;
        }
        RequestCmd::Approve {
            guard,
            id,
            valid_for_minutes,
        } => {
            let v = ctx
                .client
                .approve_request(&guard, id, &ApproveBody { valid_for_minutes })?;
            ctx.show(&v, Some(REQUEST_VIEW))?;
        }
        RequestCmd::Reject { guard, id } => {
            let v = ctx.client.reject_request(&guard, id)?;
            ctx.show(&v, Some(REQUEST_VIEW))?;
        }
    }
    Ok(())
}

#[derive(Args)]
pub struct MappingArgs {
    #[command(subcommand)]
    cmd: MappingCmd,
}

#[derive(Subcommand)]
enum MappingCmd {
    /// Attach a resource guard to a vault (multi-user authorization on).
    #[command(after_help = "Examples:
  lifeboat backup vault resource-guard-mapping update --vault prod --guard sec-guard")]
    Update {
        #[arg(long)]
        vault: String,
        #[arg(long)]
        guard: String,
    },
    /// Show a vault's resource guard.
    Show {
        #[arg(long)]
        vault: String,
    },
    /// Detach a vault's resource guard (a critical operation: needs an
    /// approved `detach-guard` request).
    #[command(after_help = "Examples:
  lifeboat backup resource-guard request create --vault prod --operation detach-guard
  lifeboat backup vault resource-guard-mapping delete --vault prod --yes")]
    Delete {
        #[arg(long)]
        vault: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

pub fn run_mapping(ctx: &Ctx, a: MappingArgs) -> Result<u8> {
    match a.cmd {
        MappingCmd::Update { vault, guard } => {
            let v = ctx
                .client
                .attach_guard(&vault, &AttachGuard { guard_name: guard })?;
            ctx.show(&v, Some(MAPPING_VIEW))?;
        }
        MappingCmd::Show { vault } => {
            let v = ctx.client.show_mapping(&vault)?;
            ctx.show(&v, Some(MAPPING_VIEW))?;
        }
        MappingCmd::Delete { vault, yes } => {
            if !yes {
                super::protection::confirm(&format!(
                    "Are you sure you want to detach the resource guard of vault '{vault}'?"
                ))?;
            }
            ctx.client.detach_guard(&vault)?;
        }
    }
    Ok(exit::OK)
}
