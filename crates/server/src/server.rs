//! Starting and stopping a server: `lifeboat server`'s arguments, the
//! catalog and data folder, the first administrator token, the service,
//! the listener, and graceful shutdown on SIGINT / SIGTERM.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::ValueEnum;
use lifeboat_catalog::{Catalog, CatalogError};
use lifeboat_service::{Clock, FileClock, Service, ServiceConfig, ServiceHandle, SystemClock};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::auth::{self, Bootstrap};
use crate::state::{AppState, Inner};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `lifeboat server`: run the vault service and its REST API.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Examples:
  lifeboat server
  lifeboat server --data /var/lib/lifeboat --listen 0.0.0.0:8460
  lifeboat server --catalog postgres://lifeboat@db/lifeboat --worker-id node-a

On first start the server prints an administrator token once (or takes
LIFEBOAT_ADMIN_TOKEN, at least 32 characters, and stores only its hash).")]
pub struct ServerArgs {
    /// Data folder: vault stores, their keys and (by default) the catalog.
    #[arg(long, value_name = "DIR", default_value = "./lifeboat-data")]
    pub data: PathBuf,
    /// Catalog database: `postgres://USER@HOST:PORT/DB`, or
    /// `sqlite://PATH` (default: sqlite in the data folder, created if missing).
    #[arg(
        long,
        value_name = "URL",
        env = "LIFEBOAT_CATALOG",
        hide_env_values = true
    )]
    pub catalog: Option<String>,
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8460")]
    pub listen: SocketAddr,
    /// Most jobs this server runs at once (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub max_jobs: Option<usize>,
    /// This server's name in job leases; unique per process (default:
    /// host name, process id and a random suffix).
    #[arg(long, value_name = "ID")]
    pub worker_id: Option<String>,
    /// Time zone of `DefaultPolicy` in new vaults (IANA name; default: the
    /// machine's zone from TZ or /etc/localtime, else UTC).
    #[arg(long, value_name = "ZONE")]
    pub time_zone: Option<String>,
    /// Read "now" from this file (RFC 3339), for tests that move time.
    #[arg(long, value_name = "PATH", hide = true)]
    pub clock_file: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log level or filter (`info`, `debug`, `lifeboat_server=debug`);
    /// RUST_LOG wins when set.
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// How long shutdown waits for running jobs to reach a safe point.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub shutdown_grace: u64,
    /// Length of a job's lease in the catalog (default 60), for tests that
    /// kill a server and wait for another to take its jobs over.
    #[arg(long, value_name = "SECONDS", hide = true,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub job_lease_secs: Option<u64>,
    /// How often the scheduler and job runner look at the clock and the
    /// queue, in milliseconds (default 1000), for tests that move time.
    #[arg(long, value_name = "MS", hide = true,
          value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub tick_ms: Option<u64>,
    /// Cap each backup job's reading of its source at this many MiB/s
    /// (default: no cap), so backups leave disk bandwidth to the host's
    /// own work.
    #[arg(long, value_name = "MIB_PER_SEC",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub backup_read_limit: Option<u64>,
    /// Key-encryption key of the vault secrets: `platform` (the server's
    /// key file <data>/secrets/platform.kek), `file:<path>` (a key file
    /// you control) or `command:<program>` (called as `<program> wrap` /
    /// `<program> unwrap`). Vaults under another provider are re-wrapped
    /// to this one at start (docs/security.md, "Keys").
    #[arg(
        long,
        value_name = "PROVIDER",
        env = "LIFEBOAT_KEK_PROVIDER",
        default_value = "platform"
    )]
    pub kek_provider: lifeboat_service::KekProvider,
    /// A provider that only unwraps: the old one while rotating to a new
    /// --kek-provider. Repeatable.
    #[arg(long, value_name = "PROVIDER")]
    pub kek_previous: Vec<lifeboat_service::KekProvider>,
    /// How long a `command:` key provider may run per call.
    #[arg(long, value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub kek_command_timeout: u64,
    /// Retire <data>/secrets/platform.kek (kept as platform-<fingerprint>.kek)
    /// and re-wrap every platform-wrapped vault under a new platform key.
    #[arg(long)]
    pub rotate_platform_kek: bool,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Allow plain HTTP on an address other than loopback (tokens and data
    /// cross the network in the clear).
    #[arg(long)]
    pub insecure_http: bool,
}

