//! `lifeboat backup protection enable|backup-now|disable|resume`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use clap::{ArgGroup, Args, Subcommand};
use lifeboat_api::items::{BackupNow, EnableProtection, PolicyRef, StopProtection};
use lifeboat_model::item::{StopMode, WorkloadKind};
use lifeboat_model::source::Source;

use super::client::Stopped;
use super::error::{CliError, Result, exit};
use super::item::VIEW as ITEM_VIEW;
use super::{Ctx, absolute, job};

#[derive(Args)]
pub struct ProtectionArgs {
    #[command(subcommand)]
    cmd: ProtectionCmd,
}

#[derive(Subcommand)]
enum ProtectionCmd {
    /// Start protecting a folder (or file) or a disk image with a policy.
    #[command(
        group(ArgGroup::new("source").required(true).args(["path", "disk"])),
        after_help = "Examples:
  lifeboat backup protection enable --vault prod --policy DefaultPolicy --path /srv/data
  lifeboat backup protection enable --vault prod --policy Nightly --disk /var/lib/images/web.raw --name web-disk

Paths are read by the server, on its machine; a relative path is made
absolute against the current folder."
    )]
    Enable {
        /// The vault.
        #[arg(long, short = 'v')]
        vault: String,
        /// The backup policy to protect with.
        #[arg(long, short = 'p')]
        policy: String,
        /// A folder or file to protect.
        #[arg(long)]
        path: Option<PathBuf>,
        /// A disk image to protect (raw, qcow2, vmdk, vhdx…).
        #[arg(long)]
        disk: Option<PathBuf>,
        /// The item's name [default: the source path with / turned into -, /srv/data → srv-data].
        #[arg(long, short = 'n')]
        name: Option<String>,
    },
    /// Back up an item now (on demand), outside its schedule.
    #[command(after_help = "Examples:
  lifeboat backup protection backup-now --vault prod --item data
  lifeboat backup protection backup-now --vault prod --item data --retain-until 31-12-2026 --wait

--retain-until takes dd-mm-yyyy (as az), yyyy-mm-dd (both kept through the end
of that day, UTC) or an RFC 3339 time; the default is 30 days from now.")]
    BackupNow {
        /// The vault.
        #[arg(long, short = 'v')]
        vault: String,
        /// The protected item.
        #[arg(long, short = 'i', visible_alias = "name")]
        item: String,
        /// Keep the point until this date or time.
        #[arg(long, value_name = "DATE")]
        retain_until: Option<String>,
        /// Wait until the backup job ends (progress on a terminal); exit non-zero if it failed.
        #[arg(long)]
        wait: bool,
    },
    /// Stop protecting an item: keep its data, keep it as the policy says, or delete it.
    #[command(
        group(ArgGroup::new("mode").required(true).args(["retain_data", "retain_as_per_policy", "delete_data"])),
        after_help = "Examples:
  lifeboat backup protection disable --vault prod --item data --retain-data
  lifeboat backup protection disable --vault prod --item data --retain-as-per-policy
  lifeboat backup protection disable --vault prod --item data --delete-data --yes --wait

--retain-data keeps every point forever (ProtectionStopped); --retain-as-per-policy
lets points expire by the policy but always keeps the latest (BackupsSuspended);
--delete-data deletes every point and the item (a job; asks for confirmation)."
    )]
    Disable {
        /// The vault.
        #[arg(long, short = 'v')]
        vault: String,
        /// The protected item.
        #[arg(long, short = 'i', visible_alias = "name")]
        item: String,
        /// Stop backups and keep all recovery points.
        #[arg(long)]
        retain_data: bool,
        /// Stop backups; points expire as the policy says, the latest is kept.
        #[arg(long)]
        retain_as_per_policy: bool,
        /// Stop backups and delete all recovery points.
        #[arg(long, visible_alias = "delete-backup-data")]
        delete_data: bool,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        /// With --delete-data: wait until the deletion job ends.
        #[arg(long)]
        wait: bool,
    },
    /// Undelete a soft-deleted item: it comes back with protection stopped
    /// and every recovery point kept; then resume it with a policy.
    #[command(after_help = "Examples:
  lifeboat backup protection undelete --vault prod --item data
  lifeboat backup protection resume --vault prod --item data --policy DefaultPolicy")]
    Undelete {
        /// The vault.
        #[arg(long, short = 'v')]
        vault: String,
        /// The soft-deleted item.
        #[arg(long, short = 'i', visible_alias = "name")]
        item: String,
    },
    /// Resume protection of a stopped item with a policy.
    #[command(after_help = "Examples:
  lifeboat backup protection resume --vault prod --item data --policy DefaultPolicy")]
    Resume {
        /// The vault.
        #[arg(long, short = 'v')]
        vault: String,
        /// The protected item.
        #[arg(long, short = 'i', visible_alias = "name")]
        item: String,
        #[arg(long, short = 'p')]
        policy: String,
    },
}

