//! `lifeboat backup …` and `lifeboat login`: the az-shaped client of the
//! Lifeboat server's REST API (`/api/v1`, docs/service.md).
//!
//! Shape: each resource module (vault, policy, protection, item,
//! recoverypoint, restore, job) turns its flags into one or a few calls of
//! the typed API client (`lifeboat_api::client`: the request and answer
//! types the server itself uses) and hands the answer to [`output`], which
//! applies `--query` and prints json, jsonc, yaml, tsv, table or nothing,
//! as az does. The client is blocking: a command is a short sequence of
//! requests, and waiting for a job is a poll loop. Errors print as `ERROR: (CODE) message`
//! on stderr and map to the exit codes in docs/cli-backup.md.
//!
//! Where the server is and which token to send: `--server` (or
//! `LIFEBOAT_SERVER`), else the server of the last `lifeboat login`, else
//! `http://127.0.0.1:8460`; the token from `LIFEBOAT_TOKEN`, else the one
//! `lifeboat login` stored for that server ([`config`]).

pub mod access;
pub mod audit;
pub mod client;
pub mod config;
mod deleted_vault;
pub mod error;
mod guard;
mod item;
mod job;
pub mod login;
pub mod output;
mod policy;
mod protection;
mod recoverypoint;
mod restore;
mod vault;

use std::io::{IsTerminal, Write};

use clap::{Args, Subcommand};
use config::{Config, DEFAULT_SERVER, config_path, normalize_server};
use error::{CliError, Report, Result};
use lifeboat_api::client::Client;
use output::{Format, Style, TableView};
use serde::Serialize;

#[derive(Args)]
#[command(after_help = "Examples:
  lifeboat login --server http://127.0.0.1:8460
  lifeboat backup vault create --name prod
  lifeboat backup protection enable --vault prod --policy DefaultPolicy --path /srv/data
  lifeboat backup protection backup-now --vault prod --item data --wait
  lifeboat backup recoverypoint list --vault prod --item data -o table
  lifeboat backup restore files --vault prod --item data --point latest --target-path /tmp/restore --wait
  lifeboat backup job list --vault prod --status Failed --query \"[].{Id:id, Item:item}\" -o table")]
pub struct BackupArgs {
    #[command(flatten)]
    global: GlobalOpts,
    #[command(subcommand)]
    cmd: BackupCmd,
}

/// Options every `lifeboat backup` command takes.
#[derive(Args, Clone)]
pub struct GlobalOpts {
    /// The Lifeboat server [default: the server of `lifeboat login`, else http://127.0.0.1:8460].
    #[arg(long, global = true, env = "LIFEBOAT_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, env = "LIFEBOAT_OUTPUT", default_value_t = Format::Json)]
    pub output: Format,
    /// JMESPath query applied to the result before it is formatted, e.g. "[].name".
    #[arg(long, global = true, value_name = "JMESPATH")]
    pub query: Option<String>,
    /// Only show errors on stderr: no warnings, no progress.
    #[arg(long, global = true)]
    pub only_show_errors: bool,
    /// Also trust the CA certificates in this PEM file (a private CA of an HTTPS server).
    #[arg(long, global = true, env = "LIFEBOAT_CA_FILE", value_name = "PEM")]
    pub ca_file: Option<std::path::PathBuf>,
}

#[derive(Subcommand)]
enum BackupCmd {
    /// Vaults: create, list, show, update, delete.
    Vault(vault::VaultArgs),
    /// Soft-deleted vaults: list, show, undelete.
    DeletedVault(deleted_vault::DeletedVaultArgs),
    /// Backup policies of a vault: list, show, create, set, delete.
    Policy(policy::PolicyArgs),
    /// Protect data sources: enable, backup-now, disable, resume.
    Protection(protection::ProtectionArgs),
    /// Protected items: list, show, set-policy.
    Item(item::ItemArgs),
    /// Recovery points of a protected item: list, show.
    Recoverypoint(recoverypoint::RecoveryPointArgs),
    /// Restore files and folders, or a disk image, from a recovery point.
    Restore(restore::RestoreArgs),
    /// Jobs: list, show, wait, stop.
    Job(job::JobArgs),
    /// Multi-user authorization: resource guards, their holders and approval requests.
    ResourceGuard(guard::ResourceGuardArgs),
}