/// TLS certificate and key files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Key-encryption keys and TLS, for [`start_secure`].
#[derive(Debug, Clone, Default)]
pub struct SecurityConfig {
    pub keys: lifeboat_service::KeyConfig,
    /// Serve HTTPS with these; plain HTTP without.
    pub tls: Option<TlsFiles>,
}

/// Service tuning: timings that only tests change (`--job-lease-secs`,
/// `--tick-ms`) and the backup read cap; `None` keeps the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceTuning {
    /// A job's lease (default 60 s).
    pub job_lease: Option<Duration>,
    /// The loops' real-time tick (default 1 s).
    pub tick: Option<Duration>,
    /// Read cap of each backup job, bytes per second (default: none).
    pub backup_read_limit: Option<u64>,
}

/// A server's settings, for [`start`] (tests build it directly).
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub catalog_url: String,
    pub listen: SocketAddr,
    pub max_jobs: Option<usize>,
    pub worker_id: Option<String>,
    /// IANA name.
    pub time_zone: String,
    pub clock: Arc<dyn Clock>,
    /// An administrator token to store (its hash) if not yet known.
    pub admin_token: Option<String>,
    pub shutdown_grace: Duration,
}

/// The SQLite catalog URL of a data folder.
pub fn default_catalog_url(data: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data.join("catalog.db").display())
}

/// A time zone name, checked: IANA names and the Windows names Azure uses.
pub fn check_time_zone(name: &str) -> anyhow::Result<String> {
    let tz = lifeboat_model::calendar::parse_time_zone(name, "timeZone")
        .map_err(|e| anyhow::anyhow!("--time-zone: {}", e.message()))?;
    Ok(tz.name().to_owned())
}

/// The machine's time zone: `TZ`, else the `/etc/localtime` link, else
/// `/etc/timezone`, else UTC.
pub fn local_time_zone() -> String {
    let valid = |s: &str| s.parse::<chrono_tz::Tz>().ok().map(|t| t.name().to_owned());
    if let Ok(tz) = std::env::var("TZ")
        && let Some(z) = valid(tz.trim_start_matches(':'))
    {
        return z;
    }
    if let Ok(target) = std::fs::read_link("/etc/localtime") {
        let t = target.to_string_lossy();
        if let Some(idx) = t.find("zoneinfo/")
            && let Some(z) = valid(&t[idx + "zoneinfo/".len()..])
        {
            return z;
        }
    }
    if let Ok(text) = std::fs::read_to_string("/etc/timezone")
        && let Some(z) = valid(text.trim())
    {
        return z;
    }
    "UTC".to_owned()
}

impl ServerArgs {
    /// The service tuning these arguments give (hidden timings, read cap).
    pub fn tuning(&self) -> ServiceTuning {
        ServiceTuning {
            job_lease: self.job_lease_secs.map(Duration::from_secs),
            tick: self.tick_ms.map(Duration::from_millis),
            backup_read_limit: self.backup_read_limit.map(|m| m << 20),
        }
    }

