//! `lifeboat store …`: direct access to a vault store.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use lifeboat_nbd::ExportOptions;
use lifeboat_store::backend::{Backend, BackendUrl};
use lifeboat_store::backup::{BackupOptions, backup_files};
use lifeboat_store::browse::{diff, under};
use lifeboat_store::config::VaultConfig;
use lifeboat_store::gc::{execute_forget, plan_forget};
use lifeboat_store::keyfile::KdfParams;
use lifeboat_store::manifest::{ChunkRef, Entry, EntryType, Point};
use lifeboat_store::names::display;
use lifeboat_store::restore::{RestoreOptions, entries, restore};
use lifeboat_store::retention::{KeepPolicy, parse_duration};
use lifeboat_store::upload::Progress;
use lifeboat_store::util::human_bytes;
use lifeboat_store::verify::{ReadData, verify};
use lifeboat_store::{Error, Vault};
use lifeboat_workloads::WorkloadError;
use lifeboat_workloads::disk::backup_image;
use lifeboat_workloads::files::store_conflict;
use serde_json::json;

use crate::progress::Display;
use crate::{Failure, Output, exit, exit_code_for};

mod args;
pub use args::StoreArgs;
use args::{KeyCmd, StoreCmd};

type CmdResult = Result<u8, Failure>;

/// A workload's error as the command reports it: the store's own errors
/// keep their type, so their exit codes stay as documented.
fn workload_error(e: WorkloadError) -> anyhow::Error {
    match e {
        WorkloadError::Store(s) => s.into(),
        other => other.into(),
    }
}

fn fail(output: Output) -> impl Fn(anyhow::Error) -> Failure {
    move |error| {
        let code = error
            .downcast_ref::<Error>()
            .map(exit_code_for)
            .unwrap_or(exit::FAILED);
        Failure {
            code,
            error,
            output,
        }
    }
}

fn read_secret(
    file: Option<&Path>,
    env: &str,
    prompt: &str,
    confirm: bool,
) -> anyhow::Result<String> {
    if let Some(f) = file {
        let s = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        return Ok(s.lines().next().unwrap_or("").to_string());
    }
    if let Ok(s) = std::env::var(env) {
        return Ok(s);
    }
    if !std::io::stdin().is_terminal() && !std::io::stderr().is_terminal() {
        return Err(Error::InvalidArgument(format!(
            "no passphrase: set {env}, pass --passphrase-file, or run on a terminal"
        ))
        .into());
    }
    let p = rpassword::prompt_password(prompt)?;
    if confirm {
        let again = rpassword::prompt_password("Repeat it: ")?;
        if again != p {
            return Err(Error::InvalidArgument("the passphrases do not match".into()).into());
        }
    }
    Ok(p)
}

fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

pub fn run(a: StoreArgs) -> CmdResult {
    let out = a.output;
    let f = fail(out);
    run_inner(a).map_err(f)
}

