//! The arguments of `lifeboat store …`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::Output;
use crate::conflict_flags::ConflictFlags;

#[derive(Args)]
#[command(after_help = "Examples:
  lifeboat store init --vault ./v
  lifeboat store backup --vault ./v /srv/data /etc
  lifeboat store backup --vault ./v --disk /var/lib/images/web.raw
  lifeboat store points --vault ./v
  lifeboat store restore --vault ./v latest --target ./out
  lifeboat store verify --vault ./v --read-data-subset 10%
  lifeboat store forget --vault ./v --keep-daily 7 --keep-weekly 4 --dry-run")]
pub struct StoreArgs {
    /// The vault: a folder, or a URL (file:///srv/vault; docs/backends.md).
    #[arg(long, global = true, env = "LIFEBOAT_VAULT")]
    pub(super) vault: Option<String>,
    /// Read the passphrase from this file (first line). Otherwise LIFEBOAT_PASSPHRASE, else a prompt.
    #[arg(long, global = true)]
    pub(super) passphrase_file: Option<PathBuf>,
    /// Where the local index cache lives (default: LIFEBOAT_CACHE_DIR or ~/.cache/lifeboat).
    #[arg(long, global = true)]
    pub(super) cache_dir: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Output::Text)]
    pub(super) output: Output,
    /// Do not show progress.
    #[arg(long, global = true)]
    pub(super) quiet: bool,
    #[command(subcommand)]
    pub(super) cmd: StoreCmd,
}

#[derive(Subcommand)]
pub(super) enum StoreCmd {
    /// Create a new vault (asks for a passphrase twice).
    Init {
        /// Target size of pack files in MiB (1-256). Larger packs mean fewer
        /// objects; smaller ones suit slow object stores.
        #[arg(long, default_value_t = 8)]
        pack_size_mib: u32,
    },
    /// Back up files and folders, or a disk image with --disk.
    #[command(
        after_help = "Examples:\n  lifeboat store backup --vault ./v /srv/data /etc --tag nightly\n  lifeboat store backup --vault ./v --disk web.qcow2"
    )]
    Backup {
        /// Files and folders to back up.
        paths: Vec<PathBuf>,
        /// Back up this disk image (raw, or anything qemu-img reads) instead of paths.
        #[arg(long, conflicts_with = "paths")]
        disk: Option<PathBuf>,
        /// Tags to record (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Host name to record (default: this machine's).
        #[arg(long)]
        host: Option<String>,
        /// Point to compare with for change detection (default: the latest with the same host and paths).
        #[arg(long)]
        parent: Option<String>,
        /// Read every file even when the parent says it is unchanged.
        #[arg(long)]
        force: bool,
        /// Read the source at most this fast, in MiB/s (default: no cap).
        #[arg(long, value_name = "MIB_PER_SEC",
              value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        read_limit: Option<u64>,
    },
    /// List recovery points.
    Points,
    /// List the contents of a point.
    Ls {
        /// Point id (or unique prefix), or `latest`.
        point: String,
        /// Only this path and what is under it.
        path: Option<String>,
        /// Show mode, owner, size and time.
        #[arg(short, long)]
        long: bool,
    },
    /// Restore a point into a folder (disk points: an image file in that folder).
    #[command(
        after_help = "Examples:\n  lifeboat store restore --vault ./v latest --target ./out\n  lifeboat store restore --vault ./v 3fa2 --target / --include srv/data --overwrite\n  lifeboat store restore --vault ./v latest --target ./img --format qcow2"
    )]
    Restore {
        point: String,
        #[arg(long)]
        target: PathBuf,
        /// Restore only these paths (repeatable).
        #[arg(long)]
        include: Vec<String>,
        #[command(flatten)]
        conflict: ConflictFlags,
        /// Disk points: raw (sparse, default) or qcow2.
        #[arg(long)]
        format: Option<String>,
        /// Threads writing files (default: one per CPU, at most 8).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
        threads: Option<u16>,
    },
    /// Show what changed between two points.
    Diff { point_a: String, point_b: String },
    /// Check that every point can be restored.
    Verify {
        /// Read and check every byte of every pack.
        #[arg(long, conflicts_with = "read_data_subset")]
        read_data: bool,
        /// Read a random share of the packs, e.g. 10%.
        #[arg(long)]
        read_data_subset: Option<String>,
        /// Rebuild the index from the packs first.
        #[arg(long)]
        repair_index: bool,
    },
    /// Remove points by retention rules (data is freed by `gc`).
    Forget {
        #[arg(long, default_value_t = 0)]
        keep_last: u32,
        #[arg(long, default_value_t = 0)]
        keep_hourly: u32,
        #[arg(long, default_value_t = 0)]
        keep_daily: u32,
        #[arg(long, default_value_t = 0)]
        keep_weekly: u32,
        #[arg(long, default_value_t = 0)]
        keep_monthly: u32,
        #[arg(long, default_value_t = 0)]
        keep_yearly: u32,
        /// Keep every point newer than this before the newest (e.g. 7d, 12h, 1y6m).
        #[arg(long)]
        keep_within: Option<String>,
        /// Show the plan; remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Free the space of data no point needs (safe while backups run).
    Gc {
        /// Show the plan; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Manage passphrases.
    Key {
        #[command(subcommand)]
        cmd: KeyCmd,
    },
}

#[derive(Subcommand)]
pub(super) enum KeyCmd {
    /// Add a passphrase (new one from --new-passphrase-file, LIFEBOAT_NEW_PASSPHRASE or a prompt).
    Add {
        #[arg(long)]
        new_passphrase_file: Option<PathBuf>,
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List passphrase slots.
    List,
    /// Remove a passphrase slot by id (prefix). The last one cannot be removed.
    Remove { id: String },
}
