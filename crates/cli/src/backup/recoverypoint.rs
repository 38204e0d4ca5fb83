//! `lifeboat backup recoverypoint list|show`.

use clap::{Args, Subcommand};
use lifeboat_api::points::PointQuery;

use super::error::{CliError, Result, exit};
use super::output::TableView;
use super::{Ctx, TopArg};

pub const VIEW: TableView = &[
    ("Name", "id"),
    ("Time", "time"),
    ("Consistency", "consistency"),
    ("Tier", "tier"),
    ("SizeBytes", "sizeBytes"),
    ("AddedBytes", "addedBytes"),
    ("Rule", "ruleName"),
    ("Expiry", "expiryTime"),
];

#[derive(Args)]
pub struct RecoveryPointArgs {
    #[command(subcommand)]
    cmd: PointCmd,
}

#[derive(Subcommand)]
enum PointCmd {
    /// List the recovery points of an item, newest first.
    #[command(after_help = "Examples:
  lifeboat backup recoverypoint list --vault prod --item data -o table
  lifeboat backup recoverypoint list --vault prod --item data --top 1 --query \"[0].id\" -o tsv")]
    List {
        /// The vault.
        #[arg(long, short = 'v')]
        vault: String,
        /// The protected item.
        #[arg(long, short = 'i')]
        item: String,
        /// Also list points soft-deleted by a retention cut (with their
        /// delete and purge times).
        #[arg(long)]
        include_deleted: bool,
        #[command(flatten)]
        top: TopArg,
    },
    /// Show one recovery point (`latest` for the newest).
    #[command(after_help = "Examples:
  lifeboat backup recoverypoint show --vault prod --item data --point 3f2a9c0d1b2e
  lifeboat backup recoverypoint show --vault prod --item data --point latest -o yaml")]
    Show {
        /// The vault.
        #[arg(long, short = 'v')]
        vault: String,
        /// The protected item.
        #[arg(long, short = 'i')]
        item: String,
        /// The point id, or `latest`.
        #[arg(long, short = 'n', visible_alias = "name")]
        point: String,
    },
}

pub fn run(ctx: &Ctx, a: RecoveryPointArgs) -> Result<u8> {
    match a.cmd {
        PointCmd::List {
            vault,
            item,
            include_deleted,
            top,
        } => {
            let query = PointQuery {
                include_deleted: include_deleted.then_some(true),
                ..PointQuery::default()
            };
            let list = ctx.client.list_points(&vault, &item, &query, top.take())?;
            ctx.show(&list, Some(VIEW))?;
        }
        PointCmd::Show { vault, item, point } => {
            let id = resolve_point(ctx, &vault, &item, &point)?;
            let p = ctx.client.show_point(&vault, &item, &id)?;
            ctx.show(&p, Some(VIEW))?;
        }
    }
    Ok(exit::OK)
}

/// A point id, with `latest` looked up as the newest point of the item.
pub fn resolve_point(ctx: &Ctx, vault: &str, item: &str, point: &str) -> Result<String> {
    if !point.eq_ignore_ascii_case("latest") {
        return Ok(point.to_owned());
    }
    let newest = ctx.client.list_points(
        vault,
        item,
        &PointQuery::default(),
        TopArg { top: Some(1) }.take(),
    )?;
    newest
        .into_iter()
        .next()
        .map(|p| p.id)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| CliError::Api {
            status: 404,
            code: lifeboat_codes::POINT_NOT_FOUND.into(),
            message: format!("item '{item}' in vault '{vault}' has no recovery points yet"),
            target: Some("point".into()),
        })
}
