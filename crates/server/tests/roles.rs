//! Roles, identities and tokens against a real server over HTTP.
//!
//! The role matrix walks every role (the four backup roles, the reserved
//! Site Recovery roles, `Agent`, and a role name the server does not know)
//! at server scope and on one vault, × every API operation, × the vault in
//! scope and a vault out of scope, and checks each answer: allowed (any
//! status but 401/403) or `403 FORBIDDEN`. The expected outcome comes from
//! the table in this file, written from docs/access.md — not from the
//! server's own table — so a change to either shows up here.

#[macro_use]
mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use lifeboat_catalog::Catalog;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Db, TestServer, code, make_tree};

const OWNER: &str = "Owner";
const CONTRIB: &str = "Backup Contributor";
const OPERATOR: &str = "Backup Operator";
const READER: &str = "Backup Reader";
const SR_CONTRIB: &str = "Site Recovery Contributor";
const SR_OPERATOR: &str = "Site Recovery Operator";
const SR_READER: &str = "Site Recovery Reader";
const AGENT: &str = "Agent";
const UNKNOWN: &str = "Frobnicator";

const ROLES: [&str; 9] = [
    OWNER,
    CONTRIB,
    OPERATOR,
    READER,
    SR_CONTRIB,
    SR_OPERATOR,
    SR_READER,
    AGENT,
    UNKNOWN,
];

const READERS: &[&str] = &[OWNER, CONTRIB, OPERATOR, READER];
const OPERATORS: &[&str] = &[OWNER, CONTRIB, OPERATOR];
const CONTRIBUTORS: &[&str] = &[OWNER, CONTRIB];
const OWNERS: &[&str] = &[OWNER];

/// Where an operation acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// On the vault in the path (or body, or the job's vault).
    Vault,
    /// On no vault: needs a server-scope role.
    Server,
    /// A list: any role that may read somewhere; filtered.
    Listing,
    /// Any authenticated caller (a list filtered to what it holds).
    Anyone,
    /// The resource guard `mg`, which no identity of the matrix holds: only
    /// the case's roles at server scope.
    Holder,
}

/// One API call of the matrix. `{v}` is the vault, `{job}` a job of it,
/// `{asg}` a role assignment on it.
struct Case {
    op: &'static str,
    method: Method,
    path: &'static str,
    body: Option<Value>,
    kind: Kind,
    roles: &'static [&'static str],
}

