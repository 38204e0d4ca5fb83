//! Key-encryption keys (KEKs): each vault's store passphrase (its "vault
//! secret") is kept in `<data>/secrets/vault-<id>.key` wrapped by a KEK
//! from one of three providers (docs/security.md, "Keys"):
//!
//! - `platform`: the server's own key, `<data>/secrets/platform.kek`
//!   (0600), created on first start; retired platform keys stay next to it
//!   as `platform-<fingerprint>.kek` after a rotation;
//! - `file:<path>`: a customer-managed key file (32 raw bytes, or 64 hex
//!   digits and an optional newline) that the operator controls;
//! - `command:<cmd>`: an external program (a KMS or HSM client) called as
//!   `<cmd> wrap` / `<cmd> unwrap` through `/bin/sh -c`, hex on stdin and
//!   stdout.
//!
//! The wrapped file format is in [`wrapped`]; a file that does not start
//! with its magic is the old format (the passphrase in the clear), read as
//! before and re-wrapped under the current provider when the service starts
//! ([`KeyRing::rewrap_all`]).

use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::error::{Result, ServiceError, codes};
use crate::secret_file::{write_new, write_replace};

mod wrapped;
use wrapped::{
    COMMAND_KEY_ID, KIND_COMMAND, KIND_FILE, KIND_PLATFORM, MAGIC, Wrapped, aad, check_value,
    header, kind_name,
};

/// Largest wrapped blob an external command may return.
const MAX_COMMAND_OUTPUT: usize = 64 * 1024;

/// Where a KEK comes from (`--kek-provider`, `--kek-previous`).
#[derive(Clone, PartialEq, Eq)]
pub enum KekProvider {
    /// `<data>/secrets/platform.kek`.
    Platform,
    /// A customer-managed key file.
    File(PathBuf),
    /// An external wrap/unwrap program.
    Command(String),
}

impl fmt::Debug for KekProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for KekProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KekProvider::Platform => f.write_str("platform"),
            KekProvider::File(p) => write!(f, "file:{}", p.display()),
            KekProvider::Command(c) => write!(f, "command:{c}"),
        }
    }
}

impl FromStr for KekProvider {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s == "platform" {
            Ok(KekProvider::Platform)
        } else if let Some(p) = s.strip_prefix("file:").filter(|p| !p.is_empty()) {
            Ok(KekProvider::File(PathBuf::from(p)))
        } else if let Some(c) = s.strip_prefix("command:").filter(|c| !c.trim().is_empty()) {
            Ok(KekProvider::Command(c.to_owned()))
        } else {
            Err(format!(
                "`{s}` is not a key provider: use platform, file:<path> or command:<program>"
            ))
        }
    }
}

impl KekProvider {
    fn kind(&self) -> u8 {
        match self {
            KekProvider::Platform => KIND_PLATFORM,
            KekProvider::File(_) => KIND_FILE,
            KekProvider::Command(_) => KIND_COMMAND,
        }
    }
}

/// The service's key settings.
#[derive(Debug, Clone)]
pub struct KeyConfig {
    /// New vaults are wrapped by this provider, and existing ones are
    /// re-wrapped to it when the service starts.
    pub current: KekProvider,
    /// Providers only used to unwrap (the old ones during a rotation). The
    /// platform key files are always tried as well.
    pub previous: Vec<KekProvider>,
    /// How long an external command may run.
    pub command_timeout: Duration,
    /// Retire `platform.kek` and make a new one at start.
    pub rotate_platform: bool,
}

impl Default for KeyConfig {
    fn default() -> Self {
        KeyConfig {
            current: KekProvider::Platform,
            previous: Vec::new(),
            command_timeout: Duration::from_secs(30),
            rotate_platform: false,
        }
    }
}

/// A 256-bit KEK read from a file, with its fingerprint.
struct Kek {
    key: [u8; 32],
    fingerprint: String,
}

impl Kek {
    fn new(key: [u8; 32]) -> Kek {
        let fp = blake3::derive_key("lifeboat kek fingerprint v1", &key);
        Kek {
            key,
            fingerprint: hex::encode(&fp[..16]),
        }
    }
}

