//! `lifeboat backup job list|show|wait|stop`, and the waiting every
//! job-starting command shares (`--wait`).

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use lifeboat_api::jobs::{JobDto, JobQuery};
use lifeboat_model::job::JobErrorDetail;

use super::error::{CliError, Result, exit};
use super::output::TableView;
use super::{Ctx, TopArg, job_id, time_arg};

pub const VIEW: TableView = &[
    ("Name", "to_string(id)"),
    ("Operation", "jobType"),
    ("Status", "status"),
    ("Vault", "vault"),
    ("Item", "item"),
    ("StartTime", "startTime"),
    ("Duration", "duration"),
];

/// Failed polls in a row (about a second apart) `--wait` tolerates.
const MAX_UNREACHABLE_POLLS: u32 = 30;

#[derive(Args)]
pub struct JobArgs {
    #[command(subcommand)]
    cmd: JobCmd,
}

#[derive(Subcommand)]
enum JobCmd {
    /// List jobs, newest first, with optional filters.
    #[command(after_help = "Examples:
  lifeboat backup job list -o table
  lifeboat backup job list --vault prod --status InProgress
  lifeboat backup job list --vault prod --item data --operation Backup --top 10
  lifeboat backup job list --status Failed --query \"[].{Id:id, Item:item, Error:errors[0].errorCode}\" -o table")]
    List {
        /// Only jobs of this vault.
        #[arg(long, short = 'v')]
        vault: Option<String>,
        /// Only jobs of this protected item (needs --vault).
        #[arg(long, requires = "vault")]
        item: Option<String>,
        /// Only jobs in this status: Queued, InProgress, Completed, CompletedWithWarnings, Failed, Cancelling, Cancelled.
        #[arg(long)]
        status: Option<String>,
        /// Only jobs of this operation: Backup, Restore, DeleteBackupData, ExpirySweep, GarbageCollection.
        #[arg(long)]
        operation: Option<String>,
        /// Only jobs queued at or after this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// Only jobs queued before this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        to: Option<String>,
        #[command(flatten)]
        top: TopArg,
    },
    /// Show a job: status, progress, tasks, warnings and errors.
    #[command(after_help = "Examples:
  lifeboat backup job show --id 42
  lifeboat backup job show --id 42 --query progress.percent -o tsv")]
    Show {
        /// The job id.
        #[arg(long, visible_alias = "name", short = 'n')]
        id: String,
    },
    /// Wait until a job ends; exits non-zero if it failed.
    #[command(after_help = "Examples:
  lifeboat backup job wait --id 42
  lifeboat backup job wait --id 42 --timeout 3600 -o none")]
    Wait {
        /// The job id.
        #[arg(long, visible_alias = "name", short = 'n')]
        id: String,
        /// Give up after this many seconds (exit code 9; the job goes on).
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<u64>,
    },
    /// Ask a job to stop (cancel). A running deletion of backup data cannot stop half-way.
    #[command(after_help = "Examples:
  lifeboat backup job stop --id 42
  lifeboat backup job stop --id 42 --wait")]
    Stop {
        /// The job id.
        #[arg(long, visible_alias = "name", short = 'n')]
        id: String,
        /// Wait until the job has ended.
        #[arg(long)]
        wait: bool,
    },
}

