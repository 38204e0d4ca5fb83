//! `lifeboat backup job list|show|wait|stop`, and the waiting every
//! job-starting command shares (`--wait`).

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::client::seg;
use super::error::{CliError, Result, exit};
use super::output::TableView;
use super::{Ctx, TopArg, id_text, str_field};

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

/// Statuses a job does not leave.
const TERMINAL: [&str; 4] = ["Completed", "CompletedWithWarnings", "Failed", "Cancelled"];

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
            let filters: Vec<(&str, String)> = [
                ("vault", vault),
                ("item", item),
                ("state", status),
                ("type", operation),
                ("from", from),
                ("to", to),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
            let jobs = ctx.client.list("/api/v1/jobs", &filters, top.get())?;
            ctx.show(&Value::Array(jobs), Some(VIEW))?;
            Ok(exit::OK)
        }
        JobCmd::Show { id } => {
            let job = ctx.client.get(&job_path(&id))?;
            ctx.show(&job, Some(VIEW))?;
            Ok(exit::OK)
        }
        JobCmd::Wait { id, timeout } => {
            let job = wait(ctx, &id, timeout.map(Duration::from_secs))?;
            conclude(ctx, job)
        }
        JobCmd::Stop { id, wait: w } => {
            let answer = ctx
                .client
                .post(&format!("{}/cancel", job_path(&id)), &json!({}))?;
            if w {
                let job = wait(ctx, &id, None)?;
                return conclude(ctx, job);
            }
            let job = if answer.is_null() {
                ctx.client.get(&job_path(&id))?
            } else {
                answer
            };
            ctx.show(&job, Some(VIEW))?;
            Ok(exit::OK)
        }
    }
}

fn job_path(id: &str) -> String {
    format!("/api/v1/jobs/{}", seg(id))
}

/// The job in an answer that started one (202): the job itself, or a
/// `job` field of it.
pub fn job_of(answer: &Value) -> Option<&Value> {
    if answer.get("jobType").is_some() && answer.get("id").is_some() {
        return Some(answer);
    }
    answer.get("job").filter(|j| j.is_object())
}

/// After a command started a job: print it, or wait for it with `--wait`
/// and print how it ended.
pub fn started(ctx: &Ctx, answer: Value, wait_for_it: bool) -> Result<u8> {
    if !wait_for_it {
        ctx.show(&answer, job_of(&answer).map(|_| VIEW))?;
        return Ok(exit::OK);
    }
    let id = job_of(&answer)
        .and_then(|j| j.get("id"))
        .and_then(id_text)
        .ok_or_else(|| CliError::Protocol {
            url: ctx.client.base().to_owned(),
            detail: format!("the server started no job to wait for: {answer}"),
        })?;
    let job = wait(ctx, &id, None)?;
    conclude(ctx, job)
}

/// Prints a finished job and turns its status into an exit code (or an
/// error naming the job's first error).
pub fn conclude(ctx: &Ctx, job: Value) -> Result<u8> {
    ctx.show(&job, Some(VIEW))?;
    let id = job.get("id").and_then(id_text).unwrap_or_default();
    match str_field(&job, "status") {
        "Completed" => Ok(exit::OK),
        "CompletedWithWarnings" => {
            for w in details(&job, "warnings") {
                ctx.warn(&format!("job {id}: ({}) {}", w.0, w.1));
            }
            Ok(exit::WARNINGS)
        }
        status => {
            let (code, message) = details(&job, "errors")
                .into_iter()
                .next()
                .unwrap_or_else(|| {
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

/// `(errorCode, errorString)` of a job's `warnings` or `errors`.
fn details(job: &Value, key: &str) -> Vec<(String, String)> {
    job.get(key)
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|d| {
                    let code = d
                        .get("errorCode")
                        .or_else(|| d.get("code"))
                        .and_then(Value::as_str)
                        .unwrap_or(lifeboat_codes::UNKNOWN.as_str());
                    let text = d
                        .get("errorString")
                        .or_else(|| d.get("message"))
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    (code.to_owned(), text.to_owned())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Polls a job until it ends (or `timeout` runs out), drawing its progress
/// on a terminal.
pub fn wait(ctx: &Ctx, id: &str, timeout: Option<Duration>) -> Result<Value> {
    let started = Instant::now();
    let bar = ctx.progress.then(|| {
        let b = indicatif::ProgressBar::new(100);
        b.set_style(
            indicatif::ProgressStyle::with_template("job {prefix} [{bar:30}] {pos}% {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b.set_prefix(id.to_owned());
        b
    });
    let mut delay = Duration::from_millis(250);
    // A server restarting under a long wait is not the job's end: ride out
    // a few failed connections before giving up.
    let mut unreachable = 0u32;
    let result = loop {
        let job = match ctx.client.get(&job_path(id)) {
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
        let status = str_field(&job, "status").to_owned();
        if TERMINAL.contains(&status.as_str()) {
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
                id: id.to_owned(),
                status,
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
pub fn progress_line(job: &Value) -> (u64, String) {
    let p = job.get("progress");
    let num = |k: &str| p.and_then(|p| p.get(k)).and_then(Value::as_f64);
    let percent = num("percent").unwrap_or(0.0).clamp(0.0, 100.0);
    let mut parts = vec![str_field(job, "status").to_owned()];
    if let Some(done) = num("bytesDone") {
        let mut s = human_bytes(done);
        if let Some(total) = num("bytesTotal") {
            s.push_str(&format!("/{}", human_bytes(total)));
        }
        parts.push(s);
    }
    if let Some(files) = num("filesDone") {
        parts.push(format!("{files} files"));
    }
    if let Some(eta) = num("etaSeconds") {
        parts.push(format!("ETA {}s", eta.round()));
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

    #[test]
    fn the_job_is_found_in_start_answers() {
        let bare = json!({"id": 7, "jobType": "Backup", "status": "Queued"});
        assert_eq!(job_of(&bare), Some(&bare));
        let wrapped =
            json!({"item": {"name": "x"}, "job": {"id": "8", "jobType": "DeleteBackupData"}});
        assert_eq!(
            job_of(&wrapped).and_then(|j| j.get("id")).and_then(id_text),
            Some("8".to_owned())
        );
        assert_eq!(job_of(&json!({"name": "item"})), None);
    }

    #[test]
    fn progress_line_reads_the_progress_object() {
        let job = json!({"status": "InProgress", "progress": {
            "bytesDone": 1536, "bytesTotal": 3072, "filesDone": 3, "percent": 50.4, "etaSeconds": 12.2}});
        let (pos, msg) = progress_line(&job);
        assert_eq!(pos, 50);
        assert_eq!(msg, "InProgress 1.5 KiB/3.0 KiB 3 files ETA 12s");
        let (pos, msg) = progress_line(&json!({"status": "Queued"}));
        assert_eq!((pos, msg.as_str()), (0, "Queued"));
    }

    #[test]
    fn details_take_azure_or_plain_names() {
        let job = json!({"errors": [{"errorCode": "SERVER_LOST", "errorString": "gone"}],
                         "warnings": [{"code": "FILE_CHANGED", "message": "/a changed"}]});
        assert_eq!(
            details(&job, "errors"),
            vec![("SERVER_LOST".into(), "gone".into())]
        );
        assert_eq!(
            details(&job, "warnings"),
            vec![("FILE_CHANGED".into(), "/a changed".into())]
        );
        assert!(details(&job, "missing").is_empty());
        assert_eq!(job_exit_code("STORAGE_FULL"), exit::STORAGE_FULL);
    }
}