fn cases() -> Vec<Case> {
    use Kind::*;
    let c = |op, method, path, body: Option<Value>, kind, roles| Case {
        op,
        method,
        path,
        body,
        kind,
        roles,
    };
    let get = Method::GET;
    let post = Method::POST;
    vec![
        c(
            "system.metrics",
            get.clone(),
            "/metrics",
            None,
            Server,
            READERS,
        ),
        c(
            "api.describe",
            get.clone(),
            "/api/v1/openapi.json",
            None,
            Listing,
            READERS,
        ),
        // An invalid name: allowed callers get 400, nothing is created.
        c(
            "vault.create",
            post.clone(),
            "/api/v1/vaults",
            Some(json!({"name": "not a name!", "kind": "recovery-services"})),
            Server,
            CONTRIBUTORS,
        ),
        c(
            "vault.read",
            get.clone(),
            "/api/v1/vaults",
            None,
            Listing,
            READERS,
        ),
        c(
            "vault.read",
            get.clone(),
            "/api/v1/vaults/{v}",
            None,
            Vault,
            READERS,
        ),
        // The vault holds an item: allowed callers get 409 VAULT_NOT_EMPTY.
        c(
            "vault.delete",
            Method::DELETE,
            "/api/v1/vaults/{v}",
            None,
            Vault,
            OWNERS,
        ),
        // An invalid setting: allowed callers get 400, nothing changes.
        c(
            "vault.update",
            Method::PATCH,
            "/api/v1/vaults/{v}",
            Some(json!({"softDeleteState": "Sometimes"})),
            Vault,
            CONTRIBUTORS,
        ),
        c(
            "vault.read",
            get.clone(),
            "/api/v1/vaults/{v}/alerts",
            None,
            Vault,
            READERS,
        ),
        c(
            "vault.read",
            get.clone(),
            "/api/v1/deleted-vaults",
            None,
            Server,
            READERS,
        ),
        c(
            "vault.read",
            get.clone(),
            "/api/v1/deleted-vaults/ghost",
            None,
            Server,
            READERS,
        ),
        c(
            "vault.undelete",
            post.clone(),
            "/api/v1/deleted-vaults/ghost/undelete",
            None,
            Server,
            CONTRIBUTORS,
        ),
        c(
            "item.undelete",
            post.clone(),
            "/api/v1/vaults/{v}/items/ghost/undelete",
            None,
            Vault,
            CONTRIBUTORS,
        ),
        c(
            "policy.read",
            get.clone(),
            "/api/v1/vaults/{v}/policies",
            None,
            Vault,
            READERS,
        ),
        c(
            "policy.read",
            get.clone(),
            "/api/v1/vaults/{v}/policies/DefaultPolicy",
            None,
            Vault,
            READERS,
        ),
        c(
            "policy.write",
            post.clone(),
            "/api/v1/vaults/{v}/policies",
            Some(json!({})),
            Vault,
            CONTRIBUTORS,
        ),
        c(
            "policy.write",
            Method::PUT,
            "/api/v1/vaults/{v}/policies/ghost",
            Some(json!({})),
            Vault,
            CONTRIBUTORS,
        ),
        // In use by the item: allowed callers get 409 POLICY_IN_USE.
        c(
            "policy.delete",
            Method::DELETE,
            "/api/v1/vaults/{v}/policies/DefaultPolicy",
            None,
            Vault,
            CONTRIBUTORS,
        ),
        c(
            "item.read",
            get.clone(),
            "/api/v1/vaults/{v}/items",
            None,
            Vault,
            READERS,
        ),
        c(
            "item.read",
            get.clone(),
            "/api/v1/vaults/{v}/items/data",
            None,
            Vault,
            READERS,
        ),
        c(
            "item.protect",
            post.clone(),
            "/api/v1/vaults/{v}/items",
            Some(json!({})),
            Vault,
            OPERATORS,
        ),
        c(
            "item.backup_now",
            post.clone(),
            "/api/v1/vaults/{v}/items/ghost/backup",
            Some(json!({})),
            Vault,
            &[OWNER, CONTRIB, OPERATOR, AGENT],
        ),
        c(
            "item.stop",
            post.clone(),
            "/api/v1/vaults/{v}/items/ghost/stop",
            Some(json!({"mode": "retain-data"})),
            Vault,
            OPERATORS,
        ),
        c(
            "item.stop",
            post.clone(),
            "/api/v1/vaults/{v}/items/ghost/stop",
            Some(json!({"mode": "retain-as-per-policy"})),
            Vault,
            OPERATORS,
        ),
        c(
            "item.stop_delete",
            post.clone(),
            "/api/v1/vaults/{v}/items/ghost/stop",
            Some(json!({"mode": "delete-data"})),
            Vault,
            CONTRIBUTORS,
        ),
        c(
            "item.resume",
            post.clone(),
            "/api/v1/vaults/{v}/items/ghost/resume",
            Some(json!({"policy": "DefaultPolicy"})),
            Vault,
            OPERATORS,
        ),
        c(
            "item.change_policy",
            post.clone(),
            "/api/v1/vaults/{v}/items/ghost/policy",
            Some(json!({"policy": "DefaultPolicy"})),
            Vault,
            CONTRIBUTORS,
        ),
        c(
            "point.read",
            get.clone(),
            "/api/v1/vaults/{v}/items/data/points",
            None,
            Vault,
            READERS,
        ),
        c(
            "point.read",
            get.clone(),
            "/api/v1/vaults/{v}/items/data/points/ghost",
            None,
            Vault,
            READERS,
        ),
        c(
            "restore",
            post.clone(),
            "/api/v1/vaults/{v}/items/ghost/points/latest/restore",
            Some(json!({})),
            Vault,
            OPERATORS,
        ),
        c(
            "job.read",
            get.clone(),
            "/api/v1/jobs",
            None,
            Listing,
            READERS,
        ),
        c(
            "job.read",
            get.clone(),
            "/api/v1/jobs?vault={v}",
            None,
            Vault,
            READERS,
        ),
        c(
            "job.read",
            get.clone(),
            "/api/v1/jobs/{job}",
            None,
            Vault,
            READERS,
        ),
        // The job has ended: allowed callers get 409.
        c(
            "job.cancel",
            post.clone(),
            "/api/v1/jobs/{job}/cancel",
            None,
            Vault,
            OPERATORS,
        ),
        c(
            "identity.create",
            post.clone(),
            "/api/v1/identities",
            Some(json!({"name": "not a name!"})),
            Server,
            OWNERS,
        ),
        c(
            "identity.read",
            get.clone(),
            "/api/v1/identities",
            None,
            Server,
            OWNERS,
        ),
        c(
            "identity.read",
            get.clone(),
            "/api/v1/identities/admin",
            None,
            Server,
            OWNERS,
        ),
        c(
            "identity.disable",
            post.clone(),
            "/api/v1/identities/ghost/disable",
            None,
            Server,
            OWNERS,
        ),
        c(
            "identity.disable",
            post.clone(),
            "/api/v1/identities/ghost/enable",
            None,
            Server,
            OWNERS,
        ),
        c(
            "token.create",
            post.clone(),
            "/api/v1/identities/ghost/tokens",
            Some(json!({"name": "t"})),
            Server,
            OWNERS,
        ),
        c(
            "token.read",
            get.clone(),
            "/api/v1/identities/admin/tokens",
            None,
            Server,
            OWNERS,
        ),
        c(
            "token.revoke",
            post.clone(),
            "/api/v1/identities/ghost/tokens/t/revoke",
            None,
            Server,
            OWNERS,
        ),
        c(
            "role.assign",
            post.clone(),
            "/api/v1/roleAssignments",
            Some(json!({"identity": "ghost", "role": "Backup Reader", "vault": "{v}"})),
            Vault,
            OWNERS,
        ),
        c(
            "role.assign",
            post.clone(),
            "/api/v1/roleAssignments",
            Some(json!({"identity": "ghost", "role": "Backup Reader"})),
            Server,
            OWNERS,
        ),
        c(
            "role.read",
            get.clone(),
            "/api/v1/roleAssignments",
            None,
            Listing,
            OWNERS,
        ),
        c(
            "role.remove",
            Method::DELETE,
            "/api/v1/roleAssignments/{asg}",
            None,
            Vault,
            OWNERS,
        ),
        c(
            "audit.read",
            get.clone(),
            "/api/v1/audit",
            None,
            Server,
            OWNERS,
        ),
        c(
            "audit.read",
            get.clone(),
            "/api/v1/audit/verify",
            None,
            Server,
            OWNERS,
        ),
        // Multi-user authorization. An invalid name: allowed callers get 400.
        c(
            "guard.create",
            post.clone(),
            "/api/v1/resourceGuards",
            Some(json!({"name": "not a name!"})),
            Server,
            OWNERS,
        ),
        c(
            "guard.read",
            get.clone(),
            "/api/v1/resourceGuards",
            None,
            Anyone,
            &[],
        ),
        c(
            "guard.read",
            get.clone(),
            "/api/v1/resourceGuards/mg",
            None,
            Holder,
            OWNERS,
        ),
        // Holders only: no role, not even Owner, manages or decides.
        c(
            "guard.manage",
            Method::DELETE,
            "/api/v1/resourceGuards/mg",
            None,
            Holder,
            &[],
        ),
        c(
            "guard.manage",
            post.clone(),
            "/api/v1/resourceGuards/mg/members",
            Some(json!({"identity": "ghost"})),
            Holder,
            &[],
        ),
        c(
            "guard.manage",
            Method::DELETE,
            "/api/v1/resourceGuards/mg/members/ghost",
            None,
            Holder,
            &[],
        ),
        c(
            "guard.approve",
            get.clone(),
            "/api/v1/resourceGuards/mg/requests",
            None,
            Holder,
            &[],
        ),
        c(
            "guard.approve",
            post.clone(),
            "/api/v1/resourceGuards/mg/requests/1/approve",
            Some(json!({})),
            Holder,
            &[],
        ),
        c(
            "guard.approve",
            post.clone(),
            "/api/v1/resourceGuards/mg/requests/1/reject",
            None,
            Holder,
            &[],
        ),
        c(
            "vault.read",
            get.clone(),
            "/api/v1/vaults/{v}/resourceGuard",
            None,
            Vault,
            READERS,
        ),
        // No such guard: allowed callers get 404.
        c(
            "vault.guard_attach",
            Method::PUT,
            "/api/v1/vaults/{v}/resourceGuard",
            Some(json!({"guardName": "ghost"})),
            Vault,
            OWNERS,
        ),
        // The vault has no guard: allowed callers get 404.
        c(
            "vault.guard_detach",
            Method::DELETE,
            "/api/v1/vaults/{v}/resourceGuard",
            None,
            Vault,
            OWNERS,
        ),
        // An unknown operation: allowed callers get 400.
        c(
            "mua.request",
            post.clone(),
            "/api/v1/vaults/{v}/resourceGuard/requests",
            Some(json!({"operation": "bogus"})),
            Vault,
            CONTRIBUTORS,
        ),
    ]
}

