//! Multi-user authorization over real HTTP, on SQLite and PostgreSQL.
//!
//! A resource guard owned by the identity `sec` (no role at all) guards
//! the vault `prod`, whose Owner is `ops`. Each of the five critical
//! operations is refused without an approval (and changes nothing), asked
//! for, refused again while pending, approved by a holder, done once, and
//! refused again (single use). The tests also try to get around the guard:
//! an approval for another operation, target, vault or principal; an
//! approval that expired (the service clock is moved, nothing sleeps);
//! self-approval; a server Owner who does not hold the guard; two racing
//! uses of one approval. Non-critical changes need no approval. The audit
//! log holds the request, decision, use and expiry rows, and verifies.

#[macro_use]
mod support;

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use lifeboat_service::ManualClock;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Db, TestServer, assert_error, code, make_tree};

struct World {
    s: TestServer,
    clock: Arc<ManualClock>,
    ops: String,
    sec: String,
    sec2: String,
}

impl World {
    async fn call(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.s.call_as(Some(token), method, path, body).await
    }

    /// `token` asks for an approval; answers the request id.
    async fn request(&self, token: &str, vault: &str, op: &str, target: Option<&str>) -> i64 {
        let mut body = json!({"operation": op});
        if let Some(t) = target {
            body["target"] = json!(t);
        }
        let (st, r) = self
            .call(
                token,
                Method::POST,
                &format!("/api/v1/vaults/{vault}/resourceGuard/requests"),
                Some(body),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{r}");
        assert_eq!(r["status"], "Pending", "{r}");
        assert_eq!(r["operation"], op);
        r["id"].as_i64().unwrap()
    }

    async fn approve(&self, token: &str, id: i64, minutes: i64) -> (StatusCode, Value) {
        self.call(
            token,
            Method::POST,
            &format!("/api/v1/resourceGuards/g1/requests/{id}/approve"),
            Some(json!({"validForMinutes": minutes})),
        )
        .await
    }

    async fn approved(&self, id: i64) {
        let (st, r) = self.approve(&self.sec, id, 30).await;
        assert_eq!(st, StatusCode::OK, "{r}");
        assert_eq!(r["status"], "Approved", "{r}");
        assert_eq!(r["decidedBy"], "sec");
    }

    async fn patch(&self, token: &str, vault: &str, body: Value) -> (StatusCode, Value) {
        self.call(
            token,
            Method::PATCH,
            &format!("/api/v1/vaults/{vault}"),
            Some(body),
        )
        .await
    }

    async fn soft_delete_state(&self, vault: &str) -> String {
        let v = self.s.ok(&format!("/api/v1/vaults/{vault}")).await;
        v["properties"]["securitySettings"]["softDeleteSettings"]["softDeleteState"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn immutability(&self, vault: &str) -> String {
        let v = self.s.ok(&format!("/api/v1/vaults/{vault}")).await;
        v["properties"]["securitySettings"]["immutabilitySettings"]["state"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn daily_count(&self, policy: &str) -> i64 {
        let p = self
            .s
            .ok(&format!("/api/v1/vaults/prod/policies/{policy}"))
            .await;
        p["properties"]["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"]
            .as_i64()
            .unwrap()
    }

    async fn put_daily(&self, token: &str, policy: &str, count: i64) -> (StatusCode, Value) {
        self.put_retention(token, policy, count, None).await
    }

    /// Replaces the policy with its daily count (and instant-restore days)
    /// set.
    async fn put_retention(
        &self,
        token: &str,
        policy: &str,
        count: i64,
        instant_days: Option<i64>,
    ) -> (StatusCode, Value) {
        let p = self
            .s
            .ok(&format!("/api/v1/vaults/prod/policies/{policy}"))
            .await;
        let mut props = p["properties"].clone();
        props["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"] = json!(count);
        if let Some(d) = instant_days {
            props["instantRpRetentionRangeInDays"] = json!(d);
        }
        self.call(
            token,
            Method::PUT,
            &format!("/api/v1/vaults/prod/policies/{policy}"),
            Some(json!({"properties": props})),
        )
        .await
    }

    async fn item_state(&self, item: &str) -> (String, String) {
        let it = self
            .s
            .ok(&format!("/api/v1/vaults/prod/items/{item}"))
            .await;
        (
            it["protectionState"].as_str().unwrap().to_owned(),
            it["policyName"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

/// Refused for want of an approval, with `want` as code and the hint.
fn refused(st: StatusCode, e: &Value, want: &str) {
    assert_eq!((st, code(e)), (StatusCode::FORBIDDEN, want), "{e}");
    if want == "MUA_APPROVAL_REQUIRED" {
        let msg = e["message"].as_str().unwrap();
        assert!(
            msg.contains("lifeboat backup resource-guard request create"),
            "{msg}"
        );
    }
}

async fn identity(s: &TestServer, name: &str, role: Option<(&str, &str)>) -> String {
    let (st, v) = s
        .post("/api/v1/identities", json!({"name": name, "kind": "User"}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    if let Some((role, vault)) = role {
        let (st, a) = s
            .post(
                "/api/v1/roleAssignments",
                json!({"identity": name, "role": role, "vault": vault}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{a}");
    }
    let (st, t) = s
        .post(
            &format!("/api/v1/identities/{name}/tokens"),
            json!({"name": format!("{name}-t")}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{t}");
    t["token"].as_str().unwrap().to_owned()
}

async fn setup(db: Db) -> World {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let s = TestServer::start_with(db, clock.clone(), "UTC").await;
    s.vault("prod").await;
    s.vault("prod2").await;
    let src = s.tmp().join("src");
    make_tree(&src);
    s.protect("prod", "data", "path", &src).await;
    s.protect("prod", "keep", "path", &src.join("sub")).await;
    let ops = identity(&s, "ops", Some(("Owner", "prod"))).await;
    let (st, a) = s
        .post(
            "/api/v1/roleAssignments",
            json!({"identity": "ops", "role": "Owner", "vault": "prod2"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{a}");
    let sec = identity(&s, "sec", None).await;
    let sec2 = identity(&s, "sec2", Some(("Backup Contributor", "prod"))).await;

    // An Owner makes the guard for the security admin `sec`, and is not a
    // holder itself.
    let (st, g) = s
        .post(
            "/api/v1/resourceGuards",
            json!({"name": "g1", "owner": "sec", "description": "prod guard"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{g}");
    assert_eq!(g["owner"], "sec");
    assert_eq!(
        g["criticalOperations"].as_array().unwrap().len(),
        5,
        "all five by default: {g}"
    );
    let w = World {
        s,
        clock,
        ops,
        sec,
        sec2,
    };
    // Only holders manage it: sec adds sec2.
    let (st, e) =
        w.s.post(
            "/api/v1/resourceGuards/g1/members",
            json!({"identity": "sec2"}),
        )
        .await;
    assert_error(st, &e, StatusCode::FORBIDDEN, "FORBIDDEN");
    let (st, g) = w
        .call(
            &w.sec,
            Method::POST,
            "/api/v1/resourceGuards/g1/members",
            Some(json!({"identity": "sec2"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{g}");
    assert_eq!(g["members"], json!(["sec2"]));

    // Attaching needs Owner on the vault and being able to read the guard:
    // ops holds no guard; sec is no vault Owner; the server Owner may.
    let attach = json!({"guardName": "g1"});
    let (st, e) = w
        .call(
            &w.ops,
            Method::PUT,
            "/api/v1/vaults/prod/resourceGuard",
            Some(attach.clone()),
        )
        .await;
    assert_error(st, &e, StatusCode::FORBIDDEN, "FORBIDDEN");
    let (st, e) = w
        .call(
            &w.sec,
            Method::PUT,
            "/api/v1/vaults/prod/resourceGuard",
            Some(attach.clone()),
        )
        .await;
    assert_error(st, &e, StatusCode::FORBIDDEN, "FORBIDDEN");
    for v in ["prod", "prod2"] {
        let (st, m) =
            w.s.put(&format!("/api/v1/vaults/{v}/resourceGuard"), attach.clone())
                .await;
        assert_eq!(st, StatusCode::OK, "{m}");
        assert_eq!(m["multiUserAuthorization"], "Enabled");
        assert_eq!(m["guard"], "g1");
    }
    let v = w.s.ok("/api/v1/vaults/prod").await;
    assert_eq!(
        v["properties"]["securitySettings"]["multiUserAuthorization"],
        "Enabled"
    );
    w
}

async fn disable_soft_delete(w: &World) {
    let off = json!({"softDeleteState": "Disabled"});
    let (st, e) = w.patch(&w.ops, "prod", off.clone()).await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");
    assert_eq!(w.soft_delete_state("prod").await, "Enabled");
    let id = w.request(&w.ops, "prod", "disable-soft-delete", None).await;
    let (st, e) = w.patch(&w.ops, "prod", off.clone()).await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");
    assert!(e["message"].as_str().unwrap().contains("Pending"), "{e}");
    // The requester holds nothing; a server Owner who is not a holder
    // cannot approve either.
    let (st, e) = w.approve(&w.ops, id, 30).await;
    assert_error(st, &e, StatusCode::FORBIDDEN, "FORBIDDEN");
    let (st, e) = w.approve(&w.s.token, id, 30).await;
    assert_error(st, &e, StatusCode::FORBIDDEN, "FORBIDDEN");
    w.approved(id).await;
    // Another principal, another vault: the approval does not count.
    let (st, e) = w.patch(&w.sec2, "prod", off.clone()).await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");
    let (st, e) = w.patch(&w.ops, "prod2", off.clone()).await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");
    assert_eq!(w.soft_delete_state("prod2").await, "Enabled");
    assert_eq!(w.soft_delete_state("prod").await, "Enabled");
    let (st, v) = w.patch(&w.ops, "prod", off.clone()).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(w.soft_delete_state("prod").await, "Disabled");
    let alerts = w.s.ok("/api/v1/vaults/prod/alerts").await;
    assert_eq!(alerts["value"][0]["kind"], "soft-delete-disabled");
    // Turning it on again is no critical operation; off again needs a new
    // approval (single use).
    let (st, v) = w
        .patch(&w.ops, "prod", json!({"softDeleteState": "Enabled"}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, e) = w.patch(&w.ops, "prod", off.clone()).await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");
    assert!(e["message"].as_str().unwrap().contains("Used"), "{e}");
    assert_eq!(w.soft_delete_state("prod").await, "Enabled");
}

async fn disable_immutability(w: &World) {
    // Unlocking adds protection: no approval.
    let (st, v) = w
        .patch(&w.ops, "prod", json!({"immutabilityState": "Unlocked"}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let off = json!({"immutabilityState": "Disabled"});
    let (st, e) = w.patch(&w.ops, "prod", off.clone()).await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");
    assert_eq!(w.immutability("prod").await, "Unlocked");

    // A holder who also operates the vault cannot approve its own request;
    // a rejected request is no approval.
    let own = w
        .request(&w.sec2, "prod", "disable-immutability", None)
        .await;
    let (st, e) = w.approve(&w.sec2, own, 30).await;
    assert_error(st, &e, StatusCode::FORBIDDEN, "MUA_SELF_APPROVAL");
    let (st, r) = w
        .call(
            &w.sec,
            Method::POST,
            &format!("/api/v1/resourceGuards/g1/requests/{own}/reject"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(r["status"], "Rejected");
    let (st, e) = w.approve(&w.sec, own, 30).await;
    assert_error(st, &e, StatusCode::CONFLICT, "MUA_REQUEST_STATE");
    let (st, e) = w.patch(&w.sec2, "prod", off.clone()).await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");

    // An approval for another operation does not count.
    let other = w.request(&w.ops, "prod", "detach-guard", None).await;
    w.approved(other).await;
    let (st, e) = w.patch(&w.ops, "prod", off.clone()).await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");
    assert_eq!(w.immutability("prod").await, "Unlocked");

    let id = w
        .request(&w.ops, "prod", "disable-immutability", None)
        .await;
    let (st, e) = w.patch(&w.ops, "prod", off.clone()).await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");
    w.approved(id).await;
    let (st, v) = w.patch(&w.ops, "prod", off.clone()).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(w.immutability("prod").await, "Disabled");
    let (st, _) = w
        .patch(&w.ops, "prod", json!({"immutabilityState": "Unlocked"}))
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, e) = w.patch(&w.ops, "prod", off.clone()).await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");
    assert_eq!(w.immutability("prod").await, "Unlocked");
    // Leave it Disabled for the retention cuts below (an immutable vault
    // refuses them whatever the approvals).
    let id = w
        .request(&w.ops, "prod", "disable-immutability", None)
        .await;
    w.approved(id).await;
    let (st, v) = w.patch(&w.ops, "prod", off).await;
    assert_eq!(st, StatusCode::OK, "{v}");
}

async fn reduce_retention_policy(w: &World) {
    let base = w.daily_count("DefaultPolicy").await;
    // A copy of DefaultPolicy as "Daily".
    let p = w.s.ok("/api/v1/vaults/prod/policies/DefaultPolicy").await;
    let (st, v) =
        w.s.post(
            "/api/v1/vaults/prod/policies",
            json!({"name": "Daily", "properties": p["properties"]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    // Raising retention needs no approval.
    let (st, v) = w.put_retention(&w.ops, "Daily", base + 20, Some(5)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(w.daily_count("Daily").await, base + 20);
    let (st, e) = w.put_daily(&w.ops, "Daily", base).await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");
    assert_eq!(w.daily_count("Daily").await, base + 20, "unchanged");

    // An approval for another target (DefaultPolicy) does not count; it is
    // left to expire below.
    let other = w
        .request(&w.ops, "prod", "reduce-retention", Some("DefaultPolicy"))
        .await;
    let (st, r) = w.approve(&w.sec2, other, 5).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let (st, e) = w.put_daily(&w.ops, "Daily", base).await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");

    let id = w
        .request(&w.ops, "prod", "reduce-retention", Some("Daily"))
        .await;
    let (st, e) = w.put_daily(&w.ops, "Daily", base).await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");
    w.approved(id).await;
    // Two racing cuts with one approval: exactly one gets through. Each
    // cuts what the other keeps (daily days, instant-restore days), so
    // whichever lands second is a cut too and needs its own approval.
    let (a, b) = tokio::join!(
        w.put_retention(&w.ops, "Daily", base, Some(5)),
        w.put_retention(&w.ops, "Daily", base + 20, Some(1))
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::FORBIDDEN],
        "{} / {}",
        a.1,
        b.1
    );
    let now = w.daily_count("Daily").await;
    let winner = if a.0 == StatusCode::OK {
        base
    } else {
        base + 20
    };
    assert_eq!(now, winner);
    let (st, e) = w.put_daily(&w.ops, "Daily", now - 1).await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");
    assert_eq!(w.daily_count("Daily").await, now);

    // The approval for DefaultPolicy expires (the clock moves 6 minutes).
    w.clock.advance(TimeDelta::minutes(6));
    let (st, e) = w.put_daily(&w.ops, "DefaultPolicy", base - 1).await;
    refused(st, &e, "MUA_APPROVAL_EXPIRED");
    assert_eq!(w.daily_count("DefaultPolicy").await, base, "unchanged");
    let list =
        w.s.call_as(
            Some(&w.sec),
            Method::GET,
            "/api/v1/resourceGuards/g1/requests?status=Expired",
            None,
        )
        .await
        .1;
    let ids: Vec<i64> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&other), "{list}");
}

async fn reduce_retention_item(w: &World) {
    let base = w.daily_count("DefaultPolicy").await;
    let p = w.s.ok("/api/v1/vaults/prod/policies/DefaultPolicy").await;
    let mut props = p["properties"].clone();
    props["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"] = json!(base - 3);
    let (st, v) =
        w.s.post(
            "/api/v1/vaults/prod/policies",
            json!({"name": "Short", "properties": props}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let path = "/api/v1/vaults/prod/items/data/policy";
    let (st, e) = w
        .call(&w.ops, Method::POST, path, Some(json!({"policy": "Short"})))
        .await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");
    assert_eq!(w.item_state("data").await.1, "DefaultPolicy");
    // Approved for the policy, not for the item: no.
    let wrong = w
        .request(&w.ops, "prod", "reduce-retention", Some("Short"))
        .await;
    w.approved(wrong).await;
    let (st, e) = w
        .call(&w.ops, Method::POST, path, Some(json!({"policy": "Short"})))
        .await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");
    let id = w
        .request(&w.ops, "prod", "reduce-retention", Some("data"))
        .await;
    w.approved(id).await;
    let (st, v) = w
        .call(&w.ops, Method::POST, path, Some(json!({"policy": "Short"})))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(w.item_state("data").await.1, "Short");
    // Back to the longer policy: no approval needed.
    let (st, v) = w
        .call(
            &w.ops,
            Method::POST,
            path,
            Some(json!({"policy": "DefaultPolicy"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, e) = w
        .call(&w.ops, Method::POST, path, Some(json!({"policy": "Short"})))
        .await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");
    assert_eq!(w.item_state("data").await.1, "DefaultPolicy");
}

async fn stop_with_delete(w: &World) {
    // Stopping and keeping the data is no critical operation.
    let (st, v) = w
        .call(
            &w.ops,
            Method::POST,
            "/api/v1/vaults/prod/items/keep/stop",
            Some(json!({"mode": "retain-data"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let path = "/api/v1/vaults/prod/items/data/stop";
    let del = json!({"mode": "delete-data"});
    let (st, e) = w.call(&w.ops, Method::POST, path, Some(del.clone())).await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");
    assert_eq!(w.item_state("data").await.0, "Protected");
    // Approved for the other item: no.
    let wrong = w
        .request(&w.ops, "prod", "stop-protection-delete-data", Some("keep"))
        .await;
    w.approved(wrong).await;
    let (st, e) = w.call(&w.ops, Method::POST, path, Some(del.clone())).await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");
    let id = w
        .request(&w.ops, "prod", "stop-protection-delete-data", Some("data"))
        .await;
    let (st, e) = w.call(&w.ops, Method::POST, path, Some(del.clone())).await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");
    assert_eq!(w.item_state("data").await.0, "Protected");
    w.approved(id).await;
    let (st, job) = w.call(&w.ops, Method::POST, path, Some(del.clone())).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{job}");
    w.s.wait_job(job["id"].as_i64().unwrap()).await;
    assert_eq!(w.item_state("data").await.0, "SoftDeleted");
    // Back (undelete is no critical operation), and a second stop needs a
    // new approval.
    let (st, v) = w
        .call(
            &w.ops,
            Method::POST,
            "/api/v1/vaults/prod/items/data/undelete",
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, e) = w.call(&w.ops, Method::POST, path, Some(del.clone())).await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");
    assert_eq!(w.item_state("data").await.0, "ProtectionStopped");
}

async fn expiry(w: &World) {
    let off = json!({"softDeleteState": "Disabled"});
    let id = w.request(&w.ops, "prod", "disable-soft-delete", None).await;
    let (st, r) = w.approve(&w.sec, id, 5).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    w.clock.advance(TimeDelta::minutes(5));
    let (st, e) = w.patch(&w.ops, "prod", off.clone()).await;
    refused(st, &e, "MUA_APPROVAL_EXPIRED");
    assert_eq!(w.soft_delete_state("prod").await, "Enabled");
    // A pending request lapses after 24 hours: no approving it then.
    let late = w.request(&w.ops, "prod", "disable-soft-delete", None).await;
    w.clock.advance(TimeDelta::hours(24));
    let (st, e) = w.approve(&w.sec, late, 30).await;
    assert_error(st, &e, StatusCode::CONFLICT, "MUA_REQUEST_STATE");
    let (st, list) = w
        .call(
            &w.sec,
            Method::GET,
            "/api/v1/resourceGuards/g1/requests?status=Expired",
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let expired: Vec<i64> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert!(expired.contains(&id) && expired.contains(&late), "{list}");
    let (st, e) = w.patch(&w.ops, "prod", off).await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");
    assert_eq!(w.soft_delete_state("prod").await, "Enabled");
}

async fn detach(w: &World) {
    // A guard in use cannot be deleted.
    let (st, e) = w
        .call(&w.sec, Method::DELETE, "/api/v1/resourceGuards/g1", None)
        .await;
    assert_error(st, &e, StatusCode::CONFLICT, "RESOURCE_GUARD_IN_USE");
    let path = "/api/v1/vaults/prod/resourceGuard";
    // The server Owner is no exception.
    let (st, e) = w.s.delete(path).await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");
    // The detach-guard approval given before expired with the clock moves.
    let (st, e) = w.call(&w.ops, Method::DELETE, path, None).await;
    refused(st, &e, "MUA_APPROVAL_EXPIRED");
    assert_eq!(w.s.ok(path).await["guard"], "g1");
    let id = w.request(&w.ops, "prod", "detach-guard", None).await;
    let (st, e) = w.call(&w.ops, Method::DELETE, path, None).await;
    refused(st, &e, "MUA_APPROVAL_REQUIRED");
    let (st, r) = w.approve(&w.sec2, id, 10).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let (st, e) = w.call(&w.ops, Method::DELETE, path, None).await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{e}");
    let m = w.s.ok(path).await;
    assert_eq!(m["multiUserAuthorization"], "Disabled");
    assert_eq!(m["guard"], Value::Null);
    let v = w.s.ok("/api/v1/vaults/prod").await;
    assert_eq!(
        v["properties"]["securitySettings"]["multiUserAuthorization"],
        "Disabled"
    );
    let alerts = w.s.ok("/api/v1/vaults/prod/alerts?kind=mua-disabled").await;
    assert_eq!(alerts["value"].as_array().unwrap().len(), 1, "{alerts}");
    // Without a guard, disabling soft delete needs nothing.
    let (st, v) = w
        .patch(&w.ops, "prod", json!({"softDeleteState": "Disabled"}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // prod2 still uses g1.
    let (st, e) = w
        .call(&w.sec, Method::DELETE, "/api/v1/resourceGuards/g1", None)
        .await;
    assert_error(st, &e, StatusCode::CONFLICT, "RESOURCE_GUARD_IN_USE");
}

async fn audit_rows(w: &World) {
    let rows = w.s.all("/api/v1/audit?limit=1000").await;
    let has = |op: &str, pred: &dyn Fn(&Value) -> bool| {
        rows.iter()
            .any(|r| r["operation"].as_str() == Some(op) && pred(r))
    };
    assert!(has("mua.request", &|r| r["status"] == 201), "request rows");
    assert!(
        has("guard.approve", &|r| r["status"] == 200
            && r["target"].as_str().unwrap().ends_with("/approve")),
        "approval rows"
    );
    assert!(
        has("guard.approve", &|r| r["target"]
            .as_str()
            .unwrap()
            .ends_with("/reject")),
        "rejection rows"
    );
    assert!(
        has("mua.approval_used", &|r| r["principal"] == "ops"
            && r["phase"] == "event"),
        "use rows"
    );
    assert!(
        has("mua.approval_expired", &|r| r["principal"] == "system"),
        "expiry rows"
    );
    assert!(has("mua.request_expired", &|_| true), "lapsed request rows");
    assert!(
        has("vault.update", &|r| r["errorCode"]
            == "MUA_APPROVAL_REQUIRED"),
        "refusals are audited"
    );
    let v = w.s.ok("/api/v1/audit/verify").await;
    assert_eq!(v["valid"], true, "{v}");
}

both!(critical_operations_need_a_second_principal, |db| {
    let mut w = setup(db).await;
    disable_soft_delete(&w).await;
    disable_immutability(&w).await;
    reduce_retention_policy(&w).await;
    reduce_retention_item(&w).await;
    stop_with_delete(&w).await;
    expiry(&w).await;
    detach(&w).await;
    audit_rows(&w).await;
    w.s.stop().await;
});

both!(guards_and_requests_are_checked, |db| {
    let mut s = TestServer::start(db).await;
    s.vault("vv").await;
    // Mandatory operations cannot be left out; names are checked.
    let (st, e) = s
        .post(
            "/api/v1/resourceGuards",
            json!({"name": "gg", "criticalOperations": ["detach-guard"]}),
        )
        .await;
    assert_error(st, &e, StatusCode::BAD_REQUEST, "INVALID_ARGUMENT");
    let (st, e) = s
        .post("/api/v1/resourceGuards", json!({"name": "not a name"}))
        .await;
    assert_error(st, &e, StatusCode::BAD_REQUEST, "INVALID_ARGUMENT");
    let (st, g) = s
        .post(
            "/api/v1/resourceGuards",
            json!({"name": "gg", "criticalOperations": ["detach-guard", "disable-soft-delete"]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{g}");
    assert_eq!(g["owner"], "admin");
    let (st, _) = s
        .post("/api/v1/resourceGuards", json!({"name": "gg"}))
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    let (st, m) = s
        .put(
            "/api/v1/vaults/vv/resourceGuard",
            json!({"guardName": "gg"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{m}");
    // Attaching again is a no-op; another guard is refused.
    let (st, _) = s
        .put(
            "/api/v1/vaults/vv/resourceGuard",
            json!({"guardName": "gg"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    s.post("/api/v1/resourceGuards", json!({"name": "hh"}))
        .await;
    let (st, e) = s
        .put(
            "/api/v1/vaults/vv/resourceGuard",
            json!({"guardName": "hh"}),
        )
        .await;
    assert_error(st, &e, StatusCode::CONFLICT, "RESOURCE_GUARD_ATTACHED");
    // Operations the guard does not protect need (and take) no approval.
    let (st, e) = s
        .post(
            "/api/v1/vaults/vv/resourceGuard/requests",
            json!({"operation": "disable-immutability"}),
        )
        .await;
    assert_error(st, &e, StatusCode::BAD_REQUEST, "INVALID_ARGUMENT");
    let (st, v) = s
        .call(
            Method::PATCH,
            "/api/v1/vaults/vv",
            Some(json!({"immutabilityState": "Unlocked"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = s
        .call(
            Method::PATCH,
            "/api/v1/vaults/vv",
            Some(json!({"immutabilityState": "Disabled"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // Bad operation, bad target, validity out of range.
    for (body, target) in [
        (json!({"operation": "format-disk"}), "operation"),
        (
            json!({"operation": "detach-guard", "target": "x"}),
            "target",
        ),
        (
            json!({"operation": "stop-protection-delete-data"}),
            "target",
        ),
    ] {
        let (st, e) = s
            .post("/api/v1/vaults/vv/resourceGuard/requests", body)
            .await;
        assert_error(st, &e, StatusCode::BAD_REQUEST, "INVALID_ARGUMENT");
        assert_eq!(e["target"], target, "{e}");
    }
    let (st, r) = s
        .post(
            "/api/v1/vaults/vv/resourceGuard/requests",
            json!({"operation": "detach-guard"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{r}");
    let id = r["id"].as_i64().unwrap();
    // admin holds gg and asked: it cannot approve its own request.
    let (st, e) = s
        .post(
            &format!("/api/v1/resourceGuards/gg/requests/{id}/approve"),
            json!({}),
        )
        .await;
    assert_error(st, &e, StatusCode::FORBIDDEN, "MUA_SELF_APPROVAL");
    let (st, e) = s
        .post(
            &format!("/api/v1/resourceGuards/hh/requests/{id}/approve"),
            json!({}),
        )
        .await;
    assert_error(st, &e, StatusCode::NOT_FOUND, "NOT_FOUND");
    let (st, e) = s
        .post("/api/v1/resourceGuards/gg/requests?status=Done", json!({}))
        .await;
    assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED, "{e}");
    let (st, e) = s
        .get("/api/v1/resourceGuards/gg/requests?status=Done")
        .await;
    assert_error(st, &e, StatusCode::BAD_REQUEST, "INVALID_ARGUMENT");
    // The owner stays a holder; hh is unused and can go.
    let (st, e) = s.delete("/api/v1/resourceGuards/gg/members/admin").await;
    assert_error(st, &e, StatusCode::BAD_REQUEST, "INVALID_ARGUMENT");
    let (st, _) = s.delete("/api/v1/resourceGuards/hh").await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let list = s.ok("/api/v1/resourceGuards").await;
    assert_eq!(list["value"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["value"][0]["vaults"], json!(["vv"]));
    s.stop().await;
});
