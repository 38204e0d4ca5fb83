//! The audit trail over real HTTP, against a real server on SQLite and on
//! PostgreSQL: mutating calls (also refused ones) are in `GET
//! /api/v1/audit` under the right principal and outcome, reads are not,
//! a row edited in the database is named by `GET /api/v1/audit/verify`,
//! and without the audit key mutating calls fail closed.

#[macro_use]
mod support;

use std::sync::Arc;
use std::time::Duration;

use lifeboat_server::ServerConfig;
use lifeboat_testkit::unique_suffix;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, PgConnection, SqliteConnection};
use support::{Db, TestServer};

async fn rows(s: &TestServer, query: &str) -> Vec<Value> {
    s.all(&format!("/api/v1/audit{query}")).await
}

/// Runs one SQL statement on the server's catalog, behind its back.
async fn tamper(db: Db, url: &str, sql: &str) {
    match db {
        Db::Sqlite => {
            let mut c = SqliteConnection::connect(url).await.unwrap();
            sqlx::query(AssertSqlSafe(sql.to_owned()))
                .execute(&mut c)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        Db::Postgres => {
            let mut c = PgConnection::connect(url).await.unwrap();
            sqlx::query(AssertSqlSafe(sql.to_owned()))
                .execute(&mut c)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }
}

both!(mutating_calls_are_recorded_and_reads_are_not, |db| {
    let mut s = TestServer::start(db).await;
    // Reads first: none of them may show up.
    s.ok("/api/v1/vaults").await;
    s.ok("/api/v1/jobs").await;
    assert!(rows(&s, "").await.is_empty());

    // A write that succeeds: its request id comes back as a header.
    let resp = s
        .client
        .post(format!("{}/api/v1/vaults", s.base))
        .bearer_auth(&s.token)
        .json(&json!({"name": "audited", "kind": "recovery-services"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created_id = resp
        .headers()
        .get("x-request-id")
        .expect("x-request-id")
        .to_str()
        .unwrap()
        .to_owned();
    // A write the handler refuses (no such vault).
    let (st, _) = s.delete("/api/v1/vaults/nope").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // A write refused for want of a token: nothing runs, still recorded.
    assert_eq!(s.create_vault_anonymously().await, StatusCode::UNAUTHORIZED);
    let (st, _) = s
        .call_as(
            Some("lb_not-a-real-token-but-long-enough-000000"),
            Method::DELETE,
            "/api/v1/vaults/audited",
            None,
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // More reads.
    s.ok("/api/v1/vaults/audited").await;
    s.ok("/api/v1/vaults/audited/policies").await;

    let all = rows(&s, "").await;
    let seqs: Vec<i64> = all.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![6, 5, 4, 3, 2, 1], "{all:#?}");
    assert!(
        all.iter()
            .all(|r| !r["operation"].as_str().unwrap().ends_with(".read")),
        "{all:#?}"
    );
    let by_seq = |n: i64| &all[(6 - n) as usize];

    // 1, 2: the vault creation, attempt then result, one request id.
    let (a, r) = (by_seq(1), by_seq(2));
    assert_eq!(a["phase"], "attempt");
    assert_eq!(a["status"], Value::Null);
    assert_eq!(r["phase"], "result");
    assert_eq!(r["status"], 201);
    assert_eq!(r["errorCode"], Value::Null);
    for row in [a, r] {
        assert_eq!(row["operation"], "vault.create");
        assert_eq!(row["target"], "/api/v1/vaults");
        assert_eq!(row["requestId"], created_id.as_str());
        assert!(
            row["source"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{row}"
        );
        assert!(row["principalId"].as_i64().is_some(), "{row}");
    }
    let admin = a["principal"].as_str().unwrap().to_owned();
    assert_ne!(admin, "anonymous");
    assert_eq!(r["principal"], admin.as_str());
    assert_eq!(a["prevHash"], "0".repeat(64));
    assert_eq!(r["prevHash"], a["hash"]);

    // 3, 4: the refused deletion.
    let (a, r) = (by_seq(3), by_seq(4));
    assert_eq!(
        (a["phase"].as_str(), r["phase"].as_str()),
        (Some("attempt"), Some("result"))
    );
    assert_eq!(r["operation"], "vault.delete");
    assert_eq!(r["target"], "/api/v1/vaults/nope");
    assert_eq!(r["status"], 404);
    assert_eq!(r["errorCode"], "NOT_FOUND");
    assert_eq!(r["principal"], admin.as_str());
    assert_eq!(a["requestId"], r["requestId"]);

    // 5, 6: the 401s: anonymous, a result row only, never the token.
    for (n, op, code) in [
        (5, "vault.create", "AUTH_REQUIRED"),
        (6, "vault.delete", "AUTH_INVALID"),
    ] {
        let r = by_seq(n);
        assert_eq!(r["phase"], "result", "{r}");
        assert_eq!(r["principal"], "anonymous");
        assert_eq!(r["principalId"], Value::Null);
        assert_eq!(r["status"], 401);
        assert_eq!(r["operation"], op);
        assert_eq!(r["errorCode"], code);
    }
    let text = serde_json::to_string(&all).unwrap();
    assert!(!text.contains(&s.token), "the token is never recorded");
    assert!(!text.contains("not-a-real-token"), "nor a wrong one");

    // Filters.
    let only = |q: &'static str| {
        let s = &s;
        async move {
            rows(s, q)
                .await
                .iter()
                .map(|r| r["seq"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(only("?principal=anonymous").await, vec![6, 5]);
    assert_eq!(only("?outcome=failure").await, vec![6, 5, 4]);
    assert_eq!(only("?outcome=success").await, vec![2]);
    assert_eq!(only("?operation=vault.del").await, vec![6, 4, 3]);
    assert_eq!(only("?target=/api/v1/vaults/nope").await, vec![4, 3]);
    assert_eq!(
        only("?limit=2").await,
        vec![6, 5, 4, 3, 2, 1],
        "pages join up"
    );
    assert_eq!(
        only("?from=2000-01-01T00:00:00Z&to=2001-01-01T00:00:00Z").await,
        Vec::<i64>::new()
    );
    let (st, v) = s.get("/api/v1/audit?outcome=maybe").await;
    assert_eq!(
        (st, v["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_ARGUMENT"))
    );

    // The chain checks out; reading it and checking it added no row.
    let v = s.ok("/api/v1/audit/verify").await;
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(
        (v["checkedRows"].as_i64(), v["headSeq"].as_i64()),
        (Some(6), Some(6))
    );
    assert_eq!(rows(&s, "").await.len(), 6);

    // Someone with database access turns the 404 into a success.
    tamper(
        db,
        &s.catalog_url,
        "UPDATE audit_log SET status = 200, error_code = NULL WHERE seq = 4",
    )
    .await;
    let v = s.ok("/api/v1/audit/verify").await;
    assert_eq!(v["valid"], false, "{v}");
    assert_eq!(v["brokenSeq"], 4);
    assert_eq!(v["problem"], "edited");
    assert_eq!(v["code"], "AUDIT_CHAIN_BROKEN");
    assert!(v["message"].as_str().unwrap().contains("seq 4"), "{v}");
    s.stop().await;
});

both!(without_the_key_writes_fail_closed, |db| {
    let mut s = TestServer::start(db).await;
    s.vault("before").await;
    s.stop().await;
    let key = s.data.join("secrets").join("audit.key");
    assert!(key.exists(), "made on the first start");
    let saved = std::fs::read(&key).unwrap();
    std::fs::remove_file(&key).unwrap();

    // Same data folder and catalog, the key gone: the server starts.
    let restart = || async {
        lifeboat_server::start(ServerConfig {
            data_dir: s.data.clone(),
            catalog_url: s.catalog_url.clone(),
            listen: "127.0.0.1:0".parse().unwrap(),
            max_jobs: Some(1),
            worker_id: Some(format!("test-{}", unique_suffix())),
            time_zone: "UTC".into(),
            clock: Arc::new(lifeboat_service::SystemClock),
            admin_token: Some(s.token.clone()),
            shutdown_grace: Duration::from_secs(10),
        })
        .await
        .unwrap_or_else(|e| panic!("restart: {e:#}"))
    };
    let server = restart().await;
    assert!(!key.exists(), "no new key over a non-empty log");
    let base = format!("http://{}", server.addr);
    let call = |m: Method, path: &str, body: Option<Value>| {
        let mut r = s
            .client
            .request(m, format!("{base}{path}"))
            .bearer_auth(&s.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        async move {
            let resp = r.send().await.unwrap();
            let st = resp.status();
            (st, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (st, v) = call(Method::GET, "/api/v1/audit/verify", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["valid"], false);
    assert_eq!(v["problem"], "key-missing");
    assert_eq!(v["code"], "AUDIT_KEY_MISSING");
    assert!(v["message"].as_str().unwrap().contains("audit.key"), "{v}");
    // A write is refused before its handler runs: nothing is created.
    let (st, v) = call(
        Method::POST,
        "/api/v1/vaults",
        Some(json!({"name": "unaudited", "kind": "backup"})),
    )
    .await;
    assert_eq!(st, StatusCode::INTERNAL_SERVER_ERROR, "{v}");
    assert_eq!(v["code"], "AUDIT_UNAVAILABLE");
    let (st, _) = call(Method::GET, "/api/v1/vaults/unaudited", None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    server.shutdown().await.unwrap();

    // The key restored from a backup: all is well again.
    std::fs::write(&key, saved).unwrap();
    let server = restart().await;
    let base = format!("http://{}", server.addr);
    let call = |m: Method, path: &str| {
        let r = s
            .client
            .request(m, format!("{base}{path}"))
            .bearer_auth(&s.token);
        async move { r.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let v = call(Method::GET, "/api/v1/audit/verify").await;
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["checkedRows"], 2);
    server.shutdown().await.unwrap();
});

both!(a_forbidden_write_is_recorded_under_the_caller, |db| {
    let mut s = TestServer::start(db).await;
    let (st, v) = s
        .post(
            "/api/v1/identities",
            json!({"name": "reader", "kind": "User"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, v) = s
        .post(
            "/api/v1/roleAssignments",
            json!({"identity": "reader", "role": "Backup Reader"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, t) = s
        .post(
            "/api/v1/identities/reader/tokens",
            json!({"name": "reader-token"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{t}");
    let token = t["token"].as_str().unwrap().to_owned();
    let before = rows(&s, "").await.len();

    // The reader may not delete a vault, nor read the audit log.
    let (st, _) = s
        .call_as(
            Some(&token),
            Method::DELETE,
            "/api/v1/vaults/anything",
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = s
        .call_as(Some(&token), Method::GET, "/api/v1/audit", None)
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    let all = rows(&s, "").await;
    assert_eq!(all.len(), before + 1, "one row: the refused delete");
    let r = &all[0];
    assert_eq!(r["principal"], "reader");
    assert!(r["principalId"].as_i64().is_some(), "{r}");
    assert_eq!(
        r["phase"], "result",
        "refused before its handler: no attempt"
    );
    assert_eq!(r["operation"], "vault.delete");
    assert_eq!(r["status"], 403);
    assert_eq!(r["errorCode"], "FORBIDDEN");
    let text = serde_json::to_string(&all).unwrap();
    assert!(!text.contains(&token), "the new token is never recorded");
    // The token creation itself is recorded, its answer (the secret) not.
    assert!(
        all.iter()
            .any(|r| r["operation"] == "token.create" && r["status"] == 201),
        "{all:#?}"
    );
    s.stop().await;
});
