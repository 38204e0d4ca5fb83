//! The OpenAPI document is the contract clients are generated from; this
//! test holds the server to it. It reads the document from a real server
//! (SQLite, with a vault, items with recovery points, an identity, a
//! token, a role assignment, resource guards and an approval request to
//! name in paths), walks every route in it, and sends:
//!
//! - requests without a token, and with a wrong one: the answer must be
//!   401, and the route must declare 401;
//! - valid requests generated from the schemas (`contract_gen`): a base
//!   request, then each parameter and body field at each boundary value
//!   the schema allows (every enum value, minimum and maximum, the
//!   shortest and the longest string its pattern and lengths allow), and
//!   each list's `nextLink` followed;
//! - invalid requests: each field below its minimum, above its maximum,
//!   one character too long, its pattern broken, outside its enum, of the
//!   wrong JSON type, a required field left out, a body that is not JSON,
//!   a body over the 1 MiB limit, a path id that is not an integer.
//!
//! It fails when (a) any answer has a status the route does not declare,
//! (b) a valid request is refused with anything but what a valid request
//! can meet in a real server's state — 403 (not allowed, e.g. an approval
//! a guarded vault needs), 404 (no such resource) or 409 (the state does
//! not allow it) — so a 400 or 422 to a value the schema allows fails,
//! and (c) any answer is a 5xx.
//!
//! What a JSON schema cannot say is said in the schemas' descriptions and
//! done here by [`fixup`], one documented rule each: the names that must
//! exist (a path's vault, an item's source on the server's disk), the body
//! fields that depend on the item a restore is for, on the operation an
//! approval request is for, or on the path. `cursor` is opaque (only a
//! `nextLink`'s value is valid), so it is tested by following nextLinks.

#[macro_use]
mod support;
mod contract_gen;

use std::collections::{BTreeMap, BTreeSet};

use contract_gen::{Gen, required};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Db, TestServer};

/// Statuses a valid request may get in a real server's state.
const VALID_REFUSALS: [u16; 3] = [403, 404, 409];

/// The resources the requests name.
struct Fixtures {
    /// Path parameter values by name (the defaults).
    params: BTreeMap<&'static str, String>,
    job: String,
    assignment: String,
    spare_assignment: String,
    request: String,
    point_path: String,
    point_disk: String,
    src_dir: String,
    image: String,
    tmp: std::path::PathBuf,
}

