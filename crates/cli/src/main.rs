//! `lifeboat`: the command line. A thin layer over the library crates: it
//! parses arguments, asks for passphrases, shows progress and maps errors to
//! documented exit codes (docs/cli.md).

mod backup;
mod conflict_flags;
mod progress;
mod store_cmd;
mod store_gc;
mod vault_key;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use lifeboat_codes as codes;

#[derive(Parser)]
#[command(
    name = "lifeboat",
    version,
    about = "Lifeboat: self-hosted backup and disaster recovery"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with a vault store directly: back up, restore, verify, prune.
    Store(store_cmd::StoreArgs),
    /// Talk to a Lifeboat server: vaults, policies, protection, restores, jobs (az backup style).
    Backup(backup::BackupArgs),
    /// Check a token against a Lifeboat server and save it for `lifeboat backup`.
    Login(backup::login::LoginArgs),
    /// Identities (users, service principals) of a Lifeboat server: create, list, show, disable.
    Identity(backup::access::IdentityArgs),
    /// API tokens of an identity: create (shown once), list, revoke.
    Token(backup::access::TokenArgs),
    /// Role assignments (Owner, Backup Contributor/Operator/Reader) at server or vault scope.
    Role(backup::access::RoleArgs),
    /// The server's hash-chained audit log: list (with filters), verify.
    Audit(backup::audit::AuditArgs),
    /// Run the vault service: REST API, scheduler and job runner.
    Server(lifeboat_server::ServerArgs),
    /// A server's vault keys without the server: list the vault stores of a
    /// data folder, export one's passphrase for `lifeboat store`.
    VaultKey(vault_key::VaultKeyArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum Output {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON document on stdout; no progress output.
    Json,
}

/// Exit codes (docs/cli.md). Scripts may rely on them.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const PARTIAL: u8 = 3;
    pub const NO_VAULT: u8 = 4;
    pub const WRONG_PASSPHRASE: u8 = 5;
    pub const DAMAGE: u8 = 6;
    pub const STORAGE_FULL: u8 = 7;
    /// A restore wrote every entry, but some recorded metadata could not
    /// be set (the same code as `lifeboat backup restore --wait`'s).
    pub const METADATA_LOST: u8 = crate::backup::error::exit::METADATA_LOST;
}

/// An error that knows its exit code; the message is already printed or is printed by main.
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
    pub output: Output,
}

pub fn exit_code_for(e: &lifeboat_store::Error) -> u8 {
    match e.code() {
        codes::NOT_A_VAULT | codes::VAULT_FORMAT_NEWER => exit::NO_VAULT,
        codes::WRONG_PASSPHRASE => exit::WRONG_PASSPHRASE,
        codes::DATA_CORRUPT | codes::CHUNK_MISSING | codes::UNSAFE_PATH => exit::DAMAGE,
        codes::STORAGE_FULL => exit::STORAGE_FULL,
        codes::INVALID_ARGUMENT
        | codes::POINT_NOT_FOUND
        | codes::POINT_AMBIGUOUS
        | codes::PATH_NOT_FOUND
        | codes::LAST_KEY
        | codes::TARGET_EXISTS
        | codes::VAULT_EXISTS
        | codes::BACKEND_NOT_BUILT
        | codes::INVALID_BACKEND_URL => exit::USAGE,
        _ => exit::FAILED,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Store(args) => store_cmd::run(args),
        Command::Backup(args) => Ok(backup::run(args)),
        Command::Login(args) => Ok(backup::login::run(args)),
        Command::Identity(args) => Ok(backup::access::run_identity(args)),
        Command::Token(args) => Ok(backup::access::run_token(args)),
        Command::Role(args) => Ok(backup::access::run_role(args)),
        Command::Audit(args) => Ok(backup::audit::run_audit(args)),
        Command::VaultKey(args) => vault_key::run(args),
        Command::Server(args) => lifeboat_server::run(args)
            .map(|()| exit::OK)
            .map_err(|error| Failure {
                code: exit::FAILED,
                error,
                output: Output::Text,
            }),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            let store_err = f.error.downcast_ref::<lifeboat_store::Error>();
            let service_err = f.error.downcast_ref::<lifeboat_service::ServiceError>();
            let workload_err = f.error.downcast_ref::<lifeboat_workloads::WorkloadError>();
            let (code, hint) = match (store_err, service_err, workload_err) {
                (Some(e), _, _) => (e.code(), e.hint()),
                (None, Some(e), _) => (e.code(), ""),
                (None, None, Some(e)) => (e.code(), e.hint()),
                (None, None, None) => (codes::FAILED, ""),
            };
            if f.output == Output::Json {
                let j = serde_json::json!({
                    "error": { "code": code, "message": format!("{:#}", f.error), "hint": hint }
                });
                eprintln!("{j}");
            } else {
                eprintln!("error [{code}]: {:#}", f.error);
                if !hint.is_empty() {
                    eprintln!("hint: {hint}");
                }
            }
            ExitCode::from(f.code)
        }
    }
}
