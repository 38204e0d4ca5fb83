//! `lifeboat backup policy list|show|create|set|delete`.
//!
//! A policy is the model's typed [`Policy`] (Azure's
//! `AzureIaasVMProtectionPolicy` properties): read from `--policy
//! @file.json` / `--policy '{…}'` ([`document`]), or the template, then
//! edited by the flags for the common shapes ([`flags`]). `set` without
//! `--policy` edits the server's current policy with the flags given. The
//! server validates; its error names the field and range.

mod document;
mod flags;
mod schedule;

use clap::{Args, Subcommand};
use lifeboat_api::policies::{CreatePolicy, ReplacePolicy};
use lifeboat_model::Policy;

use super::error::{CliError, Result, exit};
use super::output::TableView;
use super::{Ctx, TopArg};

pub use document::{policy_of, read_json_arg, split_document, template};
pub use flags::{PolicyFlags, apply_flags};

pub const VIEW: TableView = &[
    ("Name", "name"),
    ("Type", "properties.policyType"),
    (
        "Frequency",
        "properties.schedulePolicy.scheduleRunFrequency",
    ),
    (
        "Time",
        "properties.schedulePolicy.scheduleRunTimes[0] || properties.schedulePolicy.dailySchedule.scheduleRunTimes[0] || properties.schedulePolicy.weeklySchedule.scheduleRunTimes[0] || properties.schedulePolicy.hourlySchedule.scheduleWindowStartTime",
    ),
    ("TimeZone", "properties.timeZone"),
    (
        "DailyRetentionDays",
        "properties.retentionPolicy.dailySchedule.retentionDuration.count",
    ),
    (
        "InstantRestoreDays",
        "properties.instantRpRetentionRangeInDays",
    ),
    ("ProtectedItems", "protectedItemsCount"),
];

#[derive(Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    cmd: PolicyCmd,
}

#[derive(Subcommand)]
enum PolicyCmd {
    /// List the policies of a vault.
    #[command(after_help = "Examples:
  lifeboat backup policy list --vault prod -o table")]
    List {
        /// The vault.
        #[arg(long, short = 'v')]
        vault: String,
        #[command(flatten)]
        top: TopArg,
    },
    /// Show a policy.
    #[command(after_help = "Examples:
  lifeboat backup policy show --vault prod --name DefaultPolicy
  lifeboat backup policy show --vault prod --name DefaultPolicy --query properties > policy.json")]
    Show {
        /// The vault.
        #[arg(long, short = 'v')]
        vault: String,
        /// The policy name.
        #[arg(long, short = 'n')]
        name: String,
    },
    /// Create a policy from JSON or from flags.
    #[command(after_help = "Examples:
  lifeboat backup policy create --vault prod --name Nightly --daily --time 22:00 \\
      --time-zone Europe/Berlin --daily-retention 30 --weekly-retention 12 --weekly-days Sun \\
      --monthly-retention 12 --yearly-retention 5 --instant-restore-days 2
  lifeboat backup policy create --vault prod --name Weekly --weekly --days Sat --time 23:00 \\
      --weekly-retention 52
  lifeboat backup policy create --vault prod --name Hourly --hourly --interval 4 \\
      --window-start 08:00 --window-hours 12 --daily-retention 14
  lifeboat backup policy create --vault prod --name FromFile --policy @policy.json

Retention counts: daily in days (7-9999), weekly in weeks (1-5163), monthly in
months (1-1188), yearly in years (1-99); 0 removes the rule. Monthly and yearly
rules made from flags keep the first backup of the month (first week, on the
first weekly-retention day, else Sunday); use --policy JSON for other shapes.")]
    Create {
        /// The vault.
        #[arg(long, short = 'v')]
        vault: String,
        /// The policy name (else the "name" in the --policy JSON).
        #[arg(long, short = 'n')]
        name: Option<String>,
        #[command(flatten)]
        policy: PolicyFlags,
    },
    /// Replace a policy (re-tags the recovery points of every item on it).
    #[command(after_help = "Examples:
  lifeboat backup policy set --vault prod --name DefaultPolicy --daily-retention 60
  lifeboat backup policy set --vault prod --name Nightly --time 01:30 --time-zone UTC
  lifeboat backup policy set --vault prod --name Nightly --policy @policy.json

Without --policy the current policy is fetched and the flags are applied to it.")]
    Set {
        /// The vault.
        #[arg(long, short = 'v')]
        vault: String,
        /// The policy name (else the "name" in the --policy JSON).
        #[arg(long, short = 'n')]
        name: Option<String>,
        #[command(flatten)]
        policy: PolicyFlags,
    },
    /// Delete a policy (refused while protected items use it).
    #[command(after_help = "Examples:
  lifeboat backup policy delete --vault prod --name Nightly")]
    Delete {
        /// The vault.
        #[arg(long, short = 'v')]
        vault: String,
        /// The policy name.
        #[arg(long, short = 'n')]
        name: String,
    },
}

pub fn run(ctx: &Ctx, a: PolicyArgs) -> Result<u8> {
    match a.cmd {
        PolicyCmd::List { vault, top } => {
            let list = ctx.client.list_policies(&vault, top.take())?;
            ctx.show(&list, Some(VIEW))?;
        }
        PolicyCmd::Show { vault, name } => {
            let p = ctx.client.show_policy(&vault, &name)?;
            ctx.show(&p, Some(VIEW))?;
        }
        PolicyCmd::Create {
            vault,
            name,
            policy,
        } => {
            let (json_name, mut props) = match &policy.policy {
                Some(src) => from_document(src)?,
                None => (None, template(&document::local_time_zone())),
            };
            let name = pick_name(name, json_name)?;
            apply_flags(&mut props, &policy)?;
            let p = ctx
                .client
                .create_policy(&vault, &CreatePolicy::new(name, &props).map_err(encode)?)?;
            ctx.show(&p, Some(VIEW))?;
        }
        PolicyCmd::Set {
            vault,
            name,
            policy,
        } => {
            let (name, mut props) = match &policy.policy {
                Some(src) => {
                    let (n, props) = from_document(src)?;
                    (pick_name(name, n)?, props)
                }
                None => {
                    let name = name.ok_or_else(|| {
                        CliError::Usage("argument --name is required without --policy".into())
                    })?;
                    if !policy.anything_given() {
                        return Err(CliError::Usage(
                            "nothing to change: give --policy or flags such as --daily-retention"
                                .into(),
                        ));
                    }
                    let current = ctx.client.show_policy(&vault, &name)?;
                    (name, current.properties)
                }
            };
            apply_flags(&mut props, &policy)?;
            let req = ReplacePolicy::new(name.clone(), &props).map_err(encode)?;
            let p = ctx.client.replace_policy(&vault, &name, &req)?;
            ctx.show(&p, Some(VIEW))?;
        }
        PolicyCmd::Delete { vault, name } => {
            ctx.client.delete_policy(&vault, &name)?;
        }
    }
    Ok(exit::OK)
}

/// The name and typed policy of a `--policy` argument.
fn from_document(src: &str) -> Result<(Option<String>, Policy)> {
    let (name, props) = split_document(read_json_arg(src)?)?;
    Ok((name, policy_of(props)?))
}

fn encode(e: serde_json::Error) -> CliError {
    CliError::Usage(format!("argument --policy: cannot encode the policy: {e}"))
}

fn pick_name(flag: Option<String>, from_json: Option<String>) -> Result<String> {
    flag.or(from_json).ok_or_else(|| {
        CliError::Usage("argument --name is required (or a \"name\" in the --policy JSON)".into())
    })
}