/// One request and what it is meant to be.
struct Call {
    what: String,
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    token: Token,
    valid: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Token {
    Admin,
    None,
    Wrong,
}

fn ok(st: StatusCode, v: &Value, what: &str) {
    assert!(st.is_success(), "{what}: {st} {v}");
}

async fn fixtures(s: &TestServer) -> Fixtures {
    for v in ["cv", "pv", "dv", "gv"] {
        s.vault(v).await;
    }
    let src = s.tmp().join("src");
    support::make_tree(&src);
    let si_src = s.tmp().join("si-src");
    support::make_tree(&si_src);
    let image = s.tmp().join("disk.raw");
    let bytes: Vec<u8> = (0..1_048_576u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&image, bytes).expect("image");
    s.protect("cv", "ci", "path", &src).await;
    s.protect("cv", "cd", "disk", &image).await;
    s.protect("cv", "si", "path", &si_src).await;
    let mut points = Vec::new();
    let mut job = String::new();
    for item in ["ci", "cd"] {
        let (st, j) = s
            .post(&format!("/api/v1/vaults/cv/items/{item}/backup"), json!({}))
            .await;
        ok(st, &j, "backup");
        let id = j["id"].as_i64().expect("job id");
        let done = s.wait_job(id).await;
        assert_eq!(done["status"], "Completed", "{done}");
        job = id.to_string();
        let list = s
            .ok(&format!("/api/v1/vaults/cv/items/{item}/points"))
            .await;
        points.push(list["value"][0]["id"].as_str().expect("point").to_owned());
    }
    let policy = s.ok("/api/v1/vaults/cv/policies/DefaultPolicy").await["properties"].clone();
    for p in ["cp", "dp"] {
        let (st, v) = s
            .post(
                "/api/v1/vaults/cv/policies",
                json!({"name": p, "properties": policy}),
            )
            .await;
        ok(st, &v, "policy");
    }
    let (st, v) = s.post("/api/v1/identities", json!({"name": "alice"})).await;
    ok(st, &v, "identity");
    let (st, v) = s
        .post(
            "/api/v1/identities/alice/tokens",
            json!({"name": "alice-t"}),
        )
        .await;
    ok(st, &v, "token");
    let mut assignments = Vec::new();
    for vault in ["cv", "pv"] {
        let (st, v) = s
            .post(
                "/api/v1/roleAssignments",
                json!({"identity": "alice", "role": "Backup Reader", "vault": vault}),
            )
            .await;
        ok(st, &v, "role");
        assignments.push(v["id"].as_i64().expect("id").to_string());
    }
    for g in ["cg", "dg"] {
        let (st, v) = s.post("/api/v1/resourceGuards", json!({"name": g})).await;
        ok(st, &v, "guard");
    }
    let (st, v) = s
        .post(
            "/api/v1/resourceGuards/cg/members",
            json!({"identity": "alice"}),
        )
        .await;
    ok(st, &v, "member");
    let (st, v) = s
        .put(
            "/api/v1/vaults/gv/resourceGuard",
            json!({"guardName": "cg"}),
        )
        .await;
    ok(st, &v, "attach");
    let (st, v) = s
        .post(
            "/api/v1/vaults/gv/resourceGuard/requests",
            json!({"operation": "disable-soft-delete"}),
        )
        .await;
    ok(st, &v, "request");
    let request = v["id"].as_i64().expect("id").to_string();
    let params = BTreeMap::from([
        ("vault", "cv".to_owned()),
        ("policy", "cp".to_owned()),
        ("item", "ci".to_owned()),
        ("point", points[0].clone()),
        ("identity", "alice".to_owned()),
        ("token", "alice-t".to_owned()),
        ("guard", "cg".to_owned()),
    ]);
    Fixtures {
        params,
        job,
        assignment: assignments[0].clone(),
        spare_assignment: assignments[1].clone(),
        request,
        point_path: points[0].clone(),
        point_disk: points[1].clone(),
        src_dir: src.to_str().expect("utf-8").to_owned(),
        image: image.to_str().expect("utf-8").to_owned(),
        tmp: s.tmp().to_owned(),
    }
}

/// The path parameters a route's requests use: the fixtures, with the
/// resources a destructive or state-bound route gets of its own. A restore
/// runs once for the path item and once for the disk item.
fn contexts(f: &Fixtures, method: &str, path: &str) -> Vec<BTreeMap<&'static str, String>> {
    let mut p = f.params.clone();
    let id = if path.starts_with("/api/v1/jobs") {
        f.job.clone()
    } else if path.contains("/requests/") {
        f.request.clone()
    } else if method == "delete" {
        f.spare_assignment.clone()
    } else {
        f.assignment.clone()
    };
    p.insert("id", id);
    if path.contains("/resourceGuard") && path.starts_with("/api/v1/vaults/") {
        p.insert("vault", "gv".into());
    }
    match (method, path) {
        ("patch", "/api/v1/vaults/{vault}") => {
            p.insert("vault", "pv".into());
        }
        ("delete", "/api/v1/vaults/{vault}") => {
            p.insert("vault", "dv".into());
        }
        ("delete", "/api/v1/vaults/{vault}/policies/{policy}") => {
            p.insert("policy", "dp".into());
        }
        ("delete", "/api/v1/resourceGuards/{guard}") => {
            p.insert("guard", "dg".into());
        }
        ("post", "/api/v1/vaults/{vault}/items/{item}/stop") => {
            p.insert("item", "si".into());
        }
        _ => {}
    }
    if path.ends_with("/restore") {
        let mut disk = p.clone();
        disk.insert("item", "cd".into());
        disk.insert("point", f.point_disk.clone());
        p.insert("point", f.point_path.clone());
        return vec![p, disk];
    }
    vec![p]
}