pub fn run(ctx: &Ctx, a: JobArgs) -> Result<u8> {
    match a.cmd {
        JobCmd::List {
            vault,
            item,
            status,
            operation,
            from,
            to,
            top,
        } => {
            let query = JobQuery {
                vault,
                item,
                job_type: operation,
                state: status,
                from: from.as_deref().map(|t| time_arg(t, "--from")).transpose()?,
                to: to.as_deref().map(|t| time_arg(t, "--to")).transpose()?,
                ..JobQuery::default()
            };
            let jobs = ctx.client.list_jobs(&query, top.take())?;
            ctx.show(&jobs, Some(VIEW))?;
            Ok(exit::OK)
        }
        JobCmd::Show { id } => {
            let job = ctx.client.show_job(job_id(&id, "--id")?)?;
            ctx.show(&job, Some(VIEW))?;
            Ok(exit::OK)
        }
        JobCmd::Wait { id, timeout } => {
            let job = wait(ctx, job_id(&id, "--id")?, timeout.map(Duration::from_secs))?;
            conclude(ctx, job)
        }
        JobCmd::Stop { id, wait: w } => {
            let id = job_id(&id, "--id")?;
            let job = ctx.client.cancel_job(id)?;
            if w {
                let job = wait(ctx, id, None)?;
                return conclude(ctx, job);
            }
            ctx.show(&job, Some(VIEW))?;
            Ok(exit::OK)
        }
    }
}

/// After a command started a job: print it, or wait for it with `--wait`
/// and print how it ended.
pub fn started(ctx: &Ctx, job: JobDto, wait_for_it: bool) -> Result<u8> {
    if !wait_for_it {
        ctx.show(&job, Some(VIEW))?;
        return Ok(exit::OK);
    }
    let job = wait(ctx, job.id, None)?;
    conclude(ctx, job)
}

/// Prints a finished job and turns its status into an exit code (or an
/// error naming the job's first error).
pub fn conclude(ctx: &Ctx, job: JobDto) -> Result<u8> {
    ctx.show(&job, Some(VIEW))?;
    let id = job.id.to_string();
    match job.status.as_str() {
        "Completed" => Ok(exit::OK),
        "CompletedWithWarnings" => {
            let warnings = details(&job.warnings);
            for w in &warnings {
                ctx.warn(&format!("job {id}: ({}) {}", w.0, w.1));
            }
            let only_metadata = !warnings.is_empty()
                && warnings
                    .iter()
                    .all(|w| w.0 == lifeboat_codes::METADATA_NOT_RESTORED.as_str());
            Ok(if only_metadata {
                exit::METADATA_LOST
            } else {
                exit::WARNINGS
            })
        }
        status => {
            let (code, message) = details(&job.errors).into_iter().next().unwrap_or_else(|| {
                (
                    if status == "Cancelled" {
                        lifeboat_codes::JOB_CANCELLED.as_str()
                    } else {
                        lifeboat_codes::JOB_FAILED.as_str()
                    }
                    .to_owned(),
                    String::new(),
                )
            });
            let message = if message.is_empty() {
                format!("job {id} ended {status}")
            } else {
                format!("job {id} ended {status}: {message}")
            };
            Err(CliError::JobEnded {
                id,
                status: status.to_owned(),
                code,
                message,
            })
        }
    }
}

/// `(errorCode, errorString)` of a job's warnings or errors.
fn details(list: &[JobErrorDetail]) -> Vec<(String, String)> {
    list.iter()
        .map(|d| {
            let code = if d.error_code.is_empty() {
                lifeboat_codes::UNKNOWN.as_str()
            } else {
                d.error_code.as_str()
            };
            (code.to_owned(), d.error_string.clone())
        })
        .collect()
}

