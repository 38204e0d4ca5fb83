//! Identities, role assignments and identity tokens (schema 5), on a real
//! SQLite file and a real PostgreSQL database.

#[macro_use]
mod support;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use lifeboat_catalog::*;
use lifeboat_model::job::JobType;
use serde_json::json;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 22, 0, 0).unwrap() + TimeDelta::microseconds(123_456)
}

fn code<T: std::fmt::Debug>(r: Result<T>) -> &'static str {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.code().as_str(),
    }
}

async fn vault(cat: &Catalog, name: &str) -> Vault {
    support::vault(cat, name, t0()).await
}

both!(identities_are_created_listed_and_disabled, |db| {
    let cat = &db.catalog;
    let alice = cat.create_identity("alice", "User", t0()).await.unwrap();
    assert_eq!(
        (alice.name.as_str(), alice.kind.as_str(), alice.created),
        ("alice", "User", t0())
    );
    assert_eq!(alice.disabled, None);
    assert_eq!(
        code(cat.create_identity("alice", "ServicePrincipal", t0()).await),
        "CONFLICT"
    );
    cat.create_identity("bot", "ServicePrincipal", t0())
        .await
        .unwrap();
    let names: Vec<_> = cat
        .list_identities()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(names, ["alice", "bot"]);
    assert_eq!(cat.get_identity("alice").await.unwrap(), alice);
    assert_eq!(cat.get_identity_by_id(alice.id).await.unwrap(), alice);
    assert_eq!(code(cat.get_identity("nobody").await), "NOT_FOUND");

    let later = t0() + TimeDelta::hours(1);
    let d = cat
        .set_identity_disabled(alice.id, Some(later))
        .await
        .unwrap();
    assert_eq!(d.disabled, Some(later));
    // Disabling again keeps the first time.
    let d = cat
        .set_identity_disabled(alice.id, Some(later + TimeDelta::hours(1)))
        .await
        .unwrap();
    assert_eq!(d.disabled, Some(later));
    let e = cat.set_identity_disabled(alice.id, None).await.unwrap();
    assert_eq!(e.disabled, None);
    assert_eq!(
        code(cat.set_identity_disabled(IdentityId(999_999), None).await),
        "NOT_FOUND"
    );
});

