//! The client configuration file written by `lifeboat login`:
//! `$XDG_CONFIG_HOME/lifeboat/config.json` (else `~/.config/lifeboat/config.json`).
//!
//! It keeps a token per server URL, so a token is only ever sent to the
//! server it was issued for, and the server to use when neither `--server`
//! nor `LIFEBOAT_SERVER` names one. The file is replaced atomically (write a
//! temporary file, fsync, rename) and is readable by its owner only.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{CliError, Result};

/// The server used when nothing else names one.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8460";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// The server `lifeboat login` last logged in to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Bearer tokens by normalized server URL.
    #[serde(default)]
    pub tokens: BTreeMap<String, String>,
}

/// Where the configuration file lives.
pub fn config_path() -> Result<PathBuf> {
    let from_env = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let base = match from_env("XDG_CONFIG_HOME") {
        Some(p) => p,
        None => from_env("HOME").map(|h| h.join(".config")).ok_or_else(|| {
            CliError::Config(
                "cannot find the configuration folder: set XDG_CONFIG_HOME or HOME".into(),
            )
        })?,
    };
    Ok(base.join("lifeboat").join("config.json"))
}

impl Config {
    /// Reads the file; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<Config> {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => {
                return Err(CliError::Config(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        serde_json::from_str(&text).map_err(|e| {
            CliError::Config(format!(
                "{} is not a valid configuration file: {e}",
                path.display()
            ))
        })
    }

    /// Writes the file atomically with mode 0600 (its folder 0700).
    pub fn save(&self, path: &Path) -> Result<()> {
        let io = |what: &str, p: &Path, e: std::io::Error| {
            CliError::Config(format!("cannot {what} {}: {e}", p.display()))
        };
        let dir = path
            .parent()
            .ok_or_else(|| CliError::Config(format!("{} has no folder", path.display())))?;
        if !dir.exists() {
            fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| io("set permissions on", dir, e))?;
        }
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| CliError::Config(format!("cannot encode the configuration: {e}")))?;
        text.push('\n');
        let tmp = dir.join(format!(".config.json.{}.tmp", std::process::id()));
        let result = (|| -> Result<()> {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| io("create", &tmp, e))?;
            // The mode above is filtered by the umask and ignored for an
            // existing file; set it explicitly before the token goes in.
            f.set_permissions(fs::Permissions::from_mode(0o600))
                .map_err(|e| io("set permissions on", &tmp, e))?;
            f.write_all(text.as_bytes())
                .map_err(|e| io("write", &tmp, e))?;
            f.sync_all().map_err(|e| io("sync", &tmp, e))?;
            fs::rename(&tmp, path).map_err(|e| io("replace", path, e))?;
            // Make the rename itself durable.
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// The token for `server` (a normalized URL).
    pub fn token_for(&self, server: &str) -> Option<&str> {
        self.tokens.get(server).map(String::as_str)
    }
}

/// Checks and normalizes a server URL: `http://` or `https://`, no trailing
/// slash; a bare `host:port` means `http://host:port`.
pub fn normalize_server(url: &str) -> Result<String> {
    let url = url.trim();
    if url.is_empty() {
        return Err(CliError::Usage("argument --server: empty URL".into()));
    }
    let with_scheme = if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    };
    let lower = with_scheme.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(CliError::Usage(format!(
            "argument --server: {url:?} is not an http:// or https:// URL"
        )));
    }
    let rest = &with_scheme[with_scheme.find("://").map_or(0, |i| i + 3)..];
    if rest.is_empty() || rest.starts_with('/') {
        return Err(CliError::Usage(format!(
            "argument --server: {url:?} has no host"
        )));
    }
    if with_scheme.contains(['?', '#']) {
        return Err(CliError::Usage(format!(
            "argument --server: {url:?} must not have a query or fragment"
        )));
    }
    Ok(with_scheme.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_normalized() {
        assert_eq!(
            normalize_server("http://127.0.0.1:8460/").unwrap(),
            "http://127.0.0.1:8460"
        );
        assert_eq!(
            normalize_server("backup01:8460").unwrap(),
            "http://backup01:8460"
        );
        assert_eq!(
            normalize_server("https://h/prefix/").unwrap(),
            "https://h/prefix"
        );
        assert!(normalize_server("ftp://h").is_err());
        assert!(normalize_server("http://").is_err());
        assert!(normalize_server("http://h/?x=1").is_err());
        assert!(normalize_server("").is_err());
    }

    #[test]
    fn save_is_private_and_load_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cfg").join("lifeboat").join("config.json");
        assert_eq!(Config::load(&path).unwrap(), Config::default());
        let mut c = Config {
            server: Some("http://127.0.0.1:8460".into()),
            ..Config::default()
        };
        c.tokens
            .insert("http://127.0.0.1:8460".into(), "secret-token".into());
        c.save(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        let back = Config::load(&path).unwrap();
        assert_eq!(back, c);
        assert_eq!(
            back.token_for("http://127.0.0.1:8460"),
            Some("secret-token")
        );
        assert_eq!(back.token_for("http://other:8460"), None);
        // Saving again replaces the file and leaves no temporary behind.
        c.server = None;
        c.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), c);
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("config.json")]);
    }

    #[test]
    fn a_damaged_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        fs::write(&path, "{not json").unwrap();
        let e = Config::load(&path).unwrap_err();
        assert_eq!(e.code(), "CONFIG_ERROR");
        assert!(e.to_string().contains("config.json"), "{e}");
    }
}