    /// Keys and TLS as these arguments give them. Refuses plain HTTP on an
    /// address other than loopback without --insecure-http.
    pub fn security(&self) -> anyhow::Result<SecurityConfig> {
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        };
        if tls.is_none() && !self.listen.ip().is_loopback() && !self.insecure_http {
            anyhow::bail!(
                "[INSECURE_LISTEN] refusing plain HTTP on {}, which is not a loopback address: \
                 give --tls-cert and --tls-key, or --insecure-http to accept tokens and data \
                 in the clear",
                self.listen
            );
        }
        Ok(SecurityConfig {
            keys: lifeboat_service::KeyConfig {
                current: self.kek_provider.clone(),
                previous: self.kek_previous.clone(),
                command_timeout: Duration::from_secs(self.kek_command_timeout),
                rotate_platform: self.rotate_platform_kek,
            },
            tls,
        })
    }

    /// The settings these arguments (and `LIFEBOAT_ADMIN_TOKEN`) give.
    pub fn config(&self) -> anyhow::Result<ServerConfig> {
        let time_zone = match &self.time_zone {
            Some(z) => check_time_zone(z)?,
            None => local_time_zone(),
        };
        let clock: Arc<dyn Clock> = match &self.clock_file {
            Some(p) => {
                Arc::new(FileClock::new(p).map_err(|e| anyhow::anyhow!("--clock-file: {e}"))?)
            }
            None => Arc::new(SystemClock),
        };
        let catalog_url = match &self.catalog {
            Some(u) => u.clone(),
            None => default_catalog_url(&absolute(&self.data)?),
        };
        Ok(ServerConfig {
            data_dir: self.data.clone(),
            catalog_url,
            listen: self.listen,
            max_jobs: self.max_jobs,
            worker_id: self.worker_id.clone(),
            time_zone,
            clock,
            admin_token: std::env::var("LIFEBOAT_ADMIN_TOKEN")
                .ok()
                .filter(|t| !t.is_empty()),
            shutdown_grace: Duration::from_secs(self.shutdown_grace),
        })
    }
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    if p.is_absolute() {
        Ok(p.to_path_buf())
    } else {
        Ok(std::env::current_dir()
            .context("cannot read the current folder")?
            .join(p))
    }
}

/// A started server.
pub struct RunningServer {
    /// Where it listens (with the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// The administrator token made at this start, if one was: show it once.
    pub new_admin_token: Option<String>,
    pub catalog: Catalog,
    pub service: ServiceHandle,
    stop: Option<oneshot::Sender<()>>,
    serving: JoinHandle<std::io::Result<()>>,
    grace: Duration,
}

impl RunningServer {
    /// Graceful shutdown: stop accepting, let requests in flight finish,
    /// then stop the service (running jobs reach a safe point or are
    /// released for another server) and close the catalog.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let served = (&mut self.serving).await;
        self.service.shutdown(self.grace).await;
        self.catalog.close().await;
        match served {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(anyhow::anyhow!("HTTP server failed: {e}")),
            Err(e) => Err(anyhow::anyhow!("HTTP server task failed: {e}")),
        }
    }
}

/// Opens the catalog (running migrations), makes sure an administrator
/// token exists, starts the service and the HTTP listener.
pub async fn start(cfg: ServerConfig) -> anyhow::Result<RunningServer> {
    start_tuned(cfg, ServiceTuning::default()).await
}

/// [`start`] with service timings other than the defaults.
pub async fn start_tuned(
    cfg: ServerConfig,
    tuning: ServiceTuning,
) -> anyhow::Result<RunningServer> {
    start_secure(cfg, tuning, SecurityConfig::default()).await
}

