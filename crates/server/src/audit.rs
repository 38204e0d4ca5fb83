//! The audit trail of the API: every mutating request (any method but GET,
//! HEAD and OPTIONS) goes to the catalog's hash-chained audit log
//! (`lifeboat_catalog`'s `audit` module has the chain) and to the
//! structured log as an event with target `lifeboat::audit`.
//!
//! ## What is recorded
//!
//! Who (the identity's or token's name, and the token's id; `anonymous`
//! for a request refused with 401), when (the server's clock), from where
//! (the TCP peer address; a proxy's `X-Forwarded-For` is not trusted),
//! the operation (the authorization rule's name, such as `vault.delete`;
//! else `METHOD /route/{template}`, or `METHOD (unknown route)`), the
//! target (the request path, without the query string), the outcome (HTTP
//! status and the answer's error code) and a request id, also sent back as
//! `x-request-id`. Never a header, a body or a query string: tokens and
//! secrets cannot end up in the log.
//!
//! ## Why two rows per request: failing closed
//!
//! A mutating request must not succeed without a trace. Recording only
//! after the handler answered leaves a window: the change is made, then the
//! append fails (catalog unreachable, key lost) and nothing says it
//! happened. So a request that passed authentication and authorization
//! first gets an `attempt` row, written by [`attempt`] right before the
//! handler runs; if that append fails the handler never runs and the
//! caller gets `500 AUDIT_UNAVAILABLE`. After the answer, [`record`]
//! appends a `result` row (same request id) with the status and error
//! code. If that second append fails the change stands, the error is
//! logged, and the log still shows the attempt: an attempt without a
//! result means "outcome unknown", never "did not happen".
//!
//! Requests refused before any handler ran (401, 403, unknown routes,
//! methods a route does not serve) changed nothing, so they get only the
//! `result` row, written after the answer.
//!
//! ## The key
//!
//! `<data>/secrets/audit.key` (hex, mode 0600), made on the first start
//! ([`Audit::open`]). Servers sharing a catalog share `--data`, so they
//! share the key; two first starts at once end with one key (the file is
//! published with a hard link, which fails if it exists). When the file is
//! missing but the log already has rows, no new key is made (it would turn
//! every old row into "edited"): the server starts, reads work, `verify`
//! answers `key-missing`, and mutating requests fail closed with
//! `AUDIT_UNAVAILABLE` until the key file is restored.

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Context;
use axum::body::{Body, HttpBody};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lifeboat_catalog::{AuditEntry, AuditKey, Catalog, NewAuditEntry, PHASE_ATTEMPT, PHASE_RESULT};
use lifeboat_codes as codes;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// The key file's name under `<data>/secrets/`.
pub const KEY_FILE: &str = "audit.key";

/// The principal of a request refused for want of a valid token.
pub const ANONYMOUS: &str = "anonymous";

/// The response header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest target recorded (longer paths are cut at a character
/// boundary).
const MAX_TARGET: usize = 1024;

/// The largest error body read back for its `code`.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// The server's audit key, if it has one.
#[derive(Debug)]
pub struct Audit {
    key: Option<AuditKey>,
    key_path: PathBuf,
}

impl Audit {
    /// Loads `<data>/secrets/audit.key`, or makes it when the audit log is
    /// empty. A key file that exists but is not 64 hex digits stops the
    /// start: guessing would break the chain.
    pub async fn open(data_dir: &Path, catalog: &Catalog) -> anyhow::Result<Audit> {
        let key_path = data_dir.join("secrets").join(KEY_FILE);
        if let Some(secret) = read_key(&key_path)? {
            return Ok(Audit {
                key: Some(AuditKey::new(secret)),
                key_path,
            });
        }
        let rows = catalog
            .audit_len()
            .await
            .map_err(|e| anyhow::anyhow!("[{}] cannot read the audit log: {e}", e.code()))?;
        if rows > 0 {
            tracing::error!(
                key = %key_path.display(),
                rows,
                "AUDIT_KEY_MISSING: the audit log has rows but its key file is missing; \
                 mutating requests are refused (AUDIT_UNAVAILABLE) until it is restored"
            );
            return Ok(Audit {
                key: None,
                key_path,
            });
        }
        let secret = create_key(&key_path)?;
        tracing::info!(key = %key_path.display(), "audit key created");
        Ok(Audit {
            key: Some(AuditKey::new(secret)),
            key_path,
        })
    }