fn run_inner(a: StoreArgs) -> anyhow::Result<u8> {
    let out = a.output;
    let show_progress = out == Output::Text && !a.quiet;
    let vault_path = a
        .vault
        .clone()
        .ok_or_else(|| Error::InvalidArgument("give --vault (or set LIFEBOAT_VAULT)".into()))?;
    let url: BackendUrl = vault_path.parse().map_err(Error::from)?;
    let backend: Arc<dyn Backend> = lifeboat_store::backend::open(&url).map_err(Error::from)?;
    let pass_file = a.passphrase_file.as_deref();
    if let StoreCmd::Init { pack_size_mib } = a.cmd {
        let mut config = VaultConfig::new_default();
        config.pack_size = pack_size_mib.saturating_mul(1024 * 1024);
        config.validate().map_err(|_| {
            Error::InvalidArgument("--pack-size-mib must be between 1 and 256".into())
        })?;
        let pass = read_secret(
            pass_file,
            "LIFEBOAT_PASSPHRASE",
            "New vault passphrase: ",
            true,
        )?;
        let vault = Vault::init(
            backend,
            pass.as_bytes(),
            KdfParams::from_env_or_default(),
            config,
        )?;
        if out == Output::Json {
            print_json(
                &json!({ "vault": vault_path, "vault_id": vault.config().vault_id, "config": vault.config() }),
            );
        } else {
            println!(
                "created vault {} at {}",
                vault.config().vault_id,
                vault_path
            );
            println!("keep the passphrase safe: without it the data cannot be read");
        }
        return Ok(exit::OK);
    }
    // Refuse a non-vault or newer vault before asking for anything.
    Vault::read_config(backend.as_ref())?;
    let pass = read_secret(
        pass_file,
        "LIFEBOAT_PASSPHRASE",
        "Vault passphrase: ",
        false,
    )?;
    let mut vault = Vault::open(backend, pass.as_bytes())?;
    if let Some(c) = &a.cache_dir {
        vault = vault.with_cache_root(c.clone());
    }
    match a.cmd {
        StoreCmd::Init { .. } => unreachable!("handled above"),
        StoreCmd::Backup {
            paths,
            disk,
            tags,
            host,
            parent,
            force,
            read_limit,
        } => {
            let parent = match parent {
                Some(p) => Some(vault.resolve_point(&p)?.0),
                None => None,
            };
            let opts = BackupOptions {
                tags,
                host,
                parent,
                force_read: force,
                read_limit: read_limit.map(|m| m << 20),
            };
            let counters = Arc::new(Progress::default());
            let mut warnings = 0u64;
            let mut warn = |w: &str| {
                warnings += 1;
                if out == Output::Text {
                    eprintln!("warning: {w}");
                }
            };
            let outcome = {
                let total = disk
                    .as_ref()
                    .and_then(|d| std::fs::metadata(d).ok())
                    .map(|m| m.len());
                let _d = Display::start(show_progress, "backup", counters.clone(), total);
                match &disk {
                    Some(d) => backup_image(
                        &vault,
                        d,
                        &opts,
                        &ExportOptions::default(),
                        counters.clone(),
                        &mut warn,
                    )
                    .map_err(workload_error)?,
                    None => backup_files(&vault, &paths, &opts, counters.clone(), &mut warn)?,
                }
            };
            let p = &outcome.point;
            if out == Output::Json {
                print_json(&json!({ "id": outcome.id, "point": p }));
            } else {
                let s = &p.summary;
                println!(
                    "point {} saved: {} files, {} dirs, {} ({} new, {} stored after compression), {} unchanged files, {:.1}s",
                    outcome.id.short(),
                    s.files,
                    s.dirs,
                    human_bytes(s.bytes),
                    human_bytes(s.added_bytes),
                    human_bytes(s.added_stored_bytes),
                    s.unchanged_files,
                    s.duration_ms as f64 / 1000.0
                );
                if s.warnings > 0 {
                    println!("{} warnings; consistency: {:?}", s.warnings, p.consistency);
                }
            }
            Ok(if p.summary.warnings > 0 {
                exit::PARTIAL
            } else {
                exit::OK
            })
        }
        StoreCmd::Points => {
            let (points, bad) = vault.points()?;
            if out == Output::Json {
                let list: Vec<_> = points
                    .iter()
                    .map(|(id, p)| json!({ "id": id, "point": p }))
                    .collect();
                let bad: Vec<_> = bad
                    .iter()
                    .map(|(id, e)| json!({ "id": id, "error": e.to_string() }))
                    .collect();
                print_json(&json!({ "points": list, "unreadable": bad }));
            } else {
                println!(
                    "{:<10} {:<20} {:<12} {:<6} {:>10} {:>10}  paths",
                    "id", "time (UTC)", "host", "kind", "size", "added"
                );
                for (id, p) in &points {
                    println!(
                        "{:<10} {:<20} {:<12} {:<6} {:>10} {:>10}  {}",
                        id.short(),
                        p.time.format("%Y-%m-%d %H:%M:%S"),
                        p.host,
                        p.kind.as_str(),
                        human_bytes(p.summary.bytes),
                        human_bytes(p.summary.added_stored_bytes),
                        p.paths.join(" ")
                    );
                }
                for (id, e) in &bad {
                    println!("{:<10} UNREADABLE: {e}", id.short());
                }
                println!("{} points", points.len());
            }
            Ok(if bad.is_empty() {
                exit::OK
            } else {
                exit::DAMAGE
            })
        }
        StoreCmd::Ls { point, path, long } => {
            let (_, p) = vault.resolve_point(&point)?;
            let index = vault.load_index()?;
            let prefix = path.unwrap_or_default();
            let mut found = prefix.is_empty();
            let mut list = Vec::new();
            for e in entries(&vault, &index, &p) {
                let e = e?;
                if !under(&e.path, &prefix) {
                    continue;
                }
                found = true;
                if out == Output::Json {
                    list.push(serde_json::to_value(&e)?);
                } else if long {
                    println!("{}", long_line(&e));
                } else {
                    println!("/{}", display(&e.path));
                }
            }
            if !found {
                return Err(Error::PathNotFound(prefix).into());
            }
            if out == Output::Json {
                print_json(&json!(list));
            }
            Ok(exit::OK)
        }
        StoreCmd::Restore {
            point,
            target,
            include,
            conflict,
            format,
            threads,
        } => {
            let (id, p) = vault.resolve_point(&point)?;
            let opts = RestoreOptions {
                includes: include,
                conflict: store_conflict(conflict.conflict()),
                disk_format: format,
                threads: threads.map(usize::from),
            };
            let counters = Arc::new(Progress::default());
            let report = {
                let _d = Display::start(
                    show_progress,
                    "restore",
                    counters.clone(),
                    Some(p.summary.bytes),
                );
                restore(&vault, &id, &p, &target, &opts, counters.clone())?
            };
            if out == Output::Json {
                print_json(&json!({ "point": id, "report": report }));
            } else {
                println!(
                    "restored {} files, {} dirs, {} into {}{}",
                    report.files,
                    report.dirs,
                    human_bytes(report.bytes),
                    target.display(),
                    if report.skipped > 0 {
                        format!(" ({} skipped: existed)", report.skipped)
                    } else {
                        String::new()
                    }
                );
                for e in &report.errors {
                    eprintln!("error: {e}");
                }
                for m in &report.metadata_lost {
                    eprintln!(
                        "warning: ({}) {}: {} not set: {}",
                        lifeboat_codes::METADATA_NOT_RESTORED,
                        display(&m.path),
                        m.what,
                        m.error
                    );
                }
                if !report.metadata_lost.is_empty() {
                    eprintln!(
                        "warning: {} part(s) of the recorded metadata could not be set (docs/restore.md)",
                        report.metadata_lost.len()
                    );
                }
            }
            Ok(if !report.errors.is_empty() {
                exit::PARTIAL
            } else if !report.metadata_lost.is_empty() {
                exit::METADATA_LOST
            } else {
                exit::OK
            })
        }
        StoreCmd::Diff { point_a, point_b } => {
            let (_, pa) = vault.resolve_point(&point_a)?;
            let (_, pb) = vault.resolve_point(&point_b)?;
            let index = vault.load_index()?;
            let mut items = Vec::new();
            diff(&vault, &index, &pa, &pb, |d| {
                if out == Output::Json {
                    items.push(d);
                } else {
                    println!("{} /{}", d.change.symbol(), display(&d.path));
                }
            })?;
            if out == Output::Json {
                print_json(&json!(items));
            }
            Ok(exit::OK)
        }
        StoreCmd::Verify {
            read_data,
            read_data_subset,
            repair_index,
        } => {
            let mode = match (read_data, read_data_subset) {
                (true, _) => ReadData::All,
                (false, Some(s)) => {
                    let pct: f64 = s
                        .trim_end_matches('%')
                        .parse()
                        .ok()
                        .filter(|p: &f64| *p > 0.0 && *p <= 100.0)
                        .ok_or_else(|| {
                            Error::InvalidArgument(format!("{s:?} is not a percentage like 10%"))
                        })?;
                    ReadData::Subset(pct)
                }
                _ => ReadData::None,
            };
            let r = verify(&vault, mode, repair_index)?;
            if out == Output::Json {
                print_json(&json!({ "clean": r.is_clean(), "report": r }));
            } else {
                if r.index_repaired {
                    println!("index rebuilt from packs");
                }
                println!(
                    "{} points, {} packs; read {} packs ({}), {} chunks checked",
                    r.points,
                    r.packs,
                    r.packs_read,
                    human_bytes(r.bytes_read),
                    r.chunks_checked
                );
                for d in &r.damaged_packs {
                    println!("damaged pack: {d}");
                }
                for d in &r.damaged_index_segments {
                    println!("damaged index segment: {d} (run verify --repair-index)");
                }
                for d in &r.damaged_points {
                    println!(
                        "damaged point {}: {} ({} files affected)",
                        d.id.short(),
                        d.reason,
                        d.affected_files
                    );
                    for f in d.files.iter().take(20) {
                        println!("  /{f}");
                    }
                }
                println!(
                    "{}",
                    if r.is_clean() {
                        "no errors found"
                    } else {
                        "ERRORS FOUND"
                    }
                );
            }
            Ok(if r.is_clean() { exit::OK } else { exit::DAMAGE })
        }
        StoreCmd::Forget {
            keep_last,
            keep_hourly,
            keep_daily,
            keep_weekly,
            keep_monthly,
            keep_yearly,
            keep_within,
            dry_run,
        } => {
            let within = match keep_within {
                Some(w) => Some(parse_duration(&w).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "--keep-within {w:?}: use e.g. 7d, 12h, 2w, 1y6m"
                    ))
                })?),
                None => None,
            };
            let policy = KeepPolicy {
                last: keep_last,
                hourly: keep_hourly,
                daily: keep_daily,
                weekly: keep_weekly,
                monthly: keep_monthly,
                yearly: keep_yearly,
                within,
            };
            let plan = plan_forget(&vault, &policy)?;
            let removed = if dry_run {
                0
            } else {
                execute_forget(&vault, &plan)?
            };
            if out == Output::Json {
                print_json(&json!({ "dry_run": dry_run, "removed": removed, "plan": plan }));
            } else {
                for i in &plan {
                    println!(
                        "{} {} {} {}  {}",
                        if i.keep { "keep  " } else { "forget" },
                        i.id.short(),
                        i.time.format("%Y-%m-%d %H:%M:%S"),
                        i.host,
                        i.reasons.join(",")
                    );
                }
                let n = plan.iter().filter(|i| !i.keep).count();
                if dry_run {
                    println!("dry run: would forget {n} of {} points", plan.len());
                } else {
                    println!(
                        "forgot {removed} of {} points; run `lifeboat store gc` to free their data",
                        plan.len()
                    );
                }
            }
            Ok(exit::OK)
        }
        StoreCmd::Gc { dry_run } => {
            crate::store_gc::run(&vault, dry_run, out)?;
            Ok(exit::OK)
        }
        StoreCmd::Key { cmd } => match cmd {
            KeyCmd::Add {
                new_passphrase_file,
                label,
            } => {
                let newp = read_secret(
                    new_passphrase_file.as_deref(),
                    "LIFEBOAT_NEW_PASSPHRASE",
                    "New passphrase: ",
                    true,
                )?;
                let id =
                    vault.key_add(newp.as_bytes(), KdfParams::from_env_or_default(), &label)?;
                if out == Output::Json {
                    print_json(&json!({ "added": id }));
                } else {
                    println!("added key {}", id.short());
                }
                Ok(exit::OK)
            }
            KeyCmd::List => {
                let keys = vault.key_list(pass.as_bytes())?;
                if out == Output::Json {
                    print_json(&json!(keys));
                } else {
                    for k in keys {
                        println!(
                            "{} {} {} {}{}",
                            if k.current { "*" } else { " " },
                            k.id.short(),
                            k.created.format("%Y-%m-%d %H:%M:%S"),
                            k.host,
                            if k.label.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", k.label)
                            }
                        );
                    }
                }
                Ok(exit::OK)
            }
            KeyCmd::Remove { id } => {
                let removed = vault.key_remove(&id)?;
                if out == Output::Json {
                    print_json(&json!({ "removed": removed }));
                } else {
                    println!("removed key {}", removed.short());
                }
                Ok(exit::OK)
            }
        },
    }
}

