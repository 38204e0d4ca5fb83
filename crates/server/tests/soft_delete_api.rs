//! Soft delete and immutable vaults over real HTTP, on SQLite and
//! PostgreSQL: the settings endpoint and each of its refusals, soft-deleted
//! items and vaults with their undelete, the alert list, the point list's
//! `includeDeleted`, and each immutability refusal with its own code.

#[macro_use]
mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{TestServer, assert_error, code, make_tree};

async fn patch(s: &TestServer, vault: &str, body: Value) -> (StatusCode, Value) {
    s.call(
        Method::PATCH,
        &format!("/api/v1/vaults/{vault}"),
        Some(body),
    )
    .await
}

async fn backup(s: &TestServer, item_path: &str) {
    let (st, job) = s.post(&format!("{item_path}/backup"), json!({})).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{job}");
    let done = s.wait_job(job["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "Completed", "{done}");
}

both!(soft_delete_over_http, |db| {
    let mut s = TestServer::start(db).await;
    let v = s.vault("sd").await;
    let sec = &v["properties"]["securitySettings"];
    assert_eq!(sec["softDeleteSettings"]["softDeleteState"], "Enabled");
    assert_eq!(
        sec["softDeleteSettings"]["softDeleteRetentionPeriodInDays"],
        14
    );

    // Settings refusals, each with its code.
    let (st, e) = patch(&s, "sd", json!({"softDeleteRetentionPeriodInDays": 5})).await;
    assert_error(st, &e, StatusCode::BAD_REQUEST, "INVALID_VAULT_SETTINGS");
    let (st, e) = patch(&s, "sd", json!({"softDeleteState": "Sometimes"})).await;
    assert_error(st, &e, StatusCode::BAD_REQUEST, "INVALID_ARGUMENT");
    let (st, e) = patch(&s, "sd", json!({"softDelete": "Enabled"})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    let (st, e) = patch(&s, "nope", json!({})).await;
    assert_error(st, &e, StatusCode::NOT_FOUND, "NOT_FOUND");
    let (st, v) = patch(
        &s,
        "sd",
        json!({"softDeleteState": "AlwaysON", "softDeleteRetentionPeriodInDays": 30}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let sd = &v["properties"]["securitySettings"]["softDeleteSettings"];
    assert_eq!(sd["softDeleteState"], "AlwaysON");
    assert_eq!(sd["softDeleteRetentionPeriodInDays"], 30);
    for state in ["Disabled", "Enabled"] {
        let (st, e) = patch(&s, "sd", json!({"softDeleteState": state})).await;
        assert_error(st, &e, StatusCode::CONFLICT, "SOFT_DELETE_ALWAYS_ON");
    }

    // Stop with delete-data: soft-deleted, restorable, listed with times.
    let src = s.tmp().join("src");
    make_tree(&src);
    s.protect("sd", "docs", "path", &src).await;
    let path = "/api/v1/vaults/sd/items/docs";
    backup(&s, path).await;
    let (st, job) = s
        .post(&format!("{path}/stop"), json!({"mode": "delete-data"}))
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{job}");
    s.wait_job(job["id"].as_i64().unwrap()).await;
    let it = s.ok(path).await;
    assert_eq!(it["protectionState"], "SoftDeleted");
    let deleted: chrono::DateTime<chrono::Utc> =
        it["deletedTime"].as_str().unwrap().parse().unwrap();
    let purge: chrono::DateTime<chrono::Utc> = it["purgeTime"].as_str().unwrap().parse().unwrap();
    assert_eq!(purge - deleted, chrono::Duration::days(30));
    let items = s.all("/api/v1/vaults/sd/items").await;
    assert_eq!(items[0]["protectionState"], "SoftDeleted");
    let points = s.all(&format!("{path}/points")).await;
    assert_eq!(points.len(), 1);
    let alerts = s.ok("/api/v1/vaults/sd/alerts").await;
    assert_eq!(alerts["value"][0]["kind"], "delete-backup-data", "{alerts}");
    assert_eq!(alerts["value"][0]["item"], "docs");
    let none = s.ok("/api/v1/vaults/sd/alerts?kind=purge-complete").await;
    assert_eq!(none["value"], json!([]));

    // The vault holds only a soft-deleted item: deleting it soft-deletes it.
    let (st, e) = s.delete("/api/v1/vaults/sd").await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{e}");
    let (st, _) = s.get("/api/v1/vaults/sd").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let dv = s.all("/api/v1/deleted-vaults").await;
    assert_eq!(dv.len(), 1);
    assert_eq!(dv[0]["name"], "sd");
    assert_eq!(dv[0]["purgeTime"], it["purgeTime"]);
    assert_eq!(s.ok("/api/v1/deleted-vaults/sd").await["name"], "sd");
    let (st, e) = s.get("/api/v1/deleted-vaults/other").await;
    assert_eq!((st, code(&e)), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    let (st, v) = s
        .post("/api/v1/deleted-vaults/sd/undelete", json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(v.get("deletedTime").is_none(), "{v}");
    assert_eq!(s.all("/api/v1/deleted-vaults").await.len(), 0);

    // Undelete the item; a second undelete is refused.
    let (st, it) = s.post(&format!("{path}/undelete"), json!({})).await;
    assert_eq!(st, StatusCode::OK, "{it}");
    assert_eq!(it["protectionState"], "ProtectionStopped");
    assert_eq!(it["purgeTime"], Value::Null);
    let (st, e) = s.post(&format!("{path}/undelete"), json!({})).await;
    assert_eq!((st, code(&e)), (StatusCode::CONFLICT, "INVALID_ITEM_STATE"));
    let (st, it) = s
        .post(
            &format!("{path}/resume"),
            json!({"policy": "DefaultPolicy"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{it}");
    assert_eq!(it["protectionState"], "Protected");
    // includeDeleted is accepted (nothing soft-deleted here).
    let all = s.ok(&format!("{path}/points?includeDeleted=true")).await;
    assert_eq!(all["value"].as_array().unwrap().len(), 1);
    s.stop().await;
});

both!(immutable_vault_over_http, |db| {
    let mut s = TestServer::start(db).await;
    s.vault("iv").await;
    let (st, e) = patch(&s, "iv", json!({"immutabilityState": "Locked"})).await;
    assert_error(st, &e, StatusCode::CONFLICT, "IMMUTABILITY_NOT_UNLOCKED");
    let (st, v) = patch(&s, "iv", json!({"immutabilityState": "Unlocked"})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        v["properties"]["securitySettings"]["immutabilitySettings"]["state"],
        "Unlocked"
    );
    let src = s.tmp().join("src");
    make_tree(&src);
    s.protect("iv", "docs", "path", &src).await;
    let path = "/api/v1/vaults/iv/items/docs";
    backup(&s, path).await;

    // Stop with delete-data before the point's expiry.
    let (st, e) = s
        .post(&format!("{path}/stop"), json!({"mode": "delete-data"}))
        .await;
    assert_error(st, &e, StatusCode::CONFLICT, "IMMUTABLE_STOP_WITH_DELETE");
    assert_eq!(e["target"], "docs");
    assert_eq!(s.ok(path).await["protectionState"], "Protected");
    // A policy edit that cuts retention; raising it is allowed.
    let mut doc = s.ok("/api/v1/vaults/iv/policies/DefaultPolicy").await["properties"].clone();
    doc["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"] = json!(7);
    let (st, e) = s
        .put(
            "/api/v1/vaults/iv/policies/DefaultPolicy",
            json!({"properties": doc}),
        )
        .await;
    assert_error(
        st,
        &e,
        StatusCode::CONFLICT,
        "IMMUTABLE_RETENTION_REDUCTION",
    );
    doc["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"] = json!(45);
    let (st, e) = s
        .put(
            "/api/v1/vaults/iv/policies/DefaultPolicy",
            json!({"properties": doc.clone()}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{e}");
    // Moving the item to a shorter policy.
    doc["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"] = json!(10);
    let (st, e) = s
        .post(
            "/api/v1/vaults/iv/policies",
            json!({"name": "short", "properties": doc}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{e}");
    let (st, e) = s
        .post(&format!("{path}/policy"), json!({"policy": "short"}))
        .await;
    assert_error(
        st,
        &e,
        StatusCode::CONFLICT,
        "IMMUTABLE_POLICY_SWAP_REDUCTION",
    );
    // Lock: for ever.
    let (st, v) = patch(&s, "iv", json!({"immutabilityState": "Locked"})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    for state in ["Unlocked", "Disabled"] {
        let (st, e) = patch(&s, "iv", json!({"immutabilityState": state})).await;
        assert_error(st, &e, StatusCode::CONFLICT, "IMMUTABILITY_LOCKED");
    }
    let (st, e) = s
        .post(&format!("{path}/stop"), json!({"mode": "delete-data"}))
        .await;
    assert_error(st, &e, StatusCode::CONFLICT, "IMMUTABLE_STOP_WITH_DELETE");
    // The vault cannot be deleted either (its item is active).
    let (st, e) = s.delete("/api/v1/vaults/iv").await;
    assert_error(st, &e, StatusCode::CONFLICT, "VAULT_NOT_EMPTY");
    s.stop().await;
});
