//! The REST API over real HTTP, against a real server on SQLite and on
//! PostgreSQL: each `both!` test runs as `NAME::sqlite` and `NAME::postgres`.

#[macro_use]
mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Db, TestServer, assert_error, code};

fn target(v: &Value) -> &str {
    v["target"].as_str().unwrap_or_default()
}

both!(auth_is_required, |db| {
    let mut s = TestServer::start(db).await;
    let (st, v) = s.call_as(None, Method::GET, "/api/v1/vaults", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(code(&v), "AUTH_REQUIRED");
    let (st, v) = s
        .call_as(Some("not-a-token"), Method::GET, "/api/v1/vaults", None)
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&v), "AUTH_INVALID");
    // A scheme other than Bearer.
    let resp = s
        .client
        .get(format!("{}/api/v1/vaults", s.base))
        .basic_auth("admin", Some(&s.token))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.headers()
            .get("www-authenticate")
            .map(|h| h.to_str().unwrap()),
        Some("Bearer")
    );
    // Writes need a token as well, and nothing is created without one.
    assert_eq!(s.create_vault_anonymously().await, StatusCode::UNAUTHORIZED);
    let (st, v) = s.call_as(None, Method::GET, "/metrics", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    let (st, _) = s.get("/api/v1/vaults/sneaky").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // Health needs none.
    let (st, v) = s.call_as(None, Method::GET, "/healthz", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["status"], "ok");
    assert_eq!(
        v["catalog"],
        match db {
            Db::Sqlite => "sqlite",
            Db::Postgres => "postgres",
        }
    );
    assert!(v["schemaVersion"].as_i64().unwrap() >= 1, "{v}");
    // The token works.
    let v = s.ok("/api/v1/vaults").await;
    assert_eq!(v["value"], json!([]));
    assert_eq!(v["nextLink"], Value::Null);
    s.stop().await;
});