/// Base values of fields that name a resource that must exist.
fn named(field: &str) -> Option<Value> {
    Some(json!(match field {
        "vault" => "cv",
        "item" => "ci",
        "identity" => "alice",
        "policy" => "cp",
        "guardName" => "cg",
        "owner" => "admin",
        _ => return None,
    }))
}

/// What a schema cannot say, one rule each (the schemas' descriptions say
/// it in words):
/// - a replaced policy's body `name` is the path's;
/// - a source to protect exists on the server, and a disk's is a file;
/// - a restore's target is a new folder (path item, or `original`) or a
///   new image file (disk item), `format` is for disk items, `include`
///   for path items;
/// - an approval request's target is the item, the policy or nothing, as
///   its operation says.
fn fixup(f: &Fixtures, path: &str, ctx: &BTreeMap<&str, String>, body: &mut Value, n: usize) {
    let Some(b) = body.as_object_mut() else {
        return;
    };
    if path == "/api/v1/vaults/{vault}/policies/{policy}" && b.contains_key("name") {
        b.insert("name".into(), json!(ctx["policy"]));
    }
    if path == "/api/v1/vaults/{vault}/items" {
        let source = match b.get("workload").and_then(Value::as_str) {
            Some("disk") => &f.image,
            _ => &f.src_dir,
        };
        b.insert("source".into(), json!(source));
    }
    if path.ends_with("/restore") {
        let fresh = f.tmp.join(format!("restore-{n}"));
        let fresh = fresh.to_str().expect("utf-8");
        if ctx["item"] == "cd" {
            b.remove("include");
            b.insert("target".into(), json!(format!("{fresh}.img")));
        } else {
            b.remove("format");
            if b.get("target").and_then(Value::as_str) != Some("original") {
                b.insert("target".into(), json!(fresh));
            }
        }
    }
    if path.ends_with("/resourceGuard/requests") {
        match b.get("operation").and_then(Value::as_str) {
            Some("stop-protection-delete-data") => {
                b.insert("target".into(), json!("ci"));
            }
            Some("reduce-retention") => {
                b.insert("target".into(), json!("cp"));
            }
            _ => {
                b.remove("target");
            }
        }
    }
}

fn concrete(template: &str, ctx: &BTreeMap<&str, String>) -> String {
    let mut out = template.to_owned();
    for (k, v) in ctx {
        out = out.replace(&format!("{{{k}}}"), &segment(v));
    }
    out
}