    /// An audit with this key (tests, embedding programs).
    pub fn with_key(key: Option<AuditKey>, key_path: PathBuf) -> Audit {
        Audit { key, key_path }
    }

    pub fn key(&self) -> Option<&AuditKey> {
        self.key.as_ref()
    }

    pub fn key_path(&self) -> &Path {
        &self.key_path
    }
}

fn parse_key(text: &str) -> Option<[u8; 32]> {
    let b = hex::decode(text.trim()).ok()?;
    b.try_into().ok()
}

fn read_key(path: &Path) -> anyhow::Result<Option<[u8; 32]>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_key(&text).map(Some).ok_or_else(|| {
            anyhow::anyhow!(
                "[AUDIT_KEY_INVALID] the audit key file {} is not 64 hex digits; \
                 restore it from a backup (a new key would make every audit row look edited)",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::anyhow!(
            "[AUDIT_KEY_INVALID] cannot read the audit key file {}: {e}",
            path.display()
        )),
    }
}

/// Writes a new random key to a temporary file (0600, fsynced) and
/// publishes it with a hard link, which fails when another server was
/// first: then that server's key is used.
fn create_key(path: &Path) -> anyhow::Result<[u8; 32]> {
    let dir = path.parent().context("the audit key path has no folder")?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    let tmp = dir.join(format!(
        ".{KEY_FILE}.{}.{}",
        std::process::id(),
        hex::encode(&secret[..4])
    ));
    let written = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(format!("{}\n", hex::encode(secret)).as_bytes())?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(anyhow::anyhow!("cannot write {}: {e}", tmp.display()));
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    match linked {
        Ok(()) => Ok(secret),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key(path)?
            .with_context(|| format!("{} vanished while being created", path.display())),
        Err(e) => Err(anyhow::anyhow!("cannot create {}: {e}", path.display())),
    }
}

/// Whether a request is recorded: everything but reads.
pub fn is_mutating(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

// ------------------------------------------------------------ operations

struct Route {
    segments: Vec<Option<String>>,
    template: String,
}

/// The documented routes, from the OpenAPI document (the same
/// registrations as the router).
fn routes() -> &'static [Route] {
    static ROUTES: OnceLock<Vec<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        let doc = serde_json::to_value(crate::api::openapi()).unwrap_or_default();
        let mut out = Vec::new();
        if let Some(paths) = doc.get("paths").and_then(|p| p.as_object()) {
            for template in paths.keys() {
                let segments = template
                    .split('/')
                    .map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then(|| s.to_owned()))
                    .collect();
                out.push(Route {
                    segments,
                    template: template.clone(),
                });
            }
        }
        out
    })
}

/// The route template a path matches (literal segments win over
/// parameters, as in the router).
fn template_of(path: &str) -> Option<&'static str> {
    let segs: Vec<&str> = path.split('/').collect();
    routes()
        .iter()
        .filter(|r| {
            r.segments.len() == segs.len()
                && r.segments
                    .iter()
                    .zip(&segs)
                    .all(|(want, got)| want.as_deref().is_none_or(|w| w == *got))
        })
        .max_by_key(|r| r.segments.iter().filter(|s| s.is_some()).count())
        .map(|r| r.template.as_str())
}

