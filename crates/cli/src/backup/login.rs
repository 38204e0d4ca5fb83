//! `lifeboat login`: checks a token against a server and stores it in the
//! configuration file for later `lifeboat backup` commands.

use std::io::{BufRead, IsTerminal};

use clap::Args;
use serde_json::json;

use super::client::{connect, take};
use super::config::{Config, DEFAULT_SERVER, config_path, normalize_server};
use super::error::{CliError, Result, exit};
use super::finish;

#[derive(Args)]
#[command(after_help = "Examples:
  lifeboat login --server http://127.0.0.1:8460            (asks for the token)
  lifeboat login --server http://backup01:8460 --token \"$TOKEN\"
  printf '%s\\n' \"$TOKEN\" | lifeboat login --token-stdin

The token is checked against the server, then kept per server in
$XDG_CONFIG_HOME/lifeboat/config.json (else ~/.config/lifeboat/config.json),
readable by you only. That server becomes the default for `lifeboat backup`.
LIFEBOAT_TOKEN, when set, takes precedence over the stored token.")]
pub struct LoginArgs {
    /// The Lifeboat server.
    #[arg(long, env = "LIFEBOAT_SERVER", default_value = DEFAULT_SERVER, value_name = "URL")]
    server: String,
    /// The bearer token (else read from stdin with --token-stdin, else asked on the terminal).
    #[arg(long, conflicts_with = "token_stdin")]
    token: Option<String>,
    /// Read the token from the first line of standard input.
    #[arg(long)]
    token_stdin: bool,
    /// Only show errors.
    #[arg(long)]
    only_show_errors: bool,
    /// Also trust the CA certificates in this PEM file (a private CA of an HTTPS server).
    #[arg(long, env = "LIFEBOAT_CA_FILE", value_name = "PEM")]
    ca_file: Option<std::path::PathBuf>,
}

/// Runs `lifeboat login`; returns the exit code.
pub fn run(a: LoginArgs) -> u8 {
    finish(login(a))
}

fn login(a: LoginArgs) -> Result<u8> {
    let server = normalize_server(&a.server)?;
    let token = match (a.token, a.token_stdin) {
        (Some(t), _) => t,
        (None, true) => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| CliError::Usage(format!("cannot read the token from stdin: {e}")))?;
            line
        }
        (None, false) => {
            if !std::io::stdin().is_terminal() {
                return Err(CliError::Usage(
                    "no token: give --token, --token-stdin, or run on a terminal to be asked"
                        .into(),
                ));
            }
            rpassword::prompt_password(format!("Token for {server}: "))
                .map_err(|e| CliError::Usage(format!("cannot read the token: {e}")))?
        }
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        return Err(CliError::Usage("the token is empty".into()));
    }

    // Any authenticated call proves the token; the smallest list will do.
    // FORBIDDEN still proves it: the token is valid, its roles just do not
    // include reading vaults (an Agent token, say).
    let client = connect(server.clone(), Some(token.clone()), a.ca_file.as_deref())?;
    match client.list_vaults(take(Some(1))).map_err(CliError::from) {
        Ok(_) => {}
        Err(CliError::Api { status: 403, .. }) => {}
        Err(e) => return Err(e),
    }

    let path = config_path()?;
    let mut cfg = Config::load(&path)?;
    cfg.server = Some(server.clone());
    cfg.tokens.insert(server.clone(), token);
    cfg.save(&path)?;
    if !a.only_show_errors {
        eprintln!("Logged in to {server}; token saved in {}", path.display());
    }
    let out = json!({"server": server, "configFile": path.display().to_string()});
    super::write_stdout(&super::output::pretty_json(&out));
    Ok(exit::OK)
}