pub fn run(ctx: &Ctx, a: ProtectionArgs) -> Result<u8> {
    match a.cmd {
        ProtectionCmd::Enable {
            vault,
            policy,
            path,
            disk,
            name,
        } => {
            let source = match (path, disk) {
                (Some(p), None) => Source::new(WorkloadKind::Path, absolute(&p, "--path")?),
                (None, Some(d)) => Source::new(WorkloadKind::Disk, absolute(&d, "--disk")?),
                _ => {
                    return Err(CliError::Usage(
                        "give exactly one of --path and --disk".into(),
                    ));
                }
            };
            let item = ctx
                .client
                .enable_protection(&vault, &EnableProtection::new(name, &source, policy))?;
            ctx.show(&item, Some(ITEM_VIEW))?;
            Ok(exit::OK)
        }
        ProtectionCmd::BackupNow {
            vault,
            item,
            retain_until,
            wait,
        } => {
            let req = BackupNow {
                retain_until: retain_until
                    .as_deref()
                    .map(parse_retain_until)
                    .transpose()?,
            };
            let job = ctx.client.backup_now(&vault, &item, &req)?;
            job::started(ctx, job, wait)
        }
        ProtectionCmd::Disable {
            vault,
            item,
            retain_data,
            retain_as_per_policy,
            delete_data,
            yes,
            wait,
        } => {
            let mode = if delete_data {
                StopMode::DeleteData
            } else if retain_as_per_policy {
                StopMode::RetainAsPerPolicy
            } else if retain_data {
                StopMode::RetainData
            } else {
                return Err(CliError::Usage(
                    "give one of --retain-data, --retain-as-per-policy, --delete-data".into(),
                ));
            };
            if delete_data && !yes {
                confirm(&format!(
                    "Delete every recovery point of item '{item}' in vault '{vault}'? This cannot be undone."
                ))?;
            }
            match ctx
                .client
                .stop_protection(&vault, &item, &StopProtection::new(mode))?
            {
                Stopped::Deleting(job) => job::started(ctx, *job, wait),
                Stopped::Item(it) => {
                    if wait {
                        ctx.warn("--wait has no effect: no job was started");
                    }
                    ctx.show(&it, Some(ITEM_VIEW))?;
                    Ok(exit::OK)
                }
            }
        }
        ProtectionCmd::Undelete { vault, item } => {
            let answer = ctx.client.undelete_item(&vault, &item)?;
            ctx.show(&answer, Some(ITEM_VIEW))?;
            Ok(exit::OK)
        }
        ProtectionCmd::Resume {
            vault,
            item,
            policy,
        } => {
            let answer = ctx
                .client
                .resume_protection(&vault, &item, &PolicyRef { policy })?;
            ctx.show(&answer, Some(ITEM_VIEW))?;
            Ok(exit::OK)
        }
    }
}

/// `--retain-until`: `dd-mm-yyyy` (az's form) or `yyyy-mm-dd`, kept through
/// the end of that day in UTC, or an RFC 3339 time.
pub fn parse_retain_until(s: &str) -> Result<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let end_of_day = NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN);
    for fmt in ["%d-%m-%Y", "%Y-%m-%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, fmt) {
            return Ok(Utc.from_utc_datetime(&d.and_time(end_of_day)));
        }
    }
    Err(CliError::Usage(format!(
        "argument --retain-until: {s:?} is not a date (dd-mm-yyyy or yyyy-mm-dd) or an RFC 3339 time"
    )))
}

/// Asks on the terminal; without one, refuses (use `--yes`) rather than hang.
pub fn confirm(question: &str) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::NotConfirmed(format!(
            "{question} Not confirmed: no terminal to ask on; add --yes to go ahead"
        )));
    }
    eprint!("{question} (y/N): ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::NotConfirmed(format!("cannot read the answer: {e}")))?;
    match line.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(CliError::NotConfirmed("Operation cancelled.".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The time as it goes on the wire.
    fn parse_retain_until(s: &str) -> Result<String> {
        super::parse_retain_until(s).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    }

    #[test]
    fn retain_until_accepts_az_dates_iso_dates_and_times() {
        assert_eq!(
            parse_retain_until("31-12-2026").unwrap(),
            "2026-12-31T23:59:59Z"
        );
        assert_eq!(
            parse_retain_until("2026-12-31").unwrap(),
            "2026-12-31T23:59:59Z"
        );
        assert_eq!(
            parse_retain_until("2026-12-31T10:00:00+02:00").unwrap(),
            "2026-12-31T08:00:00Z"
        );
        for bad in ["31/12/2026", "2026-13-01", "tomorrow", ""] {
            assert_eq!(
                parse_retain_until(bad).unwrap_err().code(),
                "INVALID_ARGUMENT",
                "{bad}"
            );
        }
    }
}