fn long_line(e: &Entry) -> String {
    let t = match e.kind {
        EntryType::Dir => 'd',
        EntryType::Symlink => 'l',
        EntryType::Hardlink => 'h',
        EntryType::Fifo => 'p',
        EntryType::Chardev => 'c',
        EntryType::Blockdev => 'b',
        EntryType::Socket => 's',
        EntryType::Disk => 'D',
        EntryType::File => '-',
    };
    let time = chrono::DateTime::from_timestamp_nanos(e.mtime).format("%Y-%m-%d %H:%M:%S");
    let holes: u64 = e
        .chunks
        .iter()
        .map(|c| if let ChunkRef::Zero(n) = c { *n } else { 0 })
        .sum();
    let mut s = format!(
        "{t}{:o} {:>5} {:>5} {:>12} {time} /{}",
        e.mode & 0o7777,
        e.uid,
        e.gid,
        e.size,
        display(&e.path)
    );
    if let Some(target) = &e.target {
        s.push_str(&format!(" -> {}", display(target)));
    }
    if let Some(l) = &e.link {
        s.push_str(&format!(" => /{}", display(l)));
    }
    if holes > 0 {
        s.push_str(&format!(" ({} sparse)", human_bytes(holes)));
    }
    s
}

#[allow(dead_code)]
fn describe(p: &Point) -> String {
    format!("{} {}", p.time, p.paths.join(" "))
}