/// A path segment, percent-encoded.
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every request for one operation.
fn calls(g: &Gen, f: &Fixtures, method: &str, path: &str, op: &Value, n: &mut usize) -> Vec<Call> {
    let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
    let public = op.get("security").is_none();
    let params: Vec<&Value> = op["parameters"]
        .as_array()
        .map(|p| p.iter().collect())
        .unwrap_or_default();
    let body_schema = op["requestBody"]["content"]["application/json"].get("schema");
    let mut out = Vec::new();
    for ctx in contexts(f, method, path) {
        let base_path = concrete(path, &ctx);
        let base_query: Vec<(String, String)> = params
            .iter()
            .filter(|p| p["in"] == "query")
            .filter_map(|p| {
                let name = p["name"].as_str()?;
                named(name).map(|v| (name.to_owned(), text(&v)))
            })
            .collect();
        let base_body = body_schema.map(|s| {
            let mut b = g.base(s);
            if let Some(o) = b.as_object_mut() {
                let props = g.resolve(s)["properties"].as_object().cloned();
                for (k, _) in props.into_iter().flatten() {
                    if let Some(v) = named(&k) {
                        o.insert(k, v);
                    }
                }
            }
            b
        });
        let mut push = |what: String,
                        to: String,
                        query: Vec<(String, String)>,
                        body: Option<Value>,
                        raw: Option<Vec<u8>>,
                        token: Token,
                        valid: bool| {
            *n += 1;
            let body = match (raw, body) {
                (Some(r), _) => Some(r),
                (None, Some(mut b)) => {
                    if valid {
                        fixup(f, path, &ctx, &mut b, *n);
                    }
                    Some(serde_json::to_vec(&b).expect("json"))
                }
                (None, None) => None,
            };
            out.push(Call {
                what,
                method: m.clone(),
                path: to,
                query,
                body,
                token,
                valid,
            });
        };
        let base = base_body.clone();
        if !public {
            for t in [Token::None, Token::Wrong] {
                push(
                    "no or a wrong token".into(),
                    base_path.clone(),
                    base_query.clone(),
                    base.clone(),
                    None,
                    t,
                    false,
                );
            }
        }
        push(
            "base".into(),
            base_path.clone(),
            base_query.clone(),
            base.clone(),
            None,
            Token::Admin,
            true,
        );
        // Each parameter at each boundary, and invalid.
        for p in &params {
            let name = p["name"].as_str().expect("name");
            let schema = &p["schema"];
            if name == "cursor" {
                let mut q = base_query.clone();
                q.push(("cursor".into(), "not-a-cursor".into()));
                push(
                    "cursor garbage".into(),
                    base_path.clone(),
                    q,
                    base.clone(),
                    None,
                    Token::Admin,
                    false,
                );
                continue;
            }
            let with = |v: &Value| -> (String, Vec<(String, String)>) {
                if p["in"] == "path" {
                    let mut c = ctx.clone();
                    let key: &'static str = ctx
                        .keys()
                        .find(|k| **k == name)
                        .copied()
                        .unwrap_or_else(|| panic!("no fixture for path parameter {name}"));
                    c.insert(key, text(v));
                    (concrete(path, &c), base_query.clone())
                } else {
                    let mut q: Vec<(String, String)> = base_query
                        .iter()
                        .filter(|(k, _)| k != name)
                        .cloned()
                        .collect();
                    q.push((name.to_owned(), text(v)));
                    (base_path.clone(), q)
                }
            };
            for v in g.boundaries(schema) {
                let (pp, q) = with(&v);
                push(
                    format!("{name}={v}"),
                    pp,
                    q,
                    base.clone(),
                    None,
                    Token::Admin,
                    true,
                );
            }
            for v in g.invalids(schema) {
                if p["in"] == "path" && v.as_str() == Some("") {
                    continue; // an empty segment is another route
                }
                let (pp, q) = with(&v);
                push(
                    format!("{name}={v} (invalid)"),
                    pp,
                    q,
                    base.clone(),
                    None,
                    Token::Admin,
                    false,
                );
            }
        }
        // Each body field at each boundary, and invalid.
        if let (Some(schema), Some(base_b)) = (body_schema, &base_body) {
            let resolved = g.resolve(schema);
            let req = required(resolved);
            for (k, fs) in resolved["properties"].as_object().into_iter().flatten() {
                for v in g.boundaries(fs) {
                    let mut b = base_b.clone();
                    b[k] = v.clone();
                    push(
                        format!("{k}: {v}"),
                        base_path.clone(),
                        base_query.clone(),
                        Some(b),
                        None,
                        Token::Admin,
                        true,
                    );
                }
                for v in g.invalids(fs) {
                    let mut b = base_b.clone();
                    b[k] = v.clone();
                    push(
                        format!("{k}: {v} (invalid)"),
                        base_path.clone(),
                        base_query.clone(),
                        Some(b),
                        None,
                        Token::Admin,
                        false,
                    );
                }
                if req.contains(k) {
                    let mut b = base_b.clone();
                    b.as_object_mut().expect("object").remove(k);
                    push(
                        format!("without {k}"),
                        base_path.clone(),
                        base_query.clone(),
                        Some(b),
                        None,
                        Token::Admin,
                        false,
                    );
                }
            }
            push(
                "not JSON".into(),
                base_path.clone(),
                base_query.clone(),
                None,
                Some(b"{".to_vec()),
                Token::Admin,
                false,
            );
            let big = format!("{{\"name\": \"{}\"}}", "x".repeat(2 << 20));
            push(
                "over 1 MiB".into(),
                base_path.clone(),
                base_query.clone(),
                None,
                Some(big.into_bytes()),
                Token::Admin,
                false,
            );
        }
    }
    out
}

