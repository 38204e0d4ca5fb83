//! `lifeboat vault-key`: the way into a server's vaults on the day the
//! server or its catalog is gone. Each vault's store is an ordinary vault
//! store whose passphrase (the vault secret) is kept wrapped by a
//! key-encryption key in `<data>/secrets/` (docs/security.md, "Keys").
//! With the data folder and the KEK, `export` unwraps that passphrase into
//! a file of your own, and every `lifeboat store` command (points, restore,
//! verify, `key add` for a passphrase you choose) works on
//! `<data>/vaults/<id>` directly. Nothing here writes to the data folder.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use lifeboat_catalog::VaultId;
use lifeboat_codes as codes;
use lifeboat_service::{KekProvider, KeyConfig, ServiceError, VaultStorage};
use lifeboat_store::{Error, Vault};
use serde_json::json;

use crate::{Failure, Output, exit};

#[derive(Args)]
pub struct VaultKeyArgs {
    #[command(subcommand)]
    cmd: VaultKeyCmd,
}

#[derive(Subcommand)]
enum VaultKeyCmd {
    /// List the vault stores of a data folder: whether each one's key
    /// unwraps, and its points (to tell vaults apart without the catalog).
    List {
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Write a vault's store passphrase to a new file (mode 0600), to open
    /// `<data>/vaults/<id>` with `lifeboat store --passphrase-file`.
    Export {
        #[command(flatten)]
        keys: KeyArgs,
        /// The vault's id (its folder under `<data>/vaults`; see `list`).
        #[arg(long, value_name = "ID")]
        vault_id: i64,
        /// The file to create; an existing file is never overwritten.
        #[arg(long, value_name = "PATH")]
        passphrase_file: PathBuf,
    },
}

/// The server's data folder and key providers, as `lifeboat server` takes
/// them.
#[derive(Args)]
struct KeyArgs {
    /// The server's data folder.
    #[arg(long, value_name = "DIR", default_value = "./lifeboat-data")]
    data: PathBuf,
    /// Key-encryption key provider: `platform`, `file:<path>` or
    /// `command:<program>` (the platform key files are always tried).
    #[arg(
        long,
        value_name = "PROVIDER",
        env = "LIFEBOAT_KEK_PROVIDER",
        default_value = "platform"
    )]
    kek_provider: KekProvider,
    /// Further providers to try (an older key during a rotation). Repeatable.
    #[arg(long, value_name = "PROVIDER")]
    kek_previous: Vec<KekProvider>,
    /// How long a `command:` provider may run per call.
    #[arg(long, value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    kek_command_timeout: u64,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
    output: Output,
}

impl KeyArgs {
    fn storage(&self) -> VaultStorage {
        VaultStorage::with_keys(
            &self.data,
            KeyConfig {
                current: self.kek_provider.clone(),
                previous: self.kek_previous.clone(),
                command_timeout: Duration::from_secs(self.kek_command_timeout),
                rotate_platform: false,
            },
        )
    }
}

pub fn run(a: VaultKeyArgs) -> Result<u8, Failure> {
    match a.cmd {
        VaultKeyCmd::List { keys } => list(&keys),
        VaultKeyCmd::Export {
            keys,
            vault_id,
            passphrase_file,
        } => export(&keys, VaultId(vault_id), &passphrase_file),
    }
}

fn fail(output: Output, e: ServiceError) -> Failure {
    let code = match e.code() {
        codes::INVALID_ARGUMENT => exit::USAGE,
        codes::VAULT_STORAGE => exit::NO_VAULT,
        _ => exit::FAILED,
    };
    Failure {
        code,
        error: anyhow::Error::new(e),
        output,
    }
}

fn export(keys: &KeyArgs, id: VaultId, to: &std::path::Path) -> Result<u8, Failure> {
    let storage = keys.storage();
    let store = storage.vault_dir(id);
    if !storage.exists(id) {
        return Err(fail(
            keys.output,
            ServiceError::Refused {
                code: codes::VAULT_STORAGE,
                target: store.display().to_string(),
                message: format!(
                    "no vault store at {}; `lifeboat vault-key list --data {}` shows the vaults",
                    store.display(),
                    keys.data.display()
                ),
            },
        ));
    }
    storage
        .export_passphrase(id, to)
        .map_err(|e| fail(keys.output, e))?;
    if keys.output == Output::Json {
        println!(
            "{}",
            json!({"vaultId": id.0, "store": store, "passphraseFile": to})
        );
    } else {
        println!(
            "wrote the passphrase of vault {id} to {} (mode 0600; keep it as safe as the key itself)",
            to.display()
        );
        println!(
            "open the store with: lifeboat store points --vault {} --passphrase-file {}",
            store.display(),
            to.display()
        );
    }
    Ok(exit::OK)
}

fn list(keys: &KeyArgs) -> Result<u8, Failure> {
    let storage = keys.storage();
    let ids = storage.store_ids().map_err(|e| fail(keys.output, e))?;
    let mut rows = Vec::new();
    let mut trouble = false;
    for id in ids {
        let row = describe(&storage, id);
        trouble |= row.get("error").is_some();
        rows.push(row);
    }
    if keys.output == Output::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "vaults": rows })).unwrap_or_default()
        );
    } else if rows.is_empty() {
        println!(
            "no vault stores under {}",
            keys.data.join("vaults").display()
        );
    } else {
        println!(
            "{:<6} {:>7} {:<20} {:<12}  paths / problem",
            "id", "points", "latest (UTC)", "host"
        );
        for r in &rows {
            match r.get("error") {
                Some(e) => println!("{:<6} {:>7} {}", r["vaultId"], "-", e["message"]),
                None => println!(
                    "{:<6} {:>7} {:<20} {:<12}  {}",
                    r["vaultId"],
                    r["points"],
                    r["latest"]["time"].as_str().unwrap_or("-"),
                    r["latest"]["host"].as_str().unwrap_or("-"),
                    r["latest"]["paths"]
                        .as_array()
                        .map(|p| p
                            .iter()
                            .filter_map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(" "))
                        .unwrap_or_default()
                ),
            }
        }
    }
    // A vault that cannot be opened is worth a non-zero exit in a script.
    Ok(if trouble { exit::PARTIAL } else { exit::OK })
}

/// One vault store: its points, or why it does not open.
fn describe(storage: &VaultStorage, id: VaultId) -> serde_json::Value {
    let store = storage.vault_dir(id);
    let opened = storage.secret(id).map_err(|e| (e.code(), e.to_string()));
    let opened = opened.and_then(|pass| {
        let backend = storage.backend(id).map_err(|e| (e.code(), e.to_string()))?;
        Vault::open(backend, &pass)
            .and_then(|v| v.points())
            .map_err(|e: Error| (e.code(), e.to_string()))
    });
    match opened {
        Ok((points, _unreadable)) => {
            let latest = points.iter().map(|(_, p)| p).max_by_key(|p| p.time);
            json!({
                "vaultId": id.0,
                "store": store,
                "points": points.len(),
                "latest": latest.map(|p| json!({
                    "time": p.time.format("%Y-%m-%d %H:%M:%S").to_string(),
                    "host": p.host,
                    "paths": p.paths,
                })),
            })
        }
        Err((code, message)) => json!({
            "vaultId": id.0,
            "store": store,
            "error": {"code": code, "message": format!("[{code}] {message}")},
        }),
    }
}