both!(role_assignments_by_scope, |db| {
    let cat = &db.catalog;
    let alice = cat.create_identity("alice", "User", t0()).await.unwrap();
    let bob = cat.create_identity("bob", "User", t0()).await.unwrap();
    let prod = vault(cat, "prod").await;
    let lab = vault(cat, "lab").await;

    let server = cat
        .assign_role(alice.id, "Owner", None, t0())
        .await
        .unwrap();
    assert_eq!(server.vault_id, None);
    assert_eq!(server.vault_name, None);
    assert_eq!(server.identity_name, "alice");
    // The same role at server scope twice: refused (NULL scope is unique too).
    assert_eq!(
        code(cat.assign_role(alice.id, "Owner", None, t0()).await),
        "CONFLICT"
    );
    let on_prod = cat
        .assign_role(alice.id, "Backup Operator", Some(prod.id), t0())
        .await
        .unwrap();
    assert_eq!(on_prod.vault_name.as_deref(), Some("prod"));
    assert_eq!(
        code(
            cat.assign_role(alice.id, "Backup Operator", Some(prod.id), t0())
                .await
        ),
        "CONFLICT"
    );
    // Same role on another vault, and at server scope: distinct.
    cat.assign_role(alice.id, "Backup Operator", Some(lab.id), t0())
        .await
        .unwrap();
    cat.assign_role(alice.id, "Backup Operator", None, t0())
        .await
        .unwrap();
    cat.assign_role(bob.id, "Backup Reader", Some(prod.id), t0())
        .await
        .unwrap();
    // Unknown names are stored as given: the server decides they permit nothing.
    cat.assign_role(bob.id, "Frobnicator", None, t0())
        .await
        .unwrap();
    assert_eq!(
        code(
            cat.assign_role(IdentityId(999_999), "Owner", None, t0())
                .await
        ),
        "NOT_FOUND"
    );
    assert_eq!(
        code(
            cat.assign_role(bob.id, "Owner", Some(VaultId(999_999)), t0())
                .await
        ),
        "NOT_FOUND"
    );

    let of_alice = cat
        .list_role_assignments(&AssignmentFilter {
            identity_id: Some(alice.id),
            ..Default::default()
        })
        .await
        .unwrap();
    let shown: Vec<_> = of_alice
        .iter()
        .map(|a| (a.role.as_str(), a.vault_name.as_deref()))
        .collect();
    assert_eq!(
        shown,
        [
            ("Backup Operator", None),
            ("Owner", None),
            ("Backup Operator", Some("lab")),
            ("Backup Operator", Some("prod")),
        ]
    );
    let on_prod_all = cat
        .list_role_assignments(&AssignmentFilter {
            vault_id: Some(prod.id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(on_prod_all.len(), 2);
    let server_only = cat
        .list_role_assignments(&AssignmentFilter {
            server_only: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(server_only.len(), 3);

    assert_eq!(cat.get_role_assignment(on_prod.id).await.unwrap(), on_prod);
    cat.delete_role_assignment(on_prod.id).await.unwrap();
    assert_eq!(code(cat.get_role_assignment(on_prod.id).await), "NOT_FOUND");
    assert_eq!(
        code(cat.delete_role_assignment(on_prod.id).await),
        "NOT_FOUND"
    );

    // Deleting a vault removes the assignments on it.
    cat.delete_vault(lab.id).await.unwrap();
    let left = cat
        .list_role_assignments(&AssignmentFilter::default())
        .await
        .unwrap();
    assert!(left.iter().all(|a| a.vault_name.as_deref() != Some("lab")));
    assert_eq!(left.len(), 4);
});

both!(identity_tokens_expire_and_are_revoked, |db| {
    let cat = &db.catalog;
    let alice = cat.create_identity("alice", "User", t0()).await.unwrap();
    let secret = "lb_aa11bb22cc33dd44ee55ff6600112233445566778899aabbccddeeff00112233";
    let expires = t0() + TimeDelta::days(90);
    let t = cat
        .create_identity_token(alice.id, "laptop", secret, Some(expires), t0())
        .await
        .unwrap();
    assert_eq!(t.identity_id, Some(alice.id));
    assert_eq!(t.expires, Some(expires));
    assert_eq!(t.revoked, None);
    assert_eq!(t.role, "");
    // Only the hash is stored.
    let stored = db
        .strings("SELECT hash FROM tokens WHERE name = 'laptop'")
        .await;
    assert_eq!(stored, [hash_token(secret)]);
    assert_eq!(cat.find_token(secret).await.unwrap(), Some(t.clone()));
    assert_eq!(cat.get_token("laptop").await.unwrap(), t);
    // Token names are unique on the server.
    assert_eq!(
        code(
            cat.create_identity_token(alice.id, "laptop", "lb_other", None, t0())
                .await
        ),
        "CONFLICT"
    );
    assert_eq!(
        code(
            cat.create_identity_token(IdentityId(999_999), "x", "lb_x", None, t0())
                .await
        ),
        "NOT_FOUND"
    );
    let never = cat
        .create_identity_token(alice.id, "bootstrap", "lb_second_secret", None, t0())
        .await
        .unwrap();
    assert_eq!(never.expires, None);
    let names: Vec<_> = cat
        .list_identity_tokens(alice.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["bootstrap", "laptop"]);

    let at = t0() + TimeDelta::hours(2);
    let r = cat.revoke_token(t.id, at).await.unwrap();
    assert_eq!(r.revoked, Some(at));
    // Revoking again keeps the first time; the row stays findable so the
    // server can say TOKEN_REVOKED.
    let r = cat
        .revoke_token(t.id, at + TimeDelta::hours(1))
        .await
        .unwrap();
    assert_eq!(r.revoked, Some(at));
    assert_eq!(
        cat.find_token(secret).await.unwrap().unwrap().revoked,
        Some(at)
    );
    assert_eq!(
        code(cat.revoke_token(TokenId(999_999), at).await),
        "NOT_FOUND"
    );
});

both!(pre_identity_tokens_keep_their_role, |db| {
    let cat = &db.catalog;
    let t = cat
        .create_token("admin", "Administrator", "lb_old_admin_secret", t0())
        .await
        .unwrap();
    assert_eq!(t.identity_id, None);
    assert_eq!(t.expires, None);
    assert_eq!(t.role, "Administrator");
    assert!(Catalog::supported_schema_version() >= 5);
    assert!(cat.schema_version().await.unwrap() >= 5);
});

both!(jobs_are_listed_for_a_set_of_vaults, |db| {
    let cat = &db.catalog;
    let a = vault(cat, "a").await;
    let b = vault(cat, "b").await;
    let c = vault(cat, "c").await;
    for (i, v) in [&a, &b, &c, &a].into_iter().enumerate() {
        cat.enqueue(&NewJob {
            vault_id: v.id,
            item_id: None,
            job_type: JobType::GarbageCollection,
            slot_key: Some(format!("s{i}")),
            params: json!({}),
            queued_at: t0() + TimeDelta::seconds(i as i64),
        })
        .await
        .unwrap();
    }
    let f = JobFilter::default();
    let got = cat
        .list_jobs_in_vaults(&f, &[a.id, c.id], &Page::first(2))
        .await
        .unwrap();
    assert_eq!(got.items.len(), 2);
    assert!(got.next_cursor.is_some());
    let rest = cat
        .list_jobs_in_vaults(&f, &[a.id, c.id], &Page::after(2, got.next_cursor))
        .await
        .unwrap();
    let all: Vec<_> = got
        .items
        .iter()
        .chain(&rest.items)
        .map(|j| j.vault_id)
        .collect();
    assert_eq!(all, [a.id, c.id, a.id]);
    assert!(rest.next_cursor.is_none());
    let none = cat
        .list_jobs_in_vaults(&f, &[], &Page::first(10))
        .await
        .unwrap();
    assert!(none.items.is_empty());
    let only_b = cat
        .list_jobs_in_vaults(
            &JobFilter {
                vault_id: Some(b.id),
                ..Default::default()
            },
            &[a.id],
            &Page::first(10),
        )
        .await
        .unwrap();
    assert!(only_b.items.is_empty(), "the filter narrows, never widens");
});