/// Sends a call; answers the status and the body as JSON (or text).
async fn send(s: &TestServer, c: &Call) -> (StatusCode, Value) {
    let mut req = s
        .client
        .request(c.method.clone(), format!("{}{}", s.base, c.path))
        .query(&c.query);
    match c.token {
        Token::Admin => req = req.bearer_auth(&s.token),
        Token::Wrong => req = req.bearer_auth("lb_not-a-token-of-this-server"),
        Token::None => {}
    }
    if let Some(b) = &c.body {
        req = req
            .header("content-type", "application/json")
            .body(b.clone());
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", c.what));
    let st = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (st, v)
}

/// GETs run first, then the writes, deletes and stopping protection last,
/// so a route finds the resources the fixtures made.
fn order(method: &str, path: &str) -> u8 {
    match method {
        "get" => 0,
        "delete" => 2,
        _ if path.ends_with("/stop") => 3,
        _ => 1,
    }
}

both!(the_server_answers_only_what_its_document_declares, |db| {
    // One database is enough for a contract about statuses; the both!
    // pair keeps PostgreSQL honest too, on the same requests.
    let mut s = TestServer::start(db).await;
    let (st, doc) = s.get("/api/v1/openapi.json").await;
    assert_eq!(st, StatusCode::OK);
    let f = fixtures(&s).await;
    let g = Gen {
        doc: &doc,
        now: chrono::Utc::now(),
    };
    let mut ops: Vec<(&str, &str, &Value)> = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            ops.push((method.as_str(), path.as_str(), op));
        }
    }
    ops.sort_by_key(|(m, p, _)| (order(m, p), *p, *m));
    let mut failures = Vec::new();
    let mut sent = 0usize;
    let mut n = 0usize;
    for (method, path, op) in &ops {
        let declared: BTreeSet<u16> = op["responses"]
            .as_object()
            .expect("responses")
            .keys()
            .filter_map(|k| k.parse().ok())
            .collect();
        for c in calls(&g, &f, method, path, op, &mut n) {
            let (st, v) = send(&s, &c).await;
            sent += 1;
            let code = st.as_u16();
            let head = format!("{method} {path} [{}] -> {code} {v}", c.what);
            if !declared.contains(&code) {
                failures.push(format!("undeclared status: {head} (declared {declared:?})"));
            }
            if st.is_server_error() {
                failures.push(format!("server error: {head}"));
            }
            if c.token != Token::Admin && op.get("security").is_some() && code != 401 {
                failures.push(format!("not 401 without a valid token: {head}"));
            }
            if c.valid && st.is_client_error() && !VALID_REFUSALS.contains(&code) {
                failures.push(format!("a value the schema allows was refused: {head}"));
            }
            // A list that answers a next page: its cursor is valid.
            if c.valid
                && st == StatusCode::OK
                && let Some(next) = v["nextLink"].as_str()
            {
                let (st, w) = s.get(next).await;
                sent += 1;
                if st != StatusCode::OK {
                    failures.push(format!("nextLink refused: {head} -> {next}: {st} {w}"));
                }
            }
        }
        // Lists with a cursor: a page of one, and its nextLink.
        let has_cursor = op["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["name"] == "cursor"));
        if *method == "get" && has_cursor {
            let ctx = &contexts(&f, method, path)[0];
            let url = format!("{}?limit=1", concrete(path, ctx));
            let (st, page) = s.get(&url).await;
            sent += 1;
            if let Some(next) = page["nextLink"].as_str() {
                let (st2, w) = s.get(next).await;
                sent += 1;
                if st2 != StatusCode::OK {
                    failures.push(format!("nextLink refused: {url} -> {next}: {st2} {w}"));
                }
            } else if st != StatusCode::OK {
                failures.push(format!("a page of one refused: {url}: {st} {page}"));
            }
        }
    }
    s.stop().await;
    assert!(
        failures.is_empty(),
        "{} of {sent} answers break the document:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(sent > 500, "only {sent} requests: the walk missed routes");
    let _ = Db::Sqlite;
});