/// Runs a `lifeboat backup` command; returns the exit code.
pub fn run(args: BackupArgs) -> u8 {
    let result = Ctx::new(&args.global).and_then(|ctx| match args.cmd {
        BackupCmd::Vault(a) => vault::run(&ctx, a),
        BackupCmd::DeletedVault(a) => deleted_vault::run(&ctx, a),
        BackupCmd::Policy(a) => policy::run(&ctx, a),
        BackupCmd::Protection(a) => protection::run(&ctx, a),
        BackupCmd::Item(a) => item::run(&ctx, a),
        BackupCmd::Recoverypoint(a) => recoverypoint::run(&ctx, a),
        BackupCmd::Restore(a) => restore::run(&ctx, a),
        BackupCmd::Job(a) => job::run(&ctx, a),
        BackupCmd::ResourceGuard(a) => guard::run(&ctx, a),
    });
    finish(result)
}

/// Prints an error the az way and picks the exit code.
pub(crate) fn finish(result: Result<u8>) -> u8 {
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", Report(&e));
            e.exit_code()
        }
    }
}

/// What every command needs: the client, how to print, whether to talk.
pub struct Ctx {
    pub client: Client,
    pub style: Style,
    pub only_errors: bool,
    /// Draw job progress (stderr is a terminal and not `--only-show-errors`).
    pub progress: bool,
}

impl Ctx {
    fn new(g: &GlobalOpts) -> Result<Ctx> {
        let cfg = match config_path() {
            Ok(p) => Config::load(&p)?,
            // No HOME: still fine with --server and LIFEBOAT_TOKEN.
            Err(_) => Config::default(),
        };
        let server = normalize_server(
            g.server
                .as_deref()
                .filter(|s| !s.is_empty())
                .or(cfg.server.as_deref())
                .unwrap_or(DEFAULT_SERVER),
        )?;
        let token = std::env::var("LIFEBOAT_TOKEN")
            .ok()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .or_else(|| cfg.token_for(&server).map(str::to_owned));
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Ok(Ctx {
            client: client::connect(server, token, g.ca_file.as_deref())?,
            style: Style {
                format: g.output,
                query: g.query.clone(),
                color,
            },
            only_errors: g.only_show_errors,
            progress: !g.only_show_errors && std::io::stderr().is_terminal(),
        })
    }

    /// Prints a result in the chosen format.
    pub fn show(&self, value: &impl Serialize, view: Option<TableView>) -> Result<()> {
        let value = serde_json::to_value(value).map_err(|e| CliError::Protocol {
            url: self.client.base().to_owned(),
            detail: format!("cannot show the answer: {e}"),
        })?;
        let text = output::render(&value, &self.style, view)?;
        write_stdout(&text);
        Ok(())
    }