both!(vaults_are_validated_and_get_a_default_policy, |db| {
    let mut s = TestServer::start_with(
        db,
        std::sync::Arc::new(lifeboat_service::SystemClock),
        "Europe/Berlin",
    )
    .await;
    let v = s.vault("v1").await;
    assert_eq!(v["name"], "v1");
    assert_eq!(v["kind"], "recovery-services");
    assert_eq!(v["storageRedundancy"], "LocallyRedundant");
    assert_eq!(
        v["properties"]["securitySettings"]["softDeleteSettings"]["softDeleteState"],
        "Enabled"
    );
    assert_eq!(v["usage"]["protectedItems"], 0);
    assert_eq!(v["usage"]["recoveryPoints"], 0);
    // Names are unique without regard to case, as in Azure.
    let (st, e) = s
        .post("/api/v1/vaults", json!({"name": "V1", "kind": "backup"}))
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{e}");
    assert_eq!(code(&e), "CONFLICT");
    let (st, e) = s
        .post("/api/v1/vaults", json!({"name": "1bad", "kind": "backup"}))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!((code(&e), target(&e)), ("INVALID_VAULT_NAME", "name"));
    let (st, e) = s
        .post("/api/v1/vaults", json!({"name": "v2", "kind": "archive"}))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!((code(&e), target(&e)), ("INVALID_ARGUMENT", "kind"));
    let (st, e) = s.post("/api/v1/vaults", json!({"kind": "backup"})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(code(&e), "BAD_REQUEST");
    // Other redundancies are accepted as a field, refused as "not yet".
    let (st, e) = s
        .post(
            "/api/v1/vaults",
            json!({"name": "geo", "kind": "recovery-services", "storageRedundancy": "GeoRedundant"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(
        (code(&e), target(&e)),
        ("NOT_SUPPORTED", "storageRedundancy")
    );
    assert!(e["message"].as_str().unwrap().contains("not yet supported"));
    let (st, _) = s.get("/api/v1/vaults/geo").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, e) = s
        .post(
            "/api/v1/vaults",
            json!({"name": "x2", "kind": "backup", "storageRedundancy": "Everywhere"}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(target(&e), "storageRedundancy");
    let (st, e) = s
        .post(
            "/api/v1/vaults",
            json!({"name": "sd", "kind": "backup",
                   "properties": {"securitySettings": {"softDeleteSettings": {"softDeleteRetentionPeriodInDays": 5}}}}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(code(&e), "INVALID_VAULT_SETTINGS");

    // DefaultPolicy: daily at 22:00 in the server's zone, 30 days, 2 IR days.
    let p = s.ok("/api/v1/vaults/v1/policies/DefaultPolicy").await;
    assert_eq!(p["vault"], "v1");
    let props = &p["properties"];
    assert_eq!(props["timeZone"], "Europe/Berlin");
    assert_eq!(props["instantRpRetentionRangeInDays"], 2);
    assert_eq!(props["schedulePolicy"]["scheduleRunFrequency"], "Daily");
    assert!(
        props["schedulePolicy"]["scheduleRunTimes"][0]
            .as_str()
            .unwrap()
            .contains("22:00"),
        "{props}"
    );
    assert_eq!(
        props["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"],
        30
    );
    // A backup vault has none.
    let (st, b) = s
        .post("/api/v1/vaults", json!({"name": "disks", "kind": "backup"}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let list = s.ok("/api/v1/vaults/disks/policies").await;
    assert_eq!(list["value"], json!([]));
    let names: Vec<_> = s
        .all("/api/v1/vaults")
        .await
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["disks", "v1"]);
    let (st, _) = s.delete("/api/v1/vaults/disks").await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, e) = s.delete("/api/v1/vaults/disks").await;
    assert_eq!((st, code(&e)), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    s.stop().await;
});

both!(invalid_policies_are_refused_with_code_and_target, |db| {
    let mut s = TestServer::start(db).await;
    s.vault("pv").await;
    let base = s.ok("/api/v1/vaults/pv/policies/DefaultPolicy").await["properties"].clone();
    let mut cases: Vec<(Value, &str)> = Vec::new();
    let mut p = base.clone();
    p["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"] = json!(3);
    cases.push((p, "retentionPolicy.dailySchedule.retentionDuration.count"));
    let mut p = base.clone();
    p["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"] = json!(10000);
    cases.push((p, "retentionPolicy.dailySchedule.retentionDuration.count"));
    let mut p = base.clone();
    p["instantRpRetentionRangeInDays"] = json!(6);
    cases.push((p, "instantRpRetentionRangeInDays"));
    let mut p = base.clone();
    p["timeZone"] = json!("Mars/Olympus_Mons");
    cases.push((p, "timeZone"));
    let mut p = base.clone();
    p["schedulePolicy"]["scheduleRunFrequency"] = json!("Fortnightly");
    cases.push((p, "schedulePolicy.scheduleRunFrequency"));
    for (i, (props, want)) in cases.into_iter().enumerate() {
        let (st, e) = s
            .post(
                "/api/v1/vaults/pv/policies",
                json!({"name": format!("bad{i}"), "properties": props}),
            )
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "case {i}: {e}");
        assert_eq!(code(&e), "INVALID_POLICY", "case {i}: {e}");
        assert_eq!(target(&e), want, "case {i}: {e}");
        assert!(!e["message"].as_str().unwrap().is_empty());
        let (st, _) = s.get(&format!("/api/v1/vaults/pv/policies/bad{i}")).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "case {i} was stored");
    }
    // The message names the allowed range.
    let mut p = base.clone();
    p["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"] = json!(3);
    let (_, e) = s
        .post(
            "/api/v1/vaults/pv/policies",
            json!({"name": "r", "properties": p}),
        )
        .await;
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains('7') && msg.contains("9999"), "{msg}");
    // Not an object, bad name, unknown vault.
    let (st, e) = s
        .post(
            "/api/v1/vaults/pv/policies",
            json!({"name": "x", "properties": 5}),
        )
        .await;
    assert_eq!((st, code(&e)), (StatusCode::BAD_REQUEST, "INVALID_POLICY"));
    let (st, e) = s
        .post(
            "/api/v1/vaults/pv/policies",
            json!({"name": "a/b", "properties": base}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(target(&e), "name");
    let (st, e) = s
        .post(
            "/api/v1/vaults/nope/policies",
            json!({"name": "x", "properties": base}),
        )
        .await;
    assert_eq!((st, target(&e)), (StatusCode::NOT_FOUND, "vault"));
    // A valid one, then a replace that fails leaves it as it was.
    let mut good = base.clone();
    good["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"] = json!(60);
    let (st, p) = s
        .post(
            "/api/v1/vaults/pv/policies",
            json!({"name": "p60", "properties": good}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    assert_eq!(p["protectedItemsCount"], 0);
    let (st, e) = s
        .post(
            "/api/v1/vaults/pv/policies",
            json!({"name": "p60", "properties": base}),
        )
        .await;
    assert_eq!((st, code(&e)), (StatusCode::CONFLICT, "CONFLICT"));
    let mut bad = good.clone();
    bad["instantRpRetentionRangeInDays"] = json!(0);
    let (st, e) = s
        .put("/api/v1/vaults/pv/policies/p60", json!({"properties": bad}))
        .await;
    assert_eq!(
        (st, target(&e)),
        (StatusCode::BAD_REQUEST, "instantRpRetentionRangeInDays")
    );
    let (st, e) = s
        .put(
            "/api/v1/vaults/pv/policies/p60",
            json!({"name": "other", "properties": good}),
        )
        .await;
    assert_eq!((st, target(&e)), (StatusCode::BAD_REQUEST, "name"));
    let got = s.ok("/api/v1/vaults/pv/policies/p60").await;
    assert_eq!(
        got["properties"]["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"],
        60
    );
    let mut longer = good.clone();
    longer["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"] = json!(90);
    let (st, p) = s
        .put(
            "/api/v1/vaults/pv/policies/p60",
            json!({"properties": longer}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{p}");
    assert_eq!(
        p["properties"]["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"],
        90
    );
    let (st, e) = s
        .put(
            "/api/v1/vaults/pv/policies/none",
            json!({"properties": good}),
        )
        .await;
    assert_eq!((st, target(&e)), (StatusCode::NOT_FOUND, "policy"));
    // Malformed JSON.
    let resp = s
        .client
        .post(format!("{}/api/v1/vaults/pv/policies", s.base))
        .bearer_auth(&s.token)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(code(&e), "BAD_REQUEST");
    // Too big.
    let resp = s
        .client
        .post(format!("{}/api/v1/vaults/pv/policies", s.base))
        .bearer_auth(&s.token)
        .header("content-type", "application/json")
        .body(format!("{{\"name\": \"{}\"}}", "x".repeat(2 << 20)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(code(&e), "PAYLOAD_TOO_LARGE");
    s.stop().await;
});

both!(items_lifecycle_and_refusals, |db| {
    let mut s = TestServer::start(db).await;
    s.vault("iv").await;
    let src = s.tmp().join("src");
    support::make_tree(&src);
    let src_str = src.to_str().unwrap().to_owned();
    // Refusals first.
    let (st, e) = s
        .post(
            "/api/v1/vaults/iv/items",
            json!({"workload": "path", "source": "relative/dir", "policy": "DefaultPolicy"}),
        )
        .await;
    assert_eq!(
        (st, code(&e), target(&e)),
        (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", "source")
    );
    let (st, e) = s
        .post("/api/v1/vaults/iv/items",
              json!({"workload": "path", "source": format!("{src_str}/missing"), "policy": "DefaultPolicy"}))
        .await;
    assert_eq!(
        (st, code(&e), target(&e)),
        (StatusCode::BAD_REQUEST, "SOURCE_NOT_FOUND", "source")
    );
    let (st, e) = s
        .post(
            "/api/v1/vaults/iv/items",
            json!({"workload": "tape", "source": src_str, "policy": "DefaultPolicy"}),
        )
        .await;
    assert_eq!((st, target(&e)), (StatusCode::BAD_REQUEST, "workload"));
    let (st, e) = s
        .post(
            "/api/v1/vaults/iv/items",
            json!({"workload": "disk", "source": src_str, "policy": "DefaultPolicy"}),
        )
        .await;
    assert_eq!((st, target(&e)), (StatusCode::BAD_REQUEST, "source"));
    let (st, e) = s
        .post(
            "/api/v1/vaults/iv/items",
            json!({"workload": "path", "source": src_str, "policy": "NoSuchPolicy"}),
        )
        .await;
    assert_eq!(
        (st, code(&e), target(&e)),
        (StatusCode::NOT_FOUND, "NOT_FOUND", "policy")
    );
    let (st, e) = s
        .post("/api/v1/vaults/iv/items",
              json!({"name": "bad name", "workload": "path", "source": src_str, "policy": "DefaultPolicy"}))
        .await;
    assert_eq!((st, target(&e)), (StatusCode::BAD_REQUEST, "name"));

    // Enable, with the default name.
    let (st, item) = s
        .post(
            "/api/v1/vaults/iv/items",
            json!({"workload": "path", "source": format!("{src_str}/"), "policy": "DefaultPolicy"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{item}");
    let name = item["name"].as_str().unwrap().to_owned();
    assert!(name.ends_with("-src"), "{name}");
    assert_eq!(item["source"], src_str.as_str());
    assert_eq!(item["protectionState"], "Protected");
    assert_eq!(item["policyName"], "DefaultPolicy");
    assert_eq!(item["lastBackupStatus"], "IRPending");
    assert_eq!(item["healthStatus"], "Passed");
    let next = item["nextRunTime"].as_str().expect("next run");
    assert!(
        next.contains("T22:00:00"),
        "DefaultPolicy runs at 22:00 UTC here: {next}"
    );
    let (st, e) = s
        .post("/api/v1/vaults/iv/items",
              json!({"name": "again", "workload": "path", "source": src_str, "policy": "DefaultPolicy"}))
        .await;
    assert_eq!(
        (st, code(&e), target(&e)),
        (StatusCode::CONFLICT, "CONFLICT", "source")
    );
    let path = format!("/api/v1/vaults/iv/items/{name}");
    assert_eq!(s.ok(&path).await["name"], name.as_str());
    let v = s.ok("/api/v1/vaults/iv").await;
    assert_eq!(v["usage"]["protectedItems"], 1);

    // In use: policy and vault cannot go.
    let (st, e) = s.delete("/api/v1/vaults/iv/policies/DefaultPolicy").await;
    assert_error(st, &e, StatusCode::CONFLICT, "POLICY_IN_USE");
    let (st, e) = s.delete("/api/v1/vaults/iv").await;
    assert_error(st, &e, StatusCode::CONFLICT, "VAULT_NOT_EMPTY");
    assert_eq!(
        s.ok("/api/v1/vaults/iv/policies/DefaultPolicy").await["protectedItemsCount"],
        1
    );

    // Change policy.
    let mut p60 = s.ok("/api/v1/vaults/iv/policies/DefaultPolicy").await["properties"].clone();
    p60["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"] = json!(60);
    p60["schedulePolicy"]["scheduleRunTimes"] = json!([p60["schedulePolicy"]["scheduleRunTimes"]
        [0]
    .as_str()
    .unwrap()
    .replace("22:00", "03:30")]);
    let (st, e) = s
        .post(
            "/api/v1/vaults/iv/policies",
            json!({"name": "p60", "properties": p60}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{e}");
    let (st, e) = s
        .post(&format!("{path}/policy"), json!({"policy": "nope"}))
        .await;
    assert_eq!((st, target(&e)), (StatusCode::NOT_FOUND, "policy"));
    let (st, it) = s
        .post(&format!("{path}/policy"), json!({"policy": "p60"}))
        .await;
    assert_eq!(st, StatusCode::OK, "{it}");
    assert_eq!(it["policyName"], "p60");
    assert!(
        it["nextRunTime"].as_str().unwrap().contains("T03:30:00"),
        "{it}"
    );

    // Stop with retain-data; what a stopped item refuses; resume.
    let (st, e) = s
        .post(&format!("{path}/stop"), json!({"mode": "later"}))
        .await;
    assert_eq!((st, target(&e)), (StatusCode::BAD_REQUEST, "mode"));
    let (st, it) = s
        .post(&format!("{path}/stop"), json!({"mode": "retain-data"}))
        .await;
    assert_eq!(st, StatusCode::OK, "{it}");
    assert_eq!(it["protectionState"], "ProtectionStopped");
    assert_eq!(it["nextRunTime"], Value::Null);
    let (st, e) = s
        .post(
            &format!("{path}/stop"),
            json!({"mode": "retain-as-per-policy"}),
        )
        .await;
    assert_error(st, &e, StatusCode::CONFLICT, "INVALID_ITEM_STATE");
    let (st, e) = s.post(&format!("{path}/backup"), json!({})).await;
    assert_error(st, &e, StatusCode::CONFLICT, "INVALID_ITEM_STATE");
    let (st, e) = s
        .post(
            &format!("{path}/policy"),
            json!({"policy": "DefaultPolicy"}),
        )
        .await;
    assert_error(st, &e, StatusCode::CONFLICT, "INVALID_ITEM_STATE");
    let (st, it) = s
        .post(
            &format!("{path}/resume"),
            json!({"policy": "DefaultPolicy"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{it}");
    assert_eq!(it["protectionState"], "Protected");
    assert_eq!(it["policyName"], "DefaultPolicy");
    assert!(it["nextRunTime"].is_string());
    let (st, e) = s
        .post(
            &format!("{path}/resume"),
            json!({"policy": "DefaultPolicy"}),
        )
        .await;
    assert_eq!((st, code(&e)), (StatusCode::CONFLICT, "INVALID_ITEM_STATE"));
    let (st, it) = s
        .post(
            &format!("{path}/stop"),
            json!({"mode": "retain-as-per-policy"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{it}");
    assert_eq!(it["protectionState"], "BackupsSuspended");

    // Delete data: a job deletes the points and then the item (soft
    // delete off here; tests/soft_delete_api.rs covers it on).
    let (st, v) = s
        .call(
            Method::PATCH,
            "/api/v1/vaults/iv",
            Some(json!({"softDeleteState": "Disabled"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, job) = s
        .post(&format!("{path}/stop"), json!({"mode": "delete-data"}))
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["jobType"], "DeleteBackupData");
    assert_eq!(job["vault"], "iv");
    let done = s.wait_job(job["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "Completed", "{done}");
    let (st, _) = s.get(&path).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // Now the policies and the vault can go.
    let (st, e) = s.delete("/api/v1/vaults/iv/policies/p60").await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{e}");
    let (st, e) = s.delete("/api/v1/vaults/iv").await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{e}");
    let (st, _) = s.get("/api/v1/vaults/iv").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    s.stop().await;
});

both!(lists_paginate_without_repeats, |db| {
    let mut s = TestServer::start(db).await;
    s.vault("pg").await;
    let root = s.tmp().join("many");
    let n = 23;
    for i in 0..n {
        let d = root.join(format!("d{i:02}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("f"), format!("file {i}")).unwrap();
        s.protect("pg", &format!("item{i:02}"), "path", &d).await;
    }
    // Items: by name, pages of 10, every row once.
    let first = s.ok("/api/v1/vaults/pg/items?limit=10").await;
    assert_eq!(first["value"].as_array().unwrap().len(), 10);
    let link = first["nextLink"].as_str().unwrap();
    assert!(link.starts_with("/api/v1/vaults/pg/items?"), "{link}");
    assert!(link.contains("limit=10"), "{link}");
    let items = s.all("/api/v1/vaults/pg/items?limit=10").await;
    let names: Vec<String> = items
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect();
    let want: Vec<String> = (0..n).map(|i| format!("item{i:02}")).collect();
    assert_eq!(names, want);

    // Jobs: one on-demand backup per item; pages of 7, newest first.
    let mut ids = Vec::new();
    for i in 0..n {
        let (st, job) = s
            .post(
                &format!("/api/v1/vaults/pg/items/item{i:02}/backup"),
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{job}");
        ids.push(job["id"].as_i64().unwrap());
    }
    let jobs = s.all("/api/v1/jobs?vault=pg&type=Backup&limit=7").await;
    let got: Vec<i64> = jobs.iter().map(|j| j["id"].as_i64().unwrap()).collect();
    let mut sorted = got.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(got, sorted, "newest first, no job twice");
    // (A scheduled backup could join them if the test ran across 22:00 UTC.)
    let mine: Vec<i64> = got.iter().copied().filter(|i| ids.contains(i)).collect();
    assert_eq!(mine.len(), n, "none missed: {got:?} vs {ids:?}");
    for id in &ids {
        let j = s.wait_job(*id).await;
        assert!(
            j["status"] == "Completed" || j["status"] == "CompletedWithWarnings",
            "{j}"
        );
    }
    let done = s.all("/api/v1/jobs?vault=pg&item=item03&limit=1").await;
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["item"], "item03");

    // Points: synthetic rows for one item, more than a page.
    let catalog = lifeboat_catalog::Catalog::connect(&s.catalog_url)
        .await
        .unwrap();
    let vault = catalog.get_vault("pg").await.unwrap();
    let item = catalog.get_item(vault.id, "item05").await.unwrap();
    let t0 = chrono::Utc::now() - chrono::TimeDelta::days(20);
    let rows: Vec<_> = (0..31)
        .map(|k| lifeboat_catalog::NewPoint {
            item_id: item.id,
            store_id: format!("synthetic-{k:03}"),
            time: t0 + chrono::TimeDelta::hours(k),
            consistency: "file-system".into(),
            tier: "vault".into(),
            size: 100,
            added_bytes: 10,
            rule_tags: vec!["daily".into()],
            expiry: None,
        })
        .collect();
    catalog.insert_points(&rows).await.unwrap();
    catalog.close().await;
    let points = s.all("/api/v1/vaults/pg/items/item05/points?limit=4").await;
    let ids: Vec<&str> = points.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids.len(),
        32,
        "31 synthetic points and the backup's: {ids:?}"
    );
    let mut uniq = ids.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), ids.len(), "no point twice");
    let times: Vec<&str> = points.iter().map(|p| p["time"].as_str().unwrap()).collect();
    let mut desc = times.clone();
    desc.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, desc, "newest first");
    let synth = s
        .ok("/api/v1/vaults/pg/items/item05/points/synthetic-007")
        .await;
    assert_eq!(synth["ruleName"], "daily");
    assert_eq!(synth["expiryTime"], Value::Null);
    assert_eq!(synth["sizeBytes"], 100);

    // Bad limits and cursors.
    let (st, e) = s.get("/api/v1/vaults/pg/items?limit=0").await;
    assert_eq!(
        (st, code(&e), target(&e)),
        (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", "limit")
    );
    let (st, e) = s.get("/api/v1/jobs?limit=1001").await;
    assert_eq!((st, target(&e)), (StatusCode::BAD_REQUEST, "limit"));
    let (st, e) = s.get("/api/v1/vaults/pg/items?cursor=zz").await;
    assert_eq!((st, code(&e)), (StatusCode::BAD_REQUEST, "INVALID_CURSOR"));
    let (st, e) = s.get("/api/v1/vaults?limit=abc").await;
    assert_eq!(
        (st, code(&e)),
        (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT")
    );
    s.stop().await;
});

both!(backup_now_then_restore_is_byte_identical, |db| {
    let mut s = TestServer::start(db).await;
    s.vault("rv").await;
    let src = s.tmp().join("files-src");
    support::make_tree(&src);
    s.protect("rv", "files", "path", &src).await;
    let item = "/api/v1/vaults/rv/items/files";

    let until = (chrono::Utc::now() + chrono::TimeDelta::days(10)).to_rfc3339();
    let (st, e) = s
        .post(
            &format!("{item}/backup"),
            json!({"retainUntil": "2001-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(
        (st, code(&e), target(&e)),
        (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", "retainUntil")
    );
    let resp = s
        .client
        .post(format!("{}{item}/backup", s.base))
        .bearer_auth(&s.token)
        .json(&json!({"retainUntil": until}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let job: Value = resp.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/jobs/{}", job["id"]));
    assert_eq!(job["jobType"], "Backup");
    assert_eq!(job["item"], "files");
    let done = s.wait_job(job["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "Completed", "{done}");
    assert!(
        done["duration"].as_str().unwrap().starts_with("PT"),
        "{done}"
    );
    assert!(done["endTime"].is_string());
    let tasks: Vec<&str> = done["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["taskId"].as_str().unwrap())
        .collect();
    assert_eq!(tasks, ["Take Snapshot", "Transfer data to vault"], "{done}");

    let points = s.ok(&format!("{item}/points")).await;
    let list = points["value"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{points}");
    let p = &list[0];
    assert_eq!(p["ruleName"], "on-demand");
    assert_eq!(p["tier"], "vault");
    assert!(p["sizeBytes"].as_i64().unwrap() >= 300_000, "{p}");
    let expiry = chrono::DateTime::parse_from_rfc3339(p["expiryTime"].as_str().unwrap()).unwrap();
    let want = chrono::DateTime::parse_from_rfc3339(&until).unwrap();
    assert!(
        (expiry - want).num_seconds().abs() <= 1,
        "{expiry} vs {want}"
    );
    let pid = p["id"].as_str().unwrap().to_owned();
    assert_eq!(
        s.ok(&format!("{item}/points/{pid}")).await["id"],
        pid.as_str()
    );
    let (st, e) = s.get(&format!("{item}/points/nope")).await;
    assert_eq!((st, target(&e)), (StatusCode::NOT_FOUND, "point"));
    let it = s.ok(item).await;
    assert_eq!(it["lastBackupStatus"], "Healthy", "{it}");
    assert!(it["lastBackupTime"].is_string());
    let v = s.ok("/api/v1/vaults/rv").await;
    assert_eq!(v["usage"]["recoveryPoints"], 1);
    assert!(v["usage"]["storedBytes"].as_i64().unwrap() > 0, "{v}");

    // Restore to another folder: the same bytes.
    let (st, e) = s
        .post(
            &format!("{item}/points/{pid}/restore"),
            json!({"target": "relative"}),
        )
        .await;
    assert_eq!((st, target(&e)), (StatusCode::BAD_REQUEST, "target"), "{e}");
    let (st, e) = s
        .post(
            &format!("{item}/points/{pid}/restore"),
            json!({"target": "/tmp", "conflict": "merge"}),
        )
        .await;
    assert_eq!(
        (st, target(&e)),
        (StatusCode::BAD_REQUEST, "conflict"),
        "{e}"
    );
    let alt = s.tmp().join("restored");
    let (st, job) = s
        .post(
            &format!("{item}/points/{pid}/restore"),
            json!({"target": alt.to_str().unwrap(), "conflict": "fail"}),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["jobType"], "Restore");
    let done = s.wait_job(job["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "Completed", "{done}");
    // The tree lands under the target at its full original path, as a
    // restore to the original location would put it under `/`.
    let under = |root: &std::path::Path| root.join(src.strip_prefix("/").unwrap());
    support::assert_same_tree(&src, &under(&alt));

    // A subset, into a third folder.
    let part = s.tmp().join("part");
    let (st, job) = s
        .post(
            &format!("{item}/points/{pid}/restore"),
            json!({"target": part.to_str().unwrap(), "include": ["sub/deeper"]}),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{job}");
    let done = s.wait_job(job["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "Completed", "{done}");
    support::assert_same_tree(&src.join("sub/deeper"), &under(&part).join("sub/deeper"));
    assert!(!under(&part).join("a.txt").exists());
    assert!(!under(&part).join("sub/big.bin").exists());

    // Back to the original place, overwriting a changed file.
    std::fs::write(src.join("a.txt"), b"changed since the backup").unwrap();
    let (st, job) = s
        .post(
            &format!("{item}/points/{pid}/restore"),
            json!({"target": "original", "conflict": "overwrite"}),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{job}");
    let done = s.wait_job(job["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "Completed", "{done}");
    assert_eq!(
        std::fs::read(src.join("a.txt")).unwrap(),
        b"hello lifeboat\n"
    );

    // The metrics see the point.
    let resp = s
        .client
        .get(format!("{}/metrics", s.base))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("lifeboat_last_successful_backup_age_seconds{vault=\"rv\",item=\"files\"}"),
        "{text}"
    );
    let completed: i64 = text
        .lines()
        .find_map(|l| l.strip_prefix("lifeboat_jobs{state=\"Completed\"} "))
        .and_then(|n| n.parse().ok())
        .expect("completed jobs metric");
    assert!(completed >= 4, "the backup and the restores: {text}");
    assert!(
        text.contains("lifeboat_items{vault=\"rv\",state=\"Protected\"} 1"),
        "{text}"
    );
    assert!(text.contains("lifeboat_scheduler_lag_seconds"), "{text}");
    assert!(text.contains("lifeboat_http_requests_total{route=\"/api/v1/vaults/{vault}/items/{item}/backup\",status=\"202\"} 1"), "{text}");
    s.stop().await;
});

both!(disk_items_restore_to_a_new_image, |db| {
    let mut s = TestServer::start(db).await;
    s.vault("dv").await;
    let img = s.tmp().join("disk.raw");
    let mut bytes = vec![0u8; 4 << 20];
    for (i, b) in bytes.iter_mut().enumerate().skip(1 << 20).take(1 << 20) {
        *b = (i % 251) as u8;
    }
    std::fs::write(&img, &bytes).unwrap();
    s.protect("dv", "disk", "disk", &img).await;
    let item = "/api/v1/vaults/dv/items/disk";
    let (st, job) = s.post(&format!("{item}/backup"), json!({})).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{job}");
    let done = s.wait_job(job["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "Completed", "{done}");
    let p = &s.ok(&format!("{item}/points")).await["value"][0];
    assert_eq!(p["consistency"], "crash", "{p}");
    let pid = p["id"].as_str().unwrap().to_owned();
    let (st, e) = s
        .post(
            &format!("{item}/points/{pid}/restore"),
            json!({"target": "/x.img", "format": "vmdk"}),
        )
        .await;
    assert_eq!((st, target(&e)), (StatusCode::BAD_REQUEST, "format"), "{e}");
    let out = s.tmp().join("restored.raw");
    let (st, job) = s
        .post(
            &format!("{item}/points/{pid}/restore"),
            json!({"target": out.to_str().unwrap(), "format": "raw"}),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{job}");
    let done = s.wait_job(job["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "Completed", "{done}");
    assert!(
        std::fs::read(&out).unwrap() == bytes,
        "restored image differs"
    );
    s.stop().await;
});

both!(jobs_filter_show_and_cancel, |db| {
    let mut s = TestServer::start(db).await;
    s.vault("jv").await;
    let src = s.tmp().join("j");
    support::make_tree(&src);
    s.protect("jv", "j", "path", &src).await;
    let (st, job) = s.post("/api/v1/vaults/jv/items/j/backup", json!({})).await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let id = job["id"].as_i64().unwrap();
    // Cancel at once: queued → Cancelled, or running → Cancelling.
    let (st, c) = s
        .post(&format!("/api/v1/jobs/{id}/cancel"), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{c}");
    assert!(
        ["Cancelled", "Cancelling", "Completed"].contains(&c["status"].as_str().unwrap()),
        "{c}"
    );
    let end = s.wait_job(id).await;
    let (st, e) = s
        .post(&format!("/api/v1/jobs/{id}/cancel"), json!({}))
        .await;
    assert_eq!(
        (st, code(&e)),
        (StatusCode::CONFLICT, "INVALID_JOB_STATE"),
        "{end} {e}"
    );
    let (st, e) = s.get("/api/v1/jobs/99999999").await;
    assert_eq!((st, target(&e)), (StatusCode::NOT_FOUND, "job"));
    let (st, e) = s.post("/api/v1/jobs/99999999/cancel", json!({})).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{e}");
    let (st, e) = s.get("/api/v1/jobs/abc").await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    // Filters.
    let (st, e) = s.get("/api/v1/jobs?state=Sleeping").await;
    assert_eq!((st, target(&e)), (StatusCode::BAD_REQUEST, "state"));
    let (st, e) = s.get("/api/v1/jobs?type=Nap").await;
    assert_eq!((st, target(&e)), (StatusCode::BAD_REQUEST, "type"));
    let (st, e) = s.get("/api/v1/jobs?item=j").await;
    assert_eq!((st, target(&e)), (StatusCode::BAD_REQUEST, "item"));
    let (st, e) = s.get("/api/v1/jobs?vault=none").await;
    assert_eq!((st, target(&e)), (StatusCode::NOT_FOUND, "vault"));
    let (st, e) = s.get("/api/v1/jobs?from=yesterday").await;
    assert_eq!(
        (st, code(&e)),
        (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT")
    );
    let state = end["status"].as_str().unwrap();
    let by_state = s.all(&format!("/api/v1/jobs?vault=jv&state={state}")).await;
    assert!(by_state.iter().any(|j| j["id"] == id), "{by_state:?}");
    let future = (chrono::Utc::now() + chrono::TimeDelta::days(1)).to_rfc3339();
    let later = s
        .all(&format!("/api/v1/jobs?from={}", urlencode(&future)))
        .await;
    assert!(later.is_empty(), "{later:?}");
    let (st, job2) = s.post("/api/v1/vaults/jv/items/j/backup", json!({})).await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let done = s.wait_job(job2["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "Completed", "{done}");
    assert_eq!(done["progress"]["percent"], 100.0, "{done}");
    s.stop().await;
});

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_makes_one_admin_token_and_the_next_start_none() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = |admin: Option<String>| lifeboat_server::ServerConfig {
        data_dir: dir.path().join("data"),
        catalog_url: format!("sqlite://{}/c.db?mode=rwc", dir.path().display()),
        listen: "127.0.0.1:0".parse().unwrap(),
        max_jobs: Some(1),
        worker_id: None,
        time_zone: "UTC".into(),
        clock: std::sync::Arc::new(lifeboat_service::SystemClock),
        admin_token: admin,
        shutdown_grace: std::time::Duration::from_secs(5),
    };
    let server = lifeboat_server::start(cfg(None)).await.unwrap();
    let token = server.new_admin_token.clone().expect("a first token");
    assert!(token.len() >= 64);
    let c = reqwest::Client::new();
    let r = c
        .get(format!("http://{}/api/v1/vaults", server.addr))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    server.shutdown().await.unwrap();
    // Restart: the token still works, and no new one is made.
    let server = lifeboat_server::start(cfg(None)).await.unwrap();
    assert!(server.new_admin_token.is_none());
    let r = c
        .get(format!("http://{}/api/v1/vaults", server.addr))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    server.shutdown().await.unwrap();
    // A short LIFEBOAT_ADMIN_TOKEN is refused; a long one is added.
    let e = lifeboat_server::start(cfg(Some("short".into()))).await;
    assert!(e.is_err());
    let env_token = "e".repeat(40);
    let server = lifeboat_server::start(cfg(Some(env_token.clone())))
        .await
        .unwrap();
    assert!(server.new_admin_token.is_none());
    for t in [&token, &env_token] {
        let r = c
            .get(format!("http://{}/api/v1/vaults", server.addr))
            .bearer_auth(t)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_from_a_newer_lifeboat_is_refused() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/c.db?mode=rwc", dir.path().display());
    let cfg = || lifeboat_server::ServerConfig {
        data_dir: dir.path().join("data"),
        catalog_url: url.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        max_jobs: Some(1),
        worker_id: None,
        time_zone: "UTC".into(),
        clock: std::sync::Arc::new(lifeboat_service::SystemClock),
        admin_token: None,
        shutdown_grace: std::time::Duration::from_secs(5),
    };
    let server = lifeboat_server::start(cfg()).await.unwrap();
    server.shutdown().await.unwrap();
    // A migration this binary does not know, as a newer binary would leave.
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (9999, 'from the future', TRUE, X'00', 0)",
    )
    .execute(&mut c)
    .await
    .unwrap();
    c.close().await.unwrap();
    let e = match lifeboat_server::start(cfg()).await {
        Ok(_) => panic!("a newer catalog was accepted"),
        Err(e) => format!("{e:#}"),
    };
    assert!(e.contains("CATALOG_TOO_NEW"), "{e}");
    assert!(e.contains("9999"), "{e}");
}

both!(scheduled_backups_run_at_the_policy_time_across_dst, |db| {
    use chrono::TimeZone;
    // 21:00 in Berlin (CET, UTC+1) on the day before summer time starts.
    let start = chrono::Utc.with_ymd_and_hms(2026, 3, 28, 20, 0, 0).unwrap();
    let clock = std::sync::Arc::new(lifeboat_service::ManualClock::new(start));
    let mut s = TestServer::start_with(db, clock.clone(), "Europe/Berlin").await;
    s.vault("sv").await;
    let src = s.tmp().join("sched");
    support::make_tree(&src);
    let item = s.protect("sv", "sched", "path", &src).await;
    // DefaultPolicy: 22:00 local.
    assert_eq!(item["nextRunTime"], "2026-03-28T21:00:00Z", "{item}");
    assert!(s.all("/api/v1/jobs?vault=sv").await.is_empty());
    clock.set(start + chrono::TimeDelta::minutes(61));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let job = loop {
        let jobs = s.all("/api/v1/jobs?vault=sv&type=Backup").await;
        if let Some(j) = jobs.first() {
            break j.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no scheduled backup was queued"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let done = s.wait_job(job["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "Completed", "{done}");
    let points = s.all("/api/v1/vaults/sv/items/sched/points").await;
    assert_eq!(points.len(), 1, "{points:?}");
    let p = &points[0];
    assert_eq!(p["ruleName"], "daily", "{p}");
    assert!(
        p["retentionTags"]
            .as_array()
            .unwrap()
            .contains(&json!("daily"))
    );
    let time = chrono::DateTime::parse_from_rfc3339(p["time"].as_str().unwrap()).unwrap();
    let expiry = chrono::DateTime::parse_from_rfc3339(p["expiryTime"].as_str().unwrap()).unwrap();
    assert_eq!(expiry - time, chrono::TimeDelta::days(30), "{p}");
    // The next run is 22:00 summer time (UTC+2): 20:00 UTC.
    let it = s.ok("/api/v1/vaults/sv/items/sched").await;
    assert_eq!(it["nextRunTime"], "2026-03-29T20:00:00Z", "{it}");
    assert_eq!(it["lastBackupStatus"], "Healthy", "{it}");
    // Exactly one job for the slot, however long the scheduler keeps ticking.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(s.all("/api/v1/jobs?vault=sv&type=Backup").await.len(), 1);
    s.stop().await;
});