/// Polls a job until it ends (or `timeout` runs out), drawing its progress
/// on a terminal.
pub fn wait(ctx: &Ctx, id: i64, timeout: Option<Duration>) -> Result<JobDto> {
    let started = Instant::now();
    let bar = ctx.progress.then(|| {
        let b = indicatif::ProgressBar::new(100);
        b.set_style(
            indicatif::ProgressStyle::with_template("job {prefix} [{bar:30}] {pos}% {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b.set_prefix(id.to_string());
        b
    });
    let mut delay = Duration::from_millis(250);
    // A server restarting under a long wait is not the job's end: ride out
    // a few failed connections before giving up.
    let mut unreachable = 0u32;
    let result = loop {
        let job = match ctx.client.show_job(id).map_err(CliError::from) {
            Ok(j) => {
                unreachable = 0;
                j
            }
            Err(e @ CliError::Unreachable { .. })
                if unreachable < MAX_UNREACHABLE_POLLS
                    && timeout.is_none_or(|t| started.elapsed() < t) =>
            {
                unreachable += 1;
                if unreachable == 1 {
                    ctx.warn(&format!("{e}; still waiting for job {id}"));
                }
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
            Err(e) => break Err(e),
        };
        if job.is_terminal() {
            break Ok(job);
        }
        if let Some(b) = &bar {
            let (pos, msg) = progress_line(&job);
            b.set_position(pos);
            b.set_message(msg);
        }
        if let Some(t) = timeout
            && started.elapsed() >= t
        {
            break Err(CliError::WaitTimeout {
                id: id.to_string(),
                status: job.status,
                seconds: t.as_secs(),
            });
        }
        let mut pause = delay;
        if let Some(t) = timeout {
            pause = pause.min(t.saturating_sub(started.elapsed()));
        }
        std::thread::sleep(pause);
        // Quick jobs answer fast; long ones need not be asked 4 times a second.
        delay = (delay * 2).min(Duration::from_secs(1));
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    result
}

/// Percent and a short status text for the progress line.
pub fn progress_line(job: &JobDto) -> (u64, String) {
    let p = &job.progress;
    let percent = p.percent.unwrap_or(0.0).clamp(0.0, 100.0);
    let mut parts = vec![job.status.clone()];
    // Nothing counted yet (a queued job): the status says it all.
    let started = p.bytes_done > 0 || p.bytes_total.is_some() || p.files_done > 0;
    if started {
        let mut s = human_bytes(p.bytes_done as f64);
        if let Some(total) = p.bytes_total {
            s.push_str(&format!("/{}", human_bytes(total as f64)));
        }
        parts.push(s);
        parts.push(format!("{} files", p.files_done));
    }
    if let Some(eta) = p.eta_seconds {
        parts.push(format!("ETA {eta}s"));
    }
    (percent.round() as u64, parts.join(" "))
}

fn human_bytes(n: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n.max(0.0);
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0} {}", UNITS[0])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::error::job_exit_code;
    use lifeboat_api::jobs::ProgressDto;

    fn job(status: &str, progress: ProgressDto) -> JobDto {
        JobDto {
            id: 7,
            job_type: "Backup".into(),
            vault: Some("v".into()),
            item: None,
            status: status.into(),
            queued_time: chrono::Utc::now(),
            start_time: None,
            end_time: None,
            duration: None,
            progress,
            tasks: vec![],
            warnings: vec![],
            errors: vec![],
        }
    }

    #[test]
    fn progress_line_reads_the_progress_object() {
        let j = job(
            "InProgress",
            ProgressDto {
                bytes_done: 1536,
                bytes_total: Some(3072),
                files_done: 3,
                files_total: None,
                percent: Some(50.4),
                eta_seconds: Some(12),
            },
        );
        let (pos, msg) = progress_line(&j);
        assert_eq!(pos, 50);
        assert_eq!(msg, "InProgress 1.5 KiB/3.0 KiB 3 files ETA 12s");
        let (pos, msg) = progress_line(&job("Queued", ProgressDto::default()));
        assert_eq!((pos, msg.as_str()), (0, "Queued"));
    }

    #[test]
    fn details_take_the_job_errors() {
        let d = |c: &str, m: &str| JobErrorDetail {
            error_code: c.into(),
            error_string: m.into(),
            recommendations: vec![],
        };
        assert_eq!(
            details(&[d("SERVER_LOST", "gone")]),
            vec![("SERVER_LOST".into(), "gone".into())]
        );
        assert_eq!(
            details(&[d("", "/a changed")]),
            vec![("UNKNOWN".into(), "/a changed".into())]
        );
        assert!(details(&[]).is_empty());
        assert_eq!(job_exit_code("STORAGE_FULL"), exit::STORAGE_FULL);
        assert!(job("Cancelled", ProgressDto::default()).is_terminal());
        assert!(!job("Cancelling", ProgressDto::default()).is_terminal());
    }
}