/// What the table says: may `role` at `scope` (`None`: server; `Some(v)`:
/// that vault) do `case` on vault `v`?
fn expected(case: &Case, role: &str, scope: Option<&str>, v: &str) -> bool {
    if case.kind == Kind::Anyone {
        return true;
    }
    if !case.roles.contains(&role) {
        return false;
    }
    // Agent is append-only and vault-scoped: at server scope it permits nothing.
    if role == AGENT && scope.is_none() {
        return false;
    }
    match case.kind {
        Kind::Server | Kind::Holder => scope.is_none(),
        Kind::Listing | Kind::Anyone => true,
        Kind::Vault => scope.is_none() || scope == Some(v),
    }
}

/// Makes an identity with `role` at `scope` and returns a token of it.
/// Roles the API refuses to assign (unknown names, Agent at server scope)
/// are written to the catalog directly, as a newer server might have.
async fn identity_with(
    s: &TestServer,
    cat: &Catalog,
    name: &str,
    role: &str,
    vault: Option<&str>,
) -> String {
    let (st, v) = s
        .post("/api/v1/identities", json!({"name": name, "kind": "User"}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let direct = role == UNKNOWN || (role == AGENT && vault.is_none());
    if direct {
        let id = cat.get_identity(name).await.unwrap().id;
        let vid = match vault {
            Some(v) => Some(cat.get_vault(v).await.unwrap().id),
            None => None,
        };
        cat.assign_role(id, role, vid, Utc::now()).await.unwrap();
    } else {
        let mut body = json!({"identity": name, "role": role});
        if let Some(v) = vault {
            body["vault"] = json!(v);
        }
        let (st, a) = s.post("/api/v1/roleAssignments", body).await;
        assert_eq!(st, StatusCode::CREATED, "assign {role}: {a}");
    }
    let (st, t) = s
        .post(
            &format!("/api/v1/identities/{name}/tokens"),
            json!({"name": format!("{name}-token")}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{t}");
    t["token"].as_str().unwrap().to_owned()
}

/// Two vaults, each with a protected item and a finished backup job.
async fn two_vaults(s: &TestServer) -> [(String, i64); 2] {
    let src = s.tmp().join("src");
    make_tree(&src);
    let mut out = Vec::new();
    for v in ["va", "vb"] {
        s.vault(v).await;
        s.protect(v, "data", "path", &src).await;
        let (st, job) = s
            .post(&format!("/api/v1/vaults/{v}/items/data/backup"), json!({}))
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{job}");
        let id = job["id"].as_i64().unwrap();
        s.wait_job(id).await;
        out.push((v.to_owned(), id));
    }
    [out[0].clone(), out[1].clone()]
}

/// A role assignment on `vault` to remove (made again when an earlier
/// call removed it).
async fn victim_assignment(s: &TestServer, vault: &str) -> i64 {
    let (st, _) = s
        .post("/api/v1/identities", json!({"name": "victim"}))
        .await;
    assert!(st == StatusCode::CREATED || st == StatusCode::CONFLICT);
    let (st, a) = s
        .post(
            "/api/v1/roleAssignments",
            json!({"identity": "victim", "role": READER, "vault": vault}),
        )
        .await;
    assert!(
        st == StatusCode::CREATED || st == StatusCode::CONFLICT,
        "{a}"
    );
    let list = s
        .ok(&format!(
            "/api/v1/roleAssignments?identity=victim&vault={vault}"
        ))
        .await;
    list["value"][0]["id"].as_i64().unwrap()
}

async fn matrix(db: Db) {
    let mut s = TestServer::start(db).await;
    let cat = Catalog::connect(&s.catalog_url).await.unwrap();
    let vaults = two_vaults(&s).await;
    // A resource guard that admin holds and no identity of the matrix does.
    let (st, g) = s
        .post("/api/v1/resourceGuards", json!({"name": "mg"}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{g}");
    let mut checked = 0usize;
    let mut ops_seen = BTreeSet::new();
    for (ri, role) in ROLES.iter().enumerate() {
        for scope in [None, Some("va")] {
            let name = format!("r{ri}-{}", scope.unwrap_or("server"));
            let token = identity_with(&s, &cat, &name, role, scope).await;
            for case in cases() {
                ops_seen.insert(case.op);
                for (v, job) in &vaults {
                    let asg = if case.path.contains("{asg}") {
                        victim_assignment(&s, v).await
                    } else {
                        0
                    };
                    let path = case
                        .path
                        .replace("{v}", v)
                        .replace("{job}", &job.to_string())
                        .replace("{asg}", &asg.to_string());
                    let body = case
                        .body
                        .as_ref()
                        .map(|b| serde_json::from_str(&b.to_string().replace("{v}", v)).unwrap());
                    let (st, answer) = s
                        .call_as(Some(&token), case.method.clone(), &path, body)
                        .await;
                    let want = expected(&case, role, scope, v);
                    let what = format!(
                        "{role} at {} × {} ({} {path}) → {st} {answer}",
                        scope.unwrap_or("server"),
                        case.op,
                        case.method
                    );
                    assert_ne!(st, StatusCode::UNAUTHORIZED, "{what}");
                    if want {
                        assert_ne!(st, StatusCode::FORBIDDEN, "should be allowed: {what}");
                    } else {
                        assert_eq!(st, StatusCode::FORBIDDEN, "should be refused: {what}");
                        assert_eq!(answer["code"], "FORBIDDEN", "{what}");
                        let msg = answer["message"].as_str().unwrap();
                        assert!(
                            msg.contains(case.op),
                            "the message names the operation: {what}"
                        );
                        assert!(!msg.contains(&token), "no secret in the message");
                    }
                    checked += 1;
                    // Server-scope and listing operations do not depend on
                    // the vault: once is enough.
                    if case.kind != Kind::Vault {
                        break;
                    }
                }
            }
        }
    }
    // Every operation of the server's table is in the matrix, except
    // point.delete, which has no route yet.
    let server_ops: BTreeSet<&str> = lifeboat_server::authz::PERMISSIONS
        .iter()
        .map(|(op, _)| op.name())
        .filter(|n| *n != "point.delete")
        .collect();
    assert_eq!(ops_seen, server_ops, "the matrix covers every operation");
    assert!(checked > 800, "{checked} calls checked");
    // Nothing destructive got through: both vaults and their items remain.
    for v in ["va", "vb"] {
        s.ok(&format!("/api/v1/vaults/{v}/items/data")).await;
    }
    s.stop().await;
}

both!(role_matrix, |db| {
    matrix(db).await;
});

/// A documented route that has no row in the matrix fails here.
#[test]
fn every_documented_route_is_in_the_matrix() {
    let doc = serde_json::to_value(lifeboat_server::api::openapi()).unwrap();
    let covered: BTreeSet<(String, String)> = cases()
        .iter()
        .map(|c| {
            let p = c.path.split('?').next().unwrap();
            let p = p
                .replace("/api/v1/vaults/{v}", "/api/v1/vaults/{vault}")
                .replace("/items/data", "/items/{item}")
                .replace("/items/ghost", "/items/{item}")
                .replace("/policies/DefaultPolicy", "/policies/{policy}")
                .replace("/policies/ghost", "/policies/{policy}")
                .replace("/points/ghost", "/points/{point}")
                .replace("/points/latest", "/points/{point}")
                .replace("{job}", "{id}")
                .replace("{asg}", "{id}")
                .replace("/identities/admin", "/identities/{identity}")
                .replace("/identities/ghost", "/identities/{identity}")
                .replace("/deleted-vaults/ghost", "/deleted-vaults/{vault}")
                .replace("/tokens/t/", "/tokens/{token}/")
                .replace("/resourceGuards/mg", "/resourceGuards/{guard}")
                .replace("/members/ghost", "/members/{identity}")
                .replace("/requests/1/", "/requests/{id}/");
            (c.method.as_str().to_lowercase(), p)
        })
        .collect();
    let mut missing = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in ["get", "post", "put", "delete", "patch"] {
            if item.get(m).is_some()
                && path != "/healthz"
                && !covered.contains(&(m.to_owned(), path.clone()))
            {
                missing.push(format!("{m} {path}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "routes missing from the role matrix: {missing:?}"
    );
}

// The matrix's list answers are filtered to the caller's vaults.
both!(lists_show_only_vaults_in_scope, |db| {
    let mut s = TestServer::start(db).await;
    let cat = Catalog::connect(&s.catalog_url).await.unwrap();
    let vaults = two_vaults(&s).await;
    let reader = identity_with(&s, &cat, "reader-a", READER, Some("va")).await;
    let (st, list) = s
        .call_as(Some(&reader), Method::GET, "/api/v1/vaults", None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let names: Vec<_> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["va"]);
    let (st, jobs) = s
        .call_as(Some(&reader), Method::GET, "/api/v1/jobs", None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let ids: Vec<_> = jobs["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [vaults[0].1], "only the job of va");
    // An Owner of va sees the assignments on va only.
    let owner = identity_with(&s, &cat, "owner-a", OWNER, Some("va")).await;
    let (st, list) = s
        .call_as(Some(&owner), Method::GET, "/api/v1/roleAssignments", None)
        .await;
    assert_eq!(st, StatusCode::OK);
    for a in list["value"].as_array().unwrap() {
        assert_eq!(a["vault"], "va", "{a}");
    }
    // …and may give roles on va, not on vb, not at server scope.
    s.post("/api/v1/identities", json!({"name": "carol"})).await;
    let give = |vault: Option<&str>| {
        let mut b = json!({"identity": "carol", "role": OPERATOR});
        if let Some(v) = vault {
            b["vault"] = json!(v);
        }
        b
    };
    let (st, _) = s
        .call_as(
            Some(&owner),
            Method::POST,
            "/api/v1/roleAssignments",
            Some(give(Some("va"))),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    for body in [give(Some("vb")), give(None)] {
        let (st, v) = s
            .call_as(
                Some(&owner),
                Method::POST,
                "/api/v1/roleAssignments",
                Some(body),
            )
            .await;
        assert_eq!(
            (st, v["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("FORBIDDEN"))
        );
    }
    s.stop().await;
});

/// Expiry (with the service clock), revocation, disabled identities, role
/// removal, and what 401s say.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_lifecycle() {
    let start = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
    let clock = Arc::new(lifeboat_service::ManualClock::new(start));
    let mut s = TestServer::start_with(Db::Sqlite, clock.clone(), "UTC").await;
    s.vault("va").await;

    let (st, v) = s.call_as(None, Method::GET, "/api/v1/vaults", None).await;
    assert_eq!((st, code(&v)), (StatusCode::UNAUTHORIZED, "AUTH_REQUIRED"));
    let (st, v) = s
        .call_as(
            Some("lb_not_a_real_token"),
            Method::GET,
            "/api/v1/vaults",
            None,
        )
        .await;
    assert_eq!((st, code(&v)), (StatusCode::UNAUTHORIZED, "AUTH_INVALID"));

    s.post("/api/v1/identities", json!({"name": "alice"})).await;
    let (st, _) = s
        .post(
            "/api/v1/roleAssignments",
            json!({"identity": "alice", "role": "Backup Reader"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, made) = s
        .post(
            "/api/v1/identities/alice/tokens",
            json!({"name": "short", "expiresInDays": 1}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{made}");
    let short = made["token"].as_str().unwrap().to_owned();
    assert!(short.starts_with("lb_") && short.len() == 67);
    assert_eq!(
        made["expires"]
            .as_str()
            .map(|t| t.parse::<chrono::DateTime<Utc>>().unwrap()),
        Some(start + TimeDelta::days(1))
    );
    let (_, made) = s
        .post("/api/v1/identities/alice/tokens", json!({"name": "long"}))
        .await;
    let long = made["token"].as_str().unwrap().to_owned();
    assert_eq!(
        made["expires"]
            .as_str()
            .map(|t| t.parse::<chrono::DateTime<Utc>>().unwrap()),
        Some(start + TimeDelta::days(90)),
        "90 days by default"
    );
    // Expiry in the past or too far: refused.
    for body in [
        json!({"name": "x", "expires": (start - TimeDelta::hours(1)).to_rfc3339()}),
        json!({"name": "x", "expiresInDays": 0}),
        json!({"name": "x", "expiresInDays": 3651}),
    ] {
        let (st, v) = s.post("/api/v1/identities/alice/tokens", body).await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
            "{v}"
        );
    }

    // Both work, and are now cached.
    for t in [&short, &long] {
        let (st, v) = s
            .call_as(Some(t), Method::GET, "/api/v1/vaults", None)
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
    }
    // A reader may not write: 403 naming the operation and the roles.
    let (st, v) = s
        .call_as(Some(&long), Method::DELETE, "/api/v1/vaults/va", None)
        .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let msg = v["message"].as_str().unwrap();
    assert!(
        msg.contains("vault.delete") && msg.contains("Owner") && msg.contains("Backup Reader"),
        "{msg}"
    );

    // The list shows no secret.
    let list = s.ok("/api/v1/identities/alice/tokens").await;
    let text = list.to_string();
    assert!(!text.contains(&short) && !text.contains(&long));
    assert!(!text.contains(&short[3..20]));
    assert_eq!(list["value"].as_array().unwrap().len(), 2);

    // Expiry follows the service clock, cached or not.
    clock.set(start + TimeDelta::days(1) + TimeDelta::seconds(1));
    let (st, v) = s
        .call_as(Some(&short), Method::GET, "/api/v1/vaults", None)
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED"),
        "{v}"
    );
    assert!(!v["message"].as_str().unwrap().contains(&short));
    let list = s.ok("/api/v1/identities/alice/tokens").await;
    let status = |list: &Value, name: &str| {
        list["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .map(|t| t["status"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(status(&list, "short"), "Expired");
    assert_eq!(status(&list, "long"), "Active");

    // Revocation is immediate on this server, though the token is cached.
    let (st, _) = s
        .call_as(Some(&long), Method::GET, "/api/v1/vaults", None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = s
        .post("/api/v1/identities/alice/tokens/long/revoke", json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "Revoked");
    let (st, v) = s
        .call_as(Some(&long), Method::GET, "/api/v1/vaults", None)
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNAUTHORIZED, "TOKEN_REVOKED"),
        "{v}"
    );
    // A token of another identity is not found under this one.
    let (st, _) = s
        .post("/api/v1/identities/admin/tokens/long/revoke", json!({}))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Disabled identity: refused at once; enabled: works again.
    let (_, made) = s
        .post("/api/v1/identities/alice/tokens", json!({"name": "third"}))
        .await;
    let third = made["token"].as_str().unwrap().to_owned();
    let (st, _) = s
        .call_as(Some(&third), Method::GET, "/api/v1/vaults", None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = s.post("/api/v1/identities/alice/disable", json!({})).await;
    assert_eq!((st, v["disabled"].as_bool()), (StatusCode::OK, Some(true)));
    let (st, v) = s
        .call_as(Some(&third), Method::GET, "/api/v1/vaults", None)
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNAUTHORIZED, "IDENTITY_DISABLED")
    );
    s.post("/api/v1/identities/alice/enable", json!({})).await;
    let (st, _) = s
        .call_as(Some(&third), Method::GET, "/api/v1/vaults", None)
        .await;
    assert_eq!(st, StatusCode::OK);

    // Removing the role takes effect at once: then nothing is permitted.
    let roles = s.ok("/api/v1/roleAssignments?identity=alice").await;
    let id = roles["value"][0]["id"].as_i64().unwrap();
    let (st, _) = s.delete(&format!("/api/v1/roleAssignments/{id}")).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, v) = s
        .call_as(Some(&third), Method::GET, "/api/v1/vaults", None)
        .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    assert!(
        v["message"].as_str().unwrap().contains("it has no role"),
        "{v}"
    );

    // The caller cannot lock itself out.
    let (st, v) = s.post("/api/v1/identities/admin/disable", json!({})).await;
    assert_eq!((st, code(&v)), (StatusCode::CONFLICT, "SELF_LOCKOUT"));
    let roles = s.ok("/api/v1/roleAssignments?identity=admin").await;
    let id = roles["value"][0]["id"].as_i64().unwrap();
    let (st, v) = s.delete(&format!("/api/v1/roleAssignments/{id}")).await;
    assert_eq!((st, code(&v)), (StatusCode::CONFLICT, "SELF_LOCKOUT"));

    // Roles the server does not know cannot be assigned; Agent only on a vault.
    let (st, v) = s
        .post(
            "/api/v1/roleAssignments",
            json!({"identity": "alice", "role": "Root"}),
        )
        .await;
    assert_eq!((st, code(&v)), (StatusCode::BAD_REQUEST, "INVALID_ROLE"));
    let (st, v) = s
        .post(
            "/api/v1/roleAssignments",
            json!({"identity": "alice", "role": "Agent"}),
        )
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT")
    );
    s.stop().await;
}

/// Tokens made before identities keep working with their own role:
/// `Administrator` as a server-scope Owner, an unknown role as nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_identity_tokens() {
    let mut s = TestServer::start(Db::Sqlite).await;
    let cat = Catalog::connect(&s.catalog_url).await.unwrap();
    let admin = "lb_legacy_admin_0000000000000000000000000000000000000000000000000000";
    let odd = "lb_legacy_other_0000000000000000000000000000000000000000000000000000";
    cat.create_token("old-admin", "Administrator", admin, Utc::now())
        .await
        .unwrap();
    cat.create_token("old-odd", "SuperUser", odd, Utc::now())
        .await
        .unwrap();
    let (st, v) = s
        .call_as(
            Some(admin),
            Method::POST,
            "/api/v1/vaults",
            Some(json!({"name": "legacy", "kind": "recovery-services"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, _) = s
        .call_as(Some(admin), Method::GET, "/api/v1/identities", None)
        .await;
    assert_eq!(st, StatusCode::OK);
    for (m, p) in [
        (Method::GET, "/api/v1/vaults"),
        (Method::GET, "/api/v1/openapi.json"),
        (Method::GET, "/api/v1/jobs"),
        (Method::DELETE, "/api/v1/vaults/legacy"),
    ] {
        let (st, v) = s.call_as(Some(odd), m, p, None).await;
        assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "FORBIDDEN"), "{p}");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("unknown role 'SuperUser'")
        );
    }
    s.stop().await;
}

/// A vault role is for that vault, not its name: a vault deleted and made
/// again under the same name is out of reach, even while the caller's
/// token is still cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_made_again_under_the_name_is_another_vault() {
    let mut s = TestServer::start(Db::Sqlite).await;
    let cat = Catalog::connect(&s.catalog_url).await.unwrap();
    s.vault("tmp").await;
    let bob = identity_with(&s, &cat, "bob", READER, Some("tmp")).await;
    let (st, _) = s
        .call_as(Some(&bob), Method::GET, "/api/v1/vaults/tmp", None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = s.delete("/api/v1/vaults/tmp").await;
    assert!(st.is_success(), "{v}");
    s.vault("tmp").await;
    let (st, v) = s
        .call_as(Some(&bob), Method::GET, "/api/v1/vaults/tmp", None)
        .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "FORBIDDEN"), "{v}");
    s.stop().await;
}