/// The stable name of what a request does.
pub fn operation_name(method: &Method, path: &str) -> String {
    match template_of(path) {
        Some(t) => match crate::authz::route_rule(method, t) {
            Some(rule) => rule.op.name().to_owned(),
            None => format!("{method} {t}"),
        },
        None => format!("{method} (unknown route)"),
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

// ------------------------------------------------------------ middleware

/// What the outer layer ([`record`]) knows about a mutating request; rides
/// in the request's extensions so the inner layers can add the principal
/// and mark the attempt.
#[derive(Clone)]
pub struct AuditRequest(Arc<ReqInner>);

struct ReqInner {
    request_id: String,
    operation: String,
    target: String,
    source: String,
    seen: Mutex<Seen>,
}

#[derive(Default, Clone)]
struct Seen {
    principal: Option<(String, Option<i64>)>,
    attempted: bool,
}

impl AuditRequest {
    fn new(req: &Request) -> AuditRequest {
        let mut id = [0u8; 16];
        if getrandom::fill(&mut id).is_err() {
            // Unique enough for correlating rows; never a secret.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            id = nanos.to_be_bytes();
        }
        let source = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown".to_owned(), |c| c.0.to_string());
        let path = req.uri().path();
        AuditRequest(Arc::new(ReqInner {
            request_id: hex::encode(id),
            operation: cut(&operation_name(req.method(), path), MAX_TARGET),
            target: cut(path, MAX_TARGET),
            source,
            seen: Mutex::new(Seen::default()),
        }))
    }

    fn seen(&self) -> Seen {
        self.0.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn update(&self, f: impl FnOnce(&mut Seen)) {
        if let Ok(mut s) = self.0.seen.lock() {
            f(&mut s);
        }
    }

    fn entry(&self, state: &AppState, phase: &str, seen: &Seen) -> NewAuditEntry {
        let (principal, principal_id) = seen
            .principal
            .clone()
            .unwrap_or_else(|| (ANONYMOUS.to_owned(), None));
        NewAuditEntry {
            time: state.now(),
            principal,
            principal_id,
            source: self.0.source.clone(),
            operation: self.0.operation.clone(),
            target: self.0.target.clone(),
            phase: phase.to_owned(),
            status: None,
            error_code: None,
            request_id: self.0.request_id.clone(),
        }
    }
}

/// The phase of a row that records an event rather than a request
/// (multi-user authorization: an approval used, an approval expired).
pub const PHASE_EVENT: &str = "event";

/// The principal of events the server records on its own (expiry).
pub const SYSTEM: &str = "system";

/// Appends an event row (phase [`PHASE_EVENT`]): `operation` such as
/// `mua.approval_used`, `target` the resource it is about. Fails closed:
/// the caller refuses to go on when the row cannot be written.
pub async fn event(
    state: &AppState,
    principal: (&str, Option<i64>),
    operation: &str,
    target: &str,
) -> Result<(), ApiError> {
    let Some(key) = state.audit.key() else {
        return Err(ApiError::internal(
            codes::AUDIT_UNAVAILABLE,
            format!(
                "{operation} could not be written to the audit log: the audit key {} is missing \
                 (AUDIT_KEY_MISSING)",
                state.audit.key_path().display()
            ),
        ));
    };
    let mut id = [0u8; 16];
    getrandom::fill(&mut id)
        .map_err(|e| ApiError::internal(codes::INTERNAL, format!("no system randomness: {e}")))?;
    let entry = NewAuditEntry {
        time: state.now(),
        principal: principal.0.to_owned(),
        principal_id: principal.1,
        source: "server".to_owned(),
        operation: operation.to_owned(),
        target: cut(target, MAX_TARGET),
        phase: PHASE_EVENT.to_owned(),
        status: None,
        error_code: None,
        request_id: hex::encode(id),
    };
    match state.catalog.append_audit(key, &entry).await {
        Ok(row) => {
            emit(&row);
            Ok(())
        }
        Err(e) => Err(ApiError::internal(
            codes::AUDIT_UNAVAILABLE,
            format!(
                "{operation} could not be written to the audit log: [{}] {e}",
                e.code()
            ),
        )),
    }
}

/// Called by the authentication middleware once the token is known, so a
/// request it then refuses (403) is recorded under the caller's name.
pub fn note_principal(req: &Request, p: &Principal) {
    if let Some(a) = req.extensions().get::<AuditRequest>() {
        let who = (p.display_name().to_owned(), Some(p.token_id.0));
        a.update(|s| s.principal = Some(who));
    }
}

/// Emits a row to the structured log.
fn emit(row: &AuditEntry) {
    tracing::info!(
        target: "lifeboat::audit",
        seq = row.seq,
        time = %row.time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        principal = %row.principal,
        principal_id = row.principal_id,
        source = %row.source,
        operation = %row.operation,
        resource = %row.target,
        phase = %row.phase,
        status = row.status,
        code = row.error_code.as_deref(),
        request_id = %row.request_id,
        hash = %row.hash,
        "audit"
    );
}

fn unavailable(detail: &str) -> Response {
    ApiError::internal(
        codes::AUDIT_UNAVAILABLE,
        format!(
            "the request was not carried out because it could not be written to the audit log: \
             {detail}"
        ),
    )
    .into_response()
}

/// Inner layer (after authentication and authorization, right before the
/// handler): appends the `attempt` row, or refuses with
/// `AUDIT_UNAVAILABLE` without running the handler.
pub async fn attempt(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(ctx) = req.extensions().get::<AuditRequest>().cloned() else {
        return next.run(req).await;
    };
    if let Some(p) = req.extensions().get::<Principal>() {
        let who = (p.display_name().to_owned(), Some(p.token_id.0));
        ctx.update(|s| s.principal = Some(who));
    }
    let Some(key) = state.audit.key() else {
        return unavailable(&format!(
            "the audit key {} is missing (AUDIT_KEY_MISSING); restore it from a backup",
            state.audit.key_path().display()
        ));
    };
    let entry = ctx.entry(&state, PHASE_ATTEMPT, &ctx.seen());
    match state.catalog.append_audit(key, &entry).await {
        Ok(row) => {
            ctx.update(|s| s.attempted = true);
            emit(&row);
            next.run(req).await
        }
        Err(e) => {
            tracing::error!(
                request_id = %entry.request_id,
                operation = %entry.operation,
                code = %e.code(),
                error = %e,
                "audit: cannot record the attempt; request refused"
            );
            unavailable(&format!("[{}] {e}", e.code()))
        }
    }
}

/// The `code` of an error answer (its body is read and put back).
async fn error_code(resp: Response) -> (Response, Option<String>) {
    if resp.status().as_u16() < 400 {
        return (resp, None);
    }
    let small = resp
        .body()
        .size_hint()
        .upper()
        .is_some_and(|n| n <= MAX_ERROR_BODY);
    if !small {
        return (resp, None);
    }
    let (parts, body) = resp.into_parts();
    match axum::body::to_bytes(body, MAX_ERROR_BODY as usize).await {
        Ok(bytes) => {
            let code = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(|c| cut(c, 128)));
            (Response::from_parts(parts, Body::from(bytes)), code)
        }
        Err(_) => (Response::from_parts(parts, Body::empty()), None),
    }
}

/// Outer layer (around authentication and routing): gives each mutating
/// request its [`AuditRequest`], and after the answer appends the
/// `result` row.
pub async fn record(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if !is_mutating(req.method()) {
        return next.run(req).await;
    }
    let ctx = AuditRequest::new(&req);
    req.extensions_mut().insert(ctx.clone());
    let resp = next.run(req).await;
    let (mut resp, code) = error_code(resp).await;
    let status = resp.status();
    let mut seen = ctx.seen();
    if status == StatusCode::UNAUTHORIZED {
        seen.principal = None;
    }
    let mut entry = ctx.entry(&state, PHASE_RESULT, &seen);
    entry.status = Some(i32::from(status.as_u16()));
    entry.error_code = code;
    let appended = match state.audit.key() {
        Some(key) => state
            .catalog
            .append_audit(key, &entry)
            .await
            .map_err(|e| format!("[{}] {e}", e.code())),
        None => Err("AUDIT_KEY_MISSING: the audit key file is missing".to_owned()),
    };
    match appended {
        Ok(row) => emit(&row),
        Err(e) => tracing::error!(
            request_id = %entry.request_id,
            operation = %entry.operation,
            status = status.as_u16(),
            attempted = seen.attempted,
            error = %e,
            "audit: cannot record the result of a request"
        ),
    }
    if let Ok(v) = HeaderValue::from_str(&ctx.0.request_id) {
        resp.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    resp
}

#[cfg(test)]
mod tests;
