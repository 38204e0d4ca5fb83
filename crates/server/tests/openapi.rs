//! The OpenAPI document against the running router: every documented
//! operation is served, every method the router serves on a documented
//! path is documented, and the set of routes is the contract of
//! docs/service.md.

#[macro_use]
mod support;

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use support::{Db, TestServer};

/// docs/service.md's route table.
const CONTRACT: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/api/v1/openapi.json"),
    ("post", "/api/v1/vaults"),
    ("get", "/api/v1/vaults"),
    ("get", "/api/v1/vaults/{vault}"),
    ("delete", "/api/v1/vaults/{vault}"),
    ("get", "/api/v1/vaults/{vault}/policies"),
    ("post", "/api/v1/vaults/{vault}/policies"),
    ("get", "/api/v1/vaults/{vault}/policies/{policy}"),
    ("put", "/api/v1/vaults/{vault}/policies/{policy}"),
    ("delete", "/api/v1/vaults/{vault}/policies/{policy}"),
    ("get", "/api/v1/vaults/{vault}/items"),
    ("post", "/api/v1/vaults/{vault}/items"),
    ("get", "/api/v1/vaults/{vault}/items/{item}"),
    ("post", "/api/v1/vaults/{vault}/items/{item}/backup"),
    ("post", "/api/v1/vaults/{vault}/items/{item}/stop"),
    ("post", "/api/v1/vaults/{vault}/items/{item}/resume"),
    ("post", "/api/v1/vaults/{vault}/items/{item}/policy"),
    ("get", "/api/v1/vaults/{vault}/items/{item}/points"),
    ("get", "/api/v1/vaults/{vault}/items/{item}/points/{point}"),
    (
        "post",
        "/api/v1/vaults/{vault}/items/{item}/points/{point}/restore",
    ),
    ("get", "/api/v1/jobs"),
    ("get", "/api/v1/jobs/{id}"),
    ("post", "/api/v1/jobs/{id}/cancel"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/audit/verify"),
    // Soft delete and immutable vaults (docs/security.md).
    ("patch", "/api/v1/vaults/{vault}"),
    ("get", "/api/v1/vaults/{vault}/alerts"),
    ("post", "/api/v1/vaults/{vault}/items/{item}/undelete"),
    ("get", "/api/v1/deleted-vaults"),
    ("get", "/api/v1/deleted-vaults/{vault}"),
    ("post", "/api/v1/deleted-vaults/{vault}/undelete"),
    // Identities, tokens and role assignments (docs/access.md).
    ("post", "/api/v1/identities"),
    ("get", "/api/v1/identities"),
    ("get", "/api/v1/identities/{identity}"),
    ("post", "/api/v1/identities/{identity}/disable"),
    ("post", "/api/v1/identities/{identity}/enable"),
    ("post", "/api/v1/identities/{identity}/tokens"),
    ("get", "/api/v1/identities/{identity}/tokens"),
    (
        "post",
        "/api/v1/identities/{identity}/tokens/{token}/revoke",
    ),
    ("post", "/api/v1/roleAssignments"),
    ("get", "/api/v1/roleAssignments"),
    ("delete", "/api/v1/roleAssignments/{id}"),
    // Multi-user authorization.
    ("post", "/api/v1/resourceGuards"),
    ("get", "/api/v1/resourceGuards"),
    ("get", "/api/v1/resourceGuards/{guard}"),
    ("delete", "/api/v1/resourceGuards/{guard}"),
    ("post", "/api/v1/resourceGuards/{guard}/members"),
    (
        "delete",
        "/api/v1/resourceGuards/{guard}/members/{identity}",
    ),
    ("get", "/api/v1/resourceGuards/{guard}/requests"),
    (
        "post",
        "/api/v1/resourceGuards/{guard}/requests/{id}/approve",
    ),
    (
        "post",
        "/api/v1/resourceGuards/{guard}/requests/{id}/reject",
    ),
    ("get", "/api/v1/vaults/{vault}/resourceGuard"),
    ("put", "/api/v1/vaults/{vault}/resourceGuard"),
    ("delete", "/api/v1/vaults/{vault}/resourceGuard"),
    ("post", "/api/v1/vaults/{vault}/resourceGuard/requests"),
];

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if item.get(m).is_some() {
                out.insert((m.to_owned(), path.clone()));
            }
        }
    }
    out
}

/// A concrete path for a template: names that do not exist, id 999999999.
fn concrete(path: &str) -> String {
    path.replace("{vault}", "no-such-vault")
        .replace("{policy}", "no-such-policy")
        .replace("{item}", "no-such-item")
        .replace("{point}", "no-such-point")
        .replace("{identity}", "no-such-identity")
        .replace("{token}", "no-such-token")
        .replace("{id}", "999999999")
}

both!(every_route_is_documented_and_served, |db| {
    let mut s = TestServer::start(db).await;
    let (st, _) = s
        .call_as(None, Method::GET, "/api/v1/openapi.json", None)
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let doc = s.ok("/api/v1/openapi.json").await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());

    let ops = documented(&doc);
    let contract: BTreeSet<(String, String)> = CONTRACT
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(
        ops, contract,
        "the document lists exactly the contract's routes"
    );

    let paths: BTreeSet<&str> = ops.iter().map(|(_, p)| p.as_str()).collect();
    for path in paths {
        let url = concrete(path);
        for m in METHODS {
            let method = Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
            let body = (m == "post" || m == "put").then(|| serde_json::json!({}));
            let (st, v) = s.call(method, &url, body).await;
            let is_doc = ops.contains(&(m.to_owned(), path.to_owned()));
            if is_doc {
                // Served: whatever the answer, it is not "no such route".
                assert_ne!(st, StatusCode::METHOD_NOT_ALLOWED, "{m} {path}: {v}");
                assert_ne!(v["code"], "ROUTE_NOT_FOUND", "{m} {path}: {v}");
                let op = &doc["paths"][path][m];
                assert!(op["responses"].is_object(), "{m} {path} has responses");
                if path != "/healthz" {
                    assert!(op["security"].is_array(), "{m} {path} declares its token");
                }
            } else {
                // Not documented: the router refuses the method too.
                assert_eq!(
                    st,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{m} {path} is served but not documented: {v}"
                );
                assert_eq!(v["code"], "METHOD_NOT_ALLOWED");
            }
        }
    }
    let (st, v) = s.get("/api/v1/nothing-here").await;
    assert_eq!(
        (st, v["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("ROUTE_NOT_FOUND"))
    );
    s.stop().await;
});

#[test]
fn the_document_builds_without_a_server() {
    let doc = serde_json::to_value(lifeboat_server::api::openapi()).unwrap();
    assert_eq!(documented(&doc).len(), CONTRACT.len());
    let _ = Db::Sqlite;
}
