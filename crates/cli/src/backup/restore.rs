//! `lifeboat backup restore files|disk`.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand};
use lifeboat_api::points::RestoreRequest;
use lifeboat_model::source::DiskFormat;

use super::error::{CliError, Result};
use super::recoverypoint::resolve_point;
use super::{Ctx, absolute, job};
use crate::conflict_flags::ConflictFlags;

#[derive(Args)]
pub struct RestoreArgs {
    #[command(subcommand)]
    cmd: RestoreCmd,
}

#[derive(Subcommand)]
enum RestoreCmd {
    /// Restore files and folders of a path item, to where they were or elsewhere.
    #[command(
        group(ArgGroup::new("target").required(true).args(["target_path", "original_location"])),
        after_help = "Examples:
  lifeboat backup restore files --vault prod --item data --point latest --target-path /tmp/restore --wait
  lifeboat backup restore files --vault prod --item data --point 3f2a9c0d --original-location --overwrite
  lifeboat backup restore files --vault prod --item data --point latest --target-path /tmp/r \\
      --include etc --include www/index.html --skip-existing

An alternate target gets the files under their original absolute path
(/tmp/restore/srv/data/...). Without --overwrite or --skip-existing an
existing file stops the restore (conflict: fail)."
    )]
    Files {
        #[command(flatten)]
        at: PointAt,
        /// Restore under this folder (`original` means the original location).
        #[arg(long, value_name = "DIR")]
        target_path: Option<PathBuf>,
        /// Restore to the original location.
        #[arg(long)]
        original_location: bool,
        /// Only these paths, relative to the protected folder (repeat the flag).
        #[arg(long, value_name = "PATH")]
        include: Vec<String>,
        #[command(flatten)]
        conflict: ConflictFlags,
        /// Wait until the restore job ends; exit non-zero if it failed.
        #[arg(long)]
        wait: bool,
    },
    /// Restore a disk item's point to a new image file.
    #[command(after_help = "Examples:
  lifeboat backup restore disk --vault prod --item web-disk --point latest --target-file /var/lib/images/web-restored.raw --wait
  lifeboat backup restore disk --vault prod --item web-disk --point 3f2a9c0d --target-file /tmp/web.qcow2 --format qcow2")]
    Disk {
        #[command(flatten)]
        at: PointAt,
        /// The new image file (must not exist).
        #[arg(long, value_name = "FILE")]
        target_file: PathBuf,
        /// Image format.
        #[arg(long, value_parser = ["raw", "qcow2"])]
        format: Option<String>,
        /// Wait until the restore job ends; exit non-zero if it failed.
        #[arg(long)]
        wait: bool,
    },
}

pub fn run(ctx: &Ctx, a: RestoreArgs) -> Result<u8> {
    match a.cmd {
        RestoreCmd::Files {
            at,
            target_path,
            original_location,
            include,
            conflict,
            wait,
        } => {
            let target = match (target_path, original_location) {
                (_, true) => None,
                (Some(p), false) if p.as_os_str() == "original" => None,
                (Some(p), false) => Some(absolute(&p, "--target-path")?),
                (None, false) => {
                    return Err(CliError::Usage(
                        "give --target-path DIR or --original-location".into(),
                    ));
                }
            };
            let req = RestoreRequest::files(target, conflict.conflict(), include);
            start(ctx, &at, &req, wait)
        }
        RestoreCmd::Disk {
            at,
            target_file,
            format,
            wait,
        } => {
            let format = match format.as_deref() {
                None => None,
                Some("qcow2") => Some(DiskFormat::Qcow2),
                Some(_) => Some(DiskFormat::Raw),
            };
            let req = RestoreRequest::disk(absolute(&target_file, "--target-file")?, format);
            start(ctx, &at, &req, wait)
        }
    }
}

/// The recovery point a restore starts from.
#[derive(Args)]
struct PointAt {
    /// The vault.
    #[arg(long, short = 'v')]
    vault: String,
    /// The protected item.
    #[arg(long, short = 'i')]
    item: String,
    /// The recovery point id, or `latest`.
    #[arg(long, short = 'p', visible_alias = "rp-name")]
    point: String,
}

fn start(ctx: &Ctx, at: &PointAt, req: &RestoreRequest, wait: bool) -> Result<u8> {
    let id = resolve_point(ctx, &at.vault, &at.item, &at.point)?;
    let job = ctx.client.restore(&at.vault, &at.item, &id, req)?;
    job::started(ctx, job, wait)
}
