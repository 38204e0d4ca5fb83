//! `lifeboat audit list|verify`: the server's hash-chained audit log
//! (`GET /api/v1/audit`, `GET /api/v1/audit/verify`; docs/audit.md).

use clap::{Args, Subcommand};
use lifeboat_api::audit::{AuditOutcomeFilter, AuditQuery, AuditVerifyDto};

use super::error::{CliError, Report, Result, exit};
use super::output::TableView;
use super::{Ctx, GlobalOpts, TopArg, finish, time_arg};

const VIEW: TableView = &[
    ("Seq", "seq"),
    ("Time", "time"),
    ("Principal", "principal"),
    ("Operation", "operation"),
    ("Target", "target"),
    ("Phase", "phase"),
    ("Status", "status"),
    ("Code", "errorCode"),
];

const VERIFY_VIEW: TableView = &[
    ("Valid", "valid"),
    ("CheckedRows", "checkedRows"),
    ("HeadSeq", "headSeq"),
    ("BrokenSeq", "brokenSeq"),
    ("Problem", "problem"),
    ("Message", "message"),
];

#[derive(Args)]
#[command(after_help = "Examples:
  lifeboat audit list -o table
  lifeboat audit list --failed --since 2026-11-01T00:00:00Z -o table
  lifeboat audit list --principal alice --operation vault. --top 20
  lifeboat audit list --target /api/v1/vaults/prod --query \"[].{Seq:seq, Op:operation, Status:status}\" -o table
  lifeboat audit verify")]
pub struct AuditArgs {
    #[command(flatten)]
    global: GlobalOpts,
    #[command(subcommand)]
    cmd: AuditCmd,
}

#[derive(Subcommand)]
enum AuditCmd {
    /// List audit rows, newest first, with optional filters.
    #[command(after_help = "Examples:
  lifeboat audit list -o table
  lifeboat audit list --failed --since 2026-11-01T00:00:00Z
  lifeboat audit list --principal anonymous --top 50 -o table")]
    List {
        /// Only rows recorded at or after this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Only rows recorded before this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// Only rows of this principal (identity or token name; `anonymous`).
        #[arg(long, value_name = "NAME")]
        principal: Option<String>,
        /// Only operations starting with this (`vault.`, `item.stop`, …).
        #[arg(long, value_name = "PREFIX")]
        operation: Option<String>,
        /// Only targets (request paths) starting with this (`/api/v1/vaults/prod`).
        #[arg(long, value_name = "PREFIX")]
        target: Option<String>,
        /// Only requests that were refused or failed (status 400 and above).
        #[arg(long, conflicts_with = "succeeded")]
        failed: bool,
        /// Only requests that succeeded (status below 400).
        #[arg(long)]
        succeeded: bool,
        #[command(flatten)]
        top: TopArg,
    },
    /// Check the hash chain; exits 6 naming the first broken seq when rows
    /// were edited, deleted or reordered.
    #[command(after_help = "Examples:
  lifeboat audit verify
  lifeboat audit verify -o none && echo intact")]
    Verify,
}

/// Runs `lifeboat audit …`; returns the exit code.
pub fn run_audit(a: AuditArgs) -> u8 {
    finish(Ctx::new(&a.global).and_then(|ctx| run(&ctx, a.cmd)))
}

fn run(ctx: &Ctx, cmd: AuditCmd) -> Result<u8> {
    match cmd {
        AuditCmd::List {
            since,
            until,
            principal,
            operation,
            target,
            failed,
            succeeded,
            top,
        } => {
            let outcome = if failed {
                Some(AuditOutcomeFilter::Failure)
            } else if succeeded {
                Some(AuditOutcomeFilter::Success)
            } else {
                None
            };
            let query = AuditQuery {
                from: since
                    .as_deref()
                    .map(|t| time_arg(t, "--since"))
                    .transpose()?,
                to: until
                    .as_deref()
                    .map(|t| time_arg(t, "--until"))
                    .transpose()?,
                principal,
                operation,
                target,
                outcome: outcome.as_ref().map(lifeboat_api::wire_name),
                ..AuditQuery::default()
            };
            let rows = ctx.client.list_audit(&query, top.take())?;
            ctx.show(&rows, Some(VIEW))?;
            Ok(exit::OK)
        }
        AuditCmd::Verify => {
            let v = ctx.client.verify_audit()?;
            ctx.show(&v, Some(VERIFY_VIEW))?;
            Ok(verdict(&v))
        }
    }
}

/// Exit code of a verification answer, with the error line on stderr when
/// the log is not intact.
fn verdict(v: &AuditVerifyDto) -> u8 {
    if v.valid {
        return exit::OK;
    }
    let code = match v.code.as_deref() {
        None | Some("") => lifeboat_codes::AUDIT_CHAIN_BROKEN.as_str(),
        Some(c) => c,
    };
    let message = if v.message.is_empty() {
        "the audit log did not verify".to_owned()
    } else {
        v.message.clone()
    };
    let err = CliError::Api {
        status: 200,
        code: code.to_owned(),
        message,
        target: None,
    };
    eprintln!("{}", Report(&err));
    if code == lifeboat_codes::AUDIT_KEY_MISSING {
        exit::FAILED
    } else {
        exit::DAMAGE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(valid: bool, code: Option<&str>, message: &str) -> AuditVerifyDto {
        AuditVerifyDto {
            valid,
            checked_rows: 0,
            head_seq: 0,
            broken_seq: None,
            problem: None,
            code: code.map(str::to_owned),
            message: message.to_owned(),
        }
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(&answer(true, None, "")), exit::OK);
        assert_eq!(
            verdict(&answer(
                false,
                Some("AUDIT_CHAIN_BROKEN"),
                "seq 4: the row was edited"
            )),
            exit::DAMAGE
        );
        assert_eq!(
            verdict(&answer(false, Some("AUDIT_KEY_MISSING"), "x")),
            exit::FAILED
        );
        assert_eq!(verdict(&answer(false, None, "")), exit::DAMAGE);
    }
}