    /// A warning on stderr, unless `--only-show-errors`.
    pub fn warn(&self, msg: &str) {
        if !self.only_errors {
            eprintln!("WARNING: {msg}");
        }
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
pub(crate) fn write_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

/// `--top`: how many elements a list command fetches at most.
#[derive(Args, Clone, Copy)]
pub struct TopArg {
    /// Return at most this many elements (default: all, following nextLink).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub top: Option<u32>,
}

impl TopArg {
    pub fn get(self) -> Option<usize> {
        self.top.map(|t| t as usize)
    }

    /// How much of a paged list to read.
    pub fn take(self) -> lifeboat_api::client::Take {
        client::take(self.get())
    }

    /// The first `--top` rows of a list the server answers whole.
    pub fn cut<T>(self, mut rows: Vec<T>) -> Vec<T> {
        if let Some(t) = self.get() {
            rows.truncate(t);
        }
        rows
    }
}

/// A job id from a flag.
pub(crate) fn job_id(id: &str, arg: &str) -> Result<i64> {
    id.trim()
        .parse()
        .map_err(|_| CliError::Usage(format!("argument {arg}: {id:?} is not a job id (a number)")))
}

/// An RFC 3339 time from a flag.
pub(crate) fn time_arg(s: &str, arg: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| {
            CliError::Usage(format!(
                "argument {arg}: {s:?} is not an RFC 3339 time: {e}"
            ))
        })
}

/// Makes a local path absolute against the current folder. The server runs
/// the backup or restore on its own machine, so this helps only when the
/// CLI runs there too; absolute paths are sent unchanged.
pub(crate) fn absolute(path: &std::path::Path, arg: &str) -> Result<String> {
    let abs = std::path::absolute(path)
        .map_err(|e| CliError::Usage(format!("argument {arg}: {}: {e}", path.display())))?;
    abs.to_str()
        .map(str::to_owned)
        .ok_or_else(|| CliError::Usage(format!("argument {arg}: {} is not UTF-8", abs.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The subcommand tree as the binary parses it.
    #[derive(Parser)]
    struct Test {
        #[command(subcommand)]
        cmd: Top,
    }

    #[derive(Subcommand)]
    enum Top {
        Backup(BackupArgs),
    }

    fn parse(args: &[&str]) -> std::result::Result<BackupArgs, clap::Error> {
        let mut full = vec!["lifeboat", "backup"];
        full.extend_from_slice(args);
        Test::try_parse_from(full).map(|t| match t.cmd {
            Top::Backup(b) => b,
        })
    }

    #[test]
    fn clap_tree_is_consistent() {
        use clap::CommandFactory;
        Test::command().debug_assert();
    }

    #[test]
    fn global_options_go_anywhere_and_default_to_json() {
        let a = parse(&["vault", "list"]).unwrap();
        assert_eq!(a.global.output, Format::Json);
        let a = parse(&[
            "vault",
            "list",
            "-o",
            "table",
            "--query",
            "[].name",
            "--server",
            "http://h:1",
        ])
        .unwrap();
        assert_eq!(a.global.output, Format::Table);
        assert_eq!(a.global.query.as_deref(), Some("[].name"));
        assert_eq!(a.global.server.as_deref(), Some("http://h:1"));
        assert!(parse(&["vault", "list", "-o", "xml"]).is_err());
    }

    #[test]
    fn disable_needs_exactly_one_mode() {
        let base = ["protection", "disable", "--vault", "v", "--item", "i"];
        assert!(parse(&base).is_err());
        let mut both = base.to_vec();
        both.extend(["--retain-data", "--delete-data"]);
        assert!(parse(&both).is_err());
        let mut one = base.to_vec();
        one.push("--retain-as-per-policy");
        assert!(parse(&one).is_ok());
    }

    #[test]
    fn enable_needs_a_path_or_a_disk() {
        let base = [
            "protection",
            "enable",
            "--vault",
            "v",
            "--policy",
            "DefaultPolicy",
        ];
        assert!(parse(&base).is_err());
        let mut p = base.to_vec();
        p.extend(["--path", "/srv/data"]);
        assert!(parse(&p).is_ok());
        let mut both = p.clone();
        both.extend(["--disk", "/img.raw"]);
        assert!(parse(&both).is_err());
    }

    #[test]
    fn restore_files_takes_one_conflict_mode() {
        let base = [
            "restore",
            "files",
            "--vault",
            "v",
            "--item",
            "i",
            "--point",
            "latest",
            "--target-path",
            "/tmp/x",
        ];
        assert!(parse(&base).is_ok());
        let mut both = base.to_vec();
        both.extend(["--overwrite", "--skip-existing"]);
        assert!(parse(&both).is_err());
    }
}