fn parse_kek(bytes: &[u8]) -> Option<[u8; 32]> {
    if bytes.len() == 32 {
        return bytes.try_into().ok();
    }
    let text = std::str::from_utf8(bytes)
        .ok()?
        .trim_end_matches(['\n', '\r']);
    let v = hex::decode(text).ok()?;
    v.try_into().ok()
}

/// The KEK providers of one data folder.
#[derive(Debug, Clone)]
pub struct KeyRing {
    secrets: PathBuf,
    cfg: KeyConfig,
}

fn unavailable(vault: &str, provider: impl fmt::Display, why: impl fmt::Display) -> ServiceError {
    ServiceError::refused(
        codes::KEY_UNAVAILABLE,
        format!("vault {vault}"),
        format!(
            "the key-encryption key of vault {vault} is unavailable (provider {provider}): {why}; \
             the vault's data is intact: make the key available again and retry"
        ),
    )
}

fn mismatch(vault: &str, provider: impl fmt::Display, why: impl fmt::Display) -> ServiceError {
    ServiceError::refused(
        codes::KEY_MISMATCH,
        format!("vault {vault}"),
        format!(
            "the key-encryption key of vault {vault} does not match (provider {provider}): {why}; \
             the vault's data is intact: put the right key back and retry"
        ),
    )
}

impl KeyRing {
    /// The key ring of the secrets folder `<data>/secrets`.
    pub fn new(secrets: impl Into<PathBuf>, cfg: KeyConfig) -> KeyRing {
        KeyRing {
            secrets: secrets.into(),
            cfg,
        }
    }

    pub fn config(&self) -> &KeyConfig {
        &self.cfg
    }

    /// `<data>/secrets/platform.kek`.
    pub fn platform_path(&self) -> PathBuf {
        self.secrets.join("platform.kek")
    }

    fn retired_platform_path(&self, fingerprint: &str) -> PathBuf {
        self.secrets.join(format!("platform-{fingerprint}.kek"))
    }

    /// Creates the platform key if it does not exist yet, and with
    /// `rotate_platform` retires the current one and makes a new one.
    pub fn prepare(&self) -> Result<()> {
        let path = self.platform_path();
        if !path.exists() {
            let mut key = [0u8; 32];
            random(&mut key)?;
            write_new(&path, hex::encode(key).as_bytes())?;
            tracing::info!(path = %path.display(), "platform key-encryption key created; back it up");
        } else if self.cfg.rotate_platform {
            let old = self.read_kek_file(&path, "platform", &KekProvider::Platform)?;
            let retired = self.retired_platform_path(&old.fingerprint);
            if !retired.exists() {
                write_new(&retired, hex::encode(old.key).as_bytes())?;
            }
            let mut key = [0u8; 32];
            random(&mut key)?;
            write_replace(&path, hex::encode(key).as_bytes())?;
            tracing::info!(retired = %retired.display(), "platform key-encryption key rotated");
        }
        Ok(())
    }