/// [`start_tuned`] with key-encryption key and TLS settings.
pub async fn start_secure(
    cfg: ServerConfig,
    tuning: ServiceTuning,
    security: SecurityConfig,
) -> anyhow::Result<RunningServer> {
    // Read the certificate first: a bad file stops the start before anything changes.
    let tls = match &security.tls {
        Some(t) => Some(crate::tls::server_config(&t.cert, &t.key)?),
        None => None,
    };
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create the data folder {}", cfg.data_dir.display()))?;
    let catalog = Catalog::connect(&cfg.catalog_url)
        .await
        .map_err(|e| match e {
            CatalogError::TooNew { .. } => anyhow::anyhow!(
                "[CATALOG_TOO_NEW] {e}; this server was not started and the catalog was not changed"
            ),
            e => anyhow::anyhow!("[{}] {e}", e.code()),
        })?;
    let now = cfg.clock.now();
    let new_admin_token = match auth::bootstrap_admin(&catalog, cfg.admin_token.as_deref(), now)
        .await
        .context("cannot set up the administrator token")?
    {
        Bootstrap::Created(t) => Some(t),
        Bootstrap::StoredFromEnv => {
            tracing::info!("administrator token from LIFEBOAT_ADMIN_TOKEN stored (its hash)");
            None
        }
        Bootstrap::Existing => None,
    };
    // The audit key, before anything can be changed through the API.
    let audit = crate::audit::Audit::open(&cfg.data_dir, &catalog).await?;
    let mut scfg = ServiceConfig::new(cfg.data_dir.clone());
    if let Some(n) = cfg.max_jobs {
        scfg.max_concurrent_jobs = n.max(1);
    }
    if let Some(w) = &cfg.worker_id {
        scfg.worker_id = w.clone();
    }
    if let Some(l) = tuning.job_lease {
        scfg.lease = l;
    }
    scfg.backup_read_limit = tuning.backup_read_limit;
    if let Some(t) = tuning.tick {
        scfg.tick = t;
    }
    scfg.keys = security.keys.clone();
    let service = Service::start(catalog.clone(), scfg, cfg.clock.clone())
        .await
        .map_err(|e| anyhow::anyhow!("[{}] cannot start the service: {e}", e.code()))?;
    let listener = TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let state = AppState::new(Inner {
        catalog: catalog.clone(),
        clock: cfg.clock.clone(),
        storage: service.storage().clone(),
        service: service.clone(),
        time_zone: cfg.time_zone.clone(),
        http: Default::default(),
        touch: Default::default(),
        tokens: Default::default(),
        audit,
    });
    let app = crate::api::app(state);
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = match tls {
        None => tokio::spawn(async move {
            // The peer address is what the audit log records as the source.
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
        }),
        Some(tls) => {
            use axum::serve::ListenerExt;
            // tap_io: lets the peer SocketAddr through as connect info.
            let listener = crate::tls::TlsListener::new(listener, tls)?.tap_io(|_| {});
            tokio::spawn(async move {
                axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
            })
        }
    };
    tracing::info!(%addr, time_zone = %cfg.time_zone, catalog = ?catalog.dialect(), "lifeboat server listening");
    Ok(RunningServer {
        addr,
        new_admin_token,
        catalog,
        service,
        stop: Some(stop),
        serving,
        grace: cfg.shutdown_grace,
    })
}

/// Sets up logging: `RUST_LOG` if set, else `level` (default `info`).
pub fn init_tracing(format: LogFormat, level: Option<&str>) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(f) if !f.is_empty() => EnvFilter::try_new(f).context("RUST_LOG")?,
        _ => EnvFilter::try_new(level.unwrap_or("info")).context("--log-level")?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let r = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    // A subscriber set already (tests, an embedding program) is fine.
    let _ = r;
    Ok(())
}

/// Waits for SIGINT or SIGTERM.
async fn shutdown_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    Ok(())
}

/// `lifeboat server`: runs until SIGINT or SIGTERM, on a runtime of its own.
pub fn run(args: ServerArgs) -> anyhow::Result<()> {
    init_tracing(args.log_format, args.log_level.as_deref())?;
    let cfg = args.config()?;
    let tuning = args.tuning();
    let security = args.security()?;
    let scheme = if security.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("lifeboat-server")
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let server = start_secure(cfg, tuning, security).await?;
        if let Some(token) = &server.new_admin_token {
            // Once, to stderr, never to the log.
            eprintln!();
            eprintln!("==================== LIFEBOAT ADMINISTRATOR TOKEN ====================");
            eprintln!("ADMIN TOKEN (shown once; store it now): {token}");
            eprintln!("  give it to clients as LIFEBOAT_TOKEN or with `lifeboat login --token`");
            eprintln!("======================================================================");
            eprintln!();
        }
        eprintln!("lifeboat server listening on {scheme}://{}", server.addr);
        let waited = shutdown_signal().await;
        let stopped = server.shutdown().await;
        tracing::info!("lifeboat server stopped");
        waited.and(stopped)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones() {
        assert_eq!(check_time_zone("Europe/Berlin").unwrap(), "Europe/Berlin");
        assert!(check_time_zone("Mars/Olympus").is_err());
        let local = local_time_zone();
        assert!(local.parse::<chrono_tz::Tz>().is_ok(), "{local}");
    }

    #[test]
    fn default_catalog_is_sqlite_in_the_data_folder() {
        assert_eq!(
            default_catalog_url(Path::new("/srv/lb")),
            "sqlite:///srv/lb/catalog.db?mode=rwc"
        );
    }
}