    fn read_kek_file(&self, path: &Path, vault: &str, provider: &KekProvider) -> Result<Kek> {
        let bytes = fs::read(path).map_err(|e| {
            unavailable(
                vault,
                provider,
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let key = parse_kek(&bytes).ok_or_else(|| {
            mismatch(
                vault,
                provider,
                format!(
                    "{} is not a key (32 bytes, or 64 hex digits)",
                    path.display()
                ),
            )
        })?;
        Ok(Kek::new(key))
    }

    fn provider_kek(&self, p: &KekProvider, vault: &str) -> Result<Kek> {
        match p {
            KekProvider::Platform => self.read_kek_file(&self.platform_path(), vault, p),
            KekProvider::File(path) => self.read_kek_file(path, vault, p),
            KekProvider::Command(_) => Err(ServiceError::Internal(
                "a command provider has no key file".into(),
            )),
        }
    }

    /// Wraps a vault secret under the current provider: the key file's bytes.
    pub fn wrap(&self, vault: &str, secret: &[u8]) -> Result<Vec<u8>> {
        self.wrap_with(&self.cfg.current, vault, secret)
    }

    fn wrap_with(&self, p: &KekProvider, vault: &str, secret: &[u8]) -> Result<Vec<u8>> {
        let check = check_value(secret);
        match p {
            KekProvider::Command(cmd) => {
                let ct = self.run_command(cmd, "wrap", vault, secret, p)?;
                Ok(Wrapped {
                    kind: KIND_COMMAND,
                    key_id: COMMAND_KEY_ID.into(),
                    nonce: [0; 24],
                    check,
                    ct,
                }
                .encode())
            }
            _ => {
                if *p == KekProvider::Platform && !self.platform_path().exists() {
                    self.prepare()?;
                }
                let kek = self.provider_kek(p, vault)?;
                let mut nonce = [0u8; 24];
                random(&mut nonce)?;
                let h = header(p.kind(), &kek.fingerprint, &nonce, &check);
                let cipher = XChaCha20Poly1305::new((&kek.key).into());
                let ct = cipher
                    .encrypt(
                        &XNonce::from(nonce),
                        Payload {
                            msg: secret,
                            aad: &aad(&h, vault),
                        },
                    )
                    .map_err(|_| ServiceError::Internal("key wrapping failed".into()))?;
                Ok(Wrapped {
                    kind: p.kind(),
                    key_id: kek.fingerprint,
                    nonce,
                    check,
                    ct,
                }
                .encode())
            }
        }
    }

    /// Whether a key file's bytes are already wrapped by the current
    /// provider (its kind, and for key files the same key).
    pub fn is_current(&self, file: &[u8]) -> bool {
        let Some(w) = Wrapped::decode(file) else {
            return false;
        };
        let cur = &self.cfg.current;
        if w.kind != cur.kind() {
            return false;
        }
        match cur {
            KekProvider::Command(_) => true,
            p => self
                .provider_kek(p, "-")
                .map(|k| k.fingerprint == w.key_id)
                .unwrap_or(false),
        }
    }

    /// The vault secret in a key file's bytes (old plain files as they are).
    pub fn unwrap(&self, vault: &str, file: &[u8]) -> Result<Vec<u8>> {
        if !file.starts_with(MAGIC) {
            return Ok(trim_newline(file).to_vec());
        }
        let w = Wrapped::decode(file).ok_or_else(|| {
            ServiceError::refused(
                codes::KEY_FILE_DAMAGED,
                format!("vault {vault}"),
                format!(
                    "the wrapped key file of vault {vault} is damaged or of an unknown version"
                ),
            )
        })?;
        match w.kind {
            KIND_COMMAND => self.unwrap_command(vault, &w),
            KIND_PLATFORM | KIND_FILE => self.unwrap_aead(vault, &w),
            k => Err(ServiceError::refused(
                codes::KEY_FILE_DAMAGED,
                format!("vault {vault}"),
                format!("the key file of vault {vault} names an unknown key provider ({k})"),
            )),
        }
    }

    fn candidates(&self) -> impl Iterator<Item = &KekProvider> {
        std::iter::once(&self.cfg.current).chain(self.cfg.previous.iter())
    }

    fn unwrap_aead(&self, vault: &str, w: &Wrapped) -> Result<Vec<u8>> {
        let mut keys: Vec<(String, Result<Kek>)> = Vec::new();
        if w.kind == KIND_PLATFORM {
            let cur = self.platform_path();
            keys.push((
                "platform".into(),
                self.read_kek_file(&cur, vault, &KekProvider::Platform),
            ));
            let retired = self.retired_platform_path(&w.key_id);
            if w.key_id.chars().all(|c| c.is_ascii_hexdigit()) && retired.exists() {
                keys.push((
                    "platform".into(),
                    self.read_kek_file(&retired, vault, &KekProvider::Platform),
                ));
            }
        } else {
            for p in self.candidates() {
                if let KekProvider::File(_) = p {
                    keys.push((p.to_string(), self.provider_kek(p, vault)));
                }
            }
        }
        if keys.is_empty() {
            return Err(unavailable(
                vault,
                kind_name(w.kind),
                "no key file provider is configured (--kek-provider / --kek-previous file:<path>)",
            ));
        }
        let mut first_err = None;
        for (name, k) in keys {
            match k {
                Ok(k) if k.fingerprint == w.key_id => {
                    let h = header(w.kind, &w.key_id, &w.nonce, &w.check);
                    let cipher = XChaCha20Poly1305::new((&k.key).into());
                    let secret = cipher
                        .decrypt(
                            &XNonce::from(w.nonce),
                            Payload {
                                msg: &w.ct,
                                aad: &aad(&h, vault),
                            },
                        )
                        .map_err(|_| {
                            mismatch(vault, &name, "the wrapped secret does not authenticate")
                        })?;
                    return Ok(secret);
                }
                Ok(_) => {
                    first_err.get_or_insert_with(|| {
                        mismatch(
                            vault,
                            &name,
                            format!(
                                "the vault is wrapped by key {}, the provider holds another key",
                                w.key_id
                            ),
                        )
                    });
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        Err(first_err.unwrap_or_else(|| unavailable(vault, kind_name(w.kind), "no key")))
    }

    fn unwrap_command(&self, vault: &str, w: &Wrapped) -> Result<Vec<u8>> {
        let mut first_err = None;
        for p in self.candidates() {
            let KekProvider::Command(cmd) = p else {
                continue;
            };
            match self.run_command(cmd, "unwrap", vault, &w.ct, p) {
                Ok(secret) if check_value(&secret) == w.check => return Ok(secret),
                Ok(_) => {
                    first_err.get_or_insert_with(|| {
                        mismatch(vault, p, "the command returned a different secret")
                    });
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        Err(first_err.unwrap_or_else(|| {
            unavailable(
                vault,
                "command",
                "no command provider is configured (--kek-provider / --kek-previous command:<program>)",
            )
        }))
    }

    /// Runs `<cmd> <verb>` with `input` as one line of hex on stdin and
    /// reads one line of hex from stdout.
    fn run_command(
        &self,
        cmd: &str,
        verb: &str,
        vault: &str,
        input: &[u8],
        p: &KekProvider,
    ) -> Result<Vec<u8>> {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("{cmd} {verb}"))
            .env("LIFEBOAT_VAULT_ID", vault)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| unavailable(vault, p, format!("cannot start the command: {e}")))?;
        let mut stdin = child.stdin.take();
        let line = format!("{}\n", hex::encode(input));
        let writer = std::thread::spawn(move || {
            if let Some(s) = stdin.as_mut() {
                let _ = s.write_all(line.as_bytes());
            }
            drop(stdin);
        });
        let mut stdout = child.stdout.take();
        let reader = std::thread::spawn(move || {
            let mut out = Vec::new();
            if let Some(s) = stdout.as_mut() {
                let _ = s
                    .take(2 * MAX_COMMAND_OUTPUT as u64 + 2)
                    .read_to_end(&mut out);
            }
            out
        });
        let mut stderr = child.stderr.take();
        let err_reader = std::thread::spawn(move || {
            let mut out = Vec::new();
            if let Some(s) = stderr.as_mut() {
                let _ = s.take(4096).read_to_end(&mut out);
            }
            out
        });
        let deadline = Instant::now() + self.cfg.command_timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(unavailable(
                        vault,
                        p,
                        format!(
                            "`{verb}` did not finish within {} s and was killed",
                            self.cfg.command_timeout.as_secs()
                        ),
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(unavailable(vault, p, format!("waiting failed: {e}"))),
            }
        };
        let _ = writer.join();
        let out = reader.join().unwrap_or_default();
        let err = err_reader.join().unwrap_or_default();
        let err_line = String::from_utf8_lossy(&err)
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect::<String>();
        match status.code() {
            Some(0) => {}
            Some(4) => {
                return Err(mismatch(
                    vault,
                    p,
                    format!("`{verb}` exited with 4 (not this key): {err_line}"),
                ));
            }
            code => {
                return Err(unavailable(
                    vault,
                    p,
                    format!(
                        "`{verb}` failed (exit {}): {err_line}",
                        code.map(|c| c.to_string())
                            .unwrap_or_else(|| "by signal".into())
                    ),
                ));
            }
        }
        let text = String::from_utf8_lossy(&out);
        let text = text.trim();
        match hex::decode(text) {
            Ok(v) if !v.is_empty() && v.len() <= MAX_COMMAND_OUTPUT => Ok(v),
            _ => Err(unavailable(
                vault,
                p,
                format!("`{verb}` did not print one line of hex (at most 64 KiB decoded)"),
            )),
        }
    }
}

pub(crate) fn trim_newline(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 0 && (b[end - 1] == b'\n' || b[end - 1] == b'\r') {
        end -= 1;
    }
    &b[..end]
}

fn random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| {
        ServiceError::Internal(format!("the operating system's random source failed: {e}"))
    })
}

#[cfg(test)]
mod tests;
