//! The audit log on a real SQLite file and a real PostgreSQL database:
//! appends form one chain (also from concurrent pools), listings filter
//! and page, and every kind of tampering done with plain SQL — an edited
//! field, a deleted middle row, deleted newest rows, a rewound head, a
//! spliced row — is found by `verify_audit`, which names the seq.

#[macro_use]
mod support;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use lifeboat_catalog::*;

fn key() -> AuditKey {
    AuditKey::new([42; 32])
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap() + TimeDelta::microseconds(654_321)
}

/// Row `i` of a test log: principals alternate, every third answer failed.
fn entry(i: i64) -> NewAuditEntry {
    let failed = i % 3 == 0;
    NewAuditEntry {
        time: t0() + TimeDelta::seconds(i),
        principal: if i % 2 == 0 { "alice" } else { "bob" }.into(),
        principal_id: Some(1 + i % 2),
        source: format!("10.0.0.{}:4000", i % 7),
        operation: if i % 4 == 0 {
            "delete_vault"
        } else {
            "create_vault"
        }
        .into(),
        target: format!("/api/v1/vaults/v{}", i % 5),
        phase: PHASE_RESULT.into(),
        status: Some(if failed { 409 } else { 201 }),
        error_code: failed.then(|| "CONFLICT".to_string()),
        request_id: format!("req-{i}"),
    }
}

async fn append_n(cat: &Catalog, n: i64) -> Vec<AuditEntry> {
    let mut out = Vec::new();
    for i in 1..=n {
        out.push(cat.append_audit(&key(), &entry(i)).await.unwrap());
    }
    out
}

async fn assert_valid(cat: &Catalog, rows: i64) {
    let v = cat.verify_audit(Some(&key())).await.unwrap();
    assert!(v.is_valid(), "{v:?}");
    assert_eq!((v.checked, v.head_seq), (rows, rows));
}

async fn broken(cat: &Catalog, key: Option<&AuditKey>) -> AuditBreak {
    let v = cat.verify_audit(key).await.unwrap();
    match v.broken {
        Some(b) => b,
        None => panic!("verify should fail: checked {} rows", v.checked),
    }
}

both!(appends_chain_and_verify, |db| {
    let cat = &db.catalog;
    assert_valid(cat, 0).await;
    assert_eq!(cat.audit_len().await.unwrap(), 0);
    // More than one verification batch (1000 rows).
    let rows = append_n(cat, 1203).await;
    assert_eq!(rows[0].seq, 1);
    assert_eq!(rows[0].prev_hash, GENESIS);
    for w in rows.windows(2) {
        assert_eq!(w[1].seq, w[0].seq + 1);
        assert_eq!(w[1].prev_hash, w[0].hash);
    }
    // What was written reads back as it was hashed.
    let r = &rows[41];
    assert_eq!(r.time, t0() + TimeDelta::seconds(42));
    assert_eq!(r.request_id, "req-42");
    assert_eq!(r.error_code.as_deref(), Some("CONFLICT"));
    assert_eq!(cat.audit_len().await.unwrap(), 1203);
    assert_valid(cat, 1203).await;
    // A wrong key finds the very first row edited.
    let b = broken(cat, Some(&AuditKey::new([43; 32]))).await;
    assert_eq!((b.seq, b.problem), (Some(1), AuditProblem::Edited));
    // No key: the structure holds, the hashes cannot be checked.
    let b = broken(cat, None).await;
    assert_eq!((b.seq, b.problem), (None, AuditProblem::KeyMissing));
    assert!(b.detail.contains("1203 rows"), "{}", b.detail);
});

both!(an_edited_field_is_found_by_seq, |db| {
    let cat = &db.catalog;
    append_n(cat, 30).await;
    db.execute("UPDATE audit_log SET principal = 'mallory' WHERE seq = 17")
        .await;
    let b = broken(cat, Some(&key())).await;
    assert_eq!((b.seq, b.problem), (Some(17), AuditProblem::Edited));
    assert!(b.detail.contains("seq 17"), "{}", b.detail);
    assert!(b.detail.contains("edited"), "{}", b.detail);
    // The edit is put back: intact again.
    db.execute("UPDATE audit_log SET principal = 'bob' WHERE seq = 17")
        .await;
    assert_valid(cat, 30).await;
    // A failure turned into a success, with the error code cleared.
    db.execute("UPDATE audit_log SET status = 201, error_code = NULL WHERE seq = 9")
        .await;
    let b = broken(cat, Some(&key())).await;
    assert_eq!((b.seq, b.problem), (Some(9), AuditProblem::Edited));
    // Without the key the edit cannot be seen: the answer says so rather
    // than "intact".
    let b = broken(cat, None).await;
    assert_eq!(b.problem, AuditProblem::KeyMissing);
});

both!(a_deleted_middle_row_is_a_gap, |db| {
    let cat = &db.catalog;
    append_n(cat, 25).await;
    db.execute("DELETE FROM audit_log WHERE seq = 12").await;
    let b = broken(cat, Some(&key())).await;
    assert_eq!((b.seq, b.problem), (Some(12), AuditProblem::Missing));
    assert!(b.detail.contains("seq 12"), "{}", b.detail);
    // Found without the key as well.
    let b = broken(cat, None).await;
    assert_eq!((b.seq, b.problem), (Some(12), AuditProblem::Missing));
    // Several rows, and renumbering the rest to hide the gap, is an edit.
    db.execute("DELETE FROM audit_log WHERE seq IN (13, 14)")
        .await;
    let b = broken(cat, Some(&key())).await;
    assert_eq!((b.seq, b.problem), (Some(12), AuditProblem::Missing));
    assert!(b.detail.contains("12–14"), "{}", b.detail);
    db.execute("UPDATE audit_log SET seq = seq - 3 WHERE seq > 14")
        .await;
    let b = broken(cat, Some(&key())).await;
    assert_eq!((b.seq, b.problem), (Some(12), AuditProblem::Edited));
});

both!(deleting_the_newest_rows_is_a_head_mismatch, |db| {
    let cat = &db.catalog;
    let rows = append_n(cat, 20).await;
    db.execute("DELETE FROM audit_log WHERE seq = 20").await;
    let b = broken(cat, Some(&key())).await;
    assert_eq!((b.seq, b.problem), (Some(20), AuditProblem::HeadMismatch));
    assert!(b.detail.contains("seq 20"), "{}", b.detail);
    // Every row gone, head left: still found.
    db.execute("DELETE FROM audit_log WHERE seq > 1").await;
    let b = broken(cat, Some(&key())).await;
    assert_eq!((b.seq, b.problem), (Some(2), AuditProblem::HeadMismatch));
    assert!(b.detail.contains("2–20"), "{}", b.detail);
    // Rewinding the head to the row now newest needs the head's MAC.
    let h1 = &rows[0].hash;
    db.execute(&format!(
        "UPDATE audit_head SET seq = 1, hash = '{h1}' WHERE id = 1"
    ))
    .await;
    let b = broken(cat, Some(&key())).await;
    assert_eq!((b.seq, b.problem), (Some(1), AuditProblem::HeadMismatch));
    assert!(b.detail.contains("altered"), "{}", b.detail);
    // The head row itself deleted: found, and appends refuse to restart.
    db.execute("DELETE FROM audit_head").await;
    let b = broken(cat, Some(&key())).await;
    assert_eq!((b.seq, b.problem), (None, AuditProblem::HeadMismatch));
    assert!(cat.append_audit(&key(), &entry(21)).await.is_err());
});

both!(rows_added_behind_the_appender_or_spliced_are_found, |db| {
    let cat = &db.catalog;
    let rows = append_n(cat, 10).await;
    // A valid-looking row 11 written straight into the table (even with
    // the key, the head was not moved).
    let e = entry(11);
    let h = row_hash(&key(), 11, &e, &rows[9].hash);
    let ts = match db.dialect() {
        Dialect::Sqlite => format!("'{}'", e.time.format("%Y-%m-%dT%H:%M:%S%.6f+00:00")),
        Dialect::Postgres => format!("'{}'::timestamptz", e.time.to_rfc3339()),
    };
    db.execute(&format!(
        "INSERT INTO audit_log (seq, time, principal, principal_id, source, operation, target,
            phase, status, error_code, request_id, prev_hash, hash)
         VALUES (11, {ts}, '{}', {}, '{}', '{}', '{}', '{}', {}, NULL, '{}', '{}', '{h}')",
        e.principal,
        e.principal_id.unwrap(),
        e.source,
        e.operation,
        e.target,
        e.phase,
        e.status.unwrap(),
        e.request_id,
        rows[9].hash
    ))
    .await;
    let b = broken(cat, Some(&key())).await;
    assert_eq!((b.seq, b.problem), (Some(11), AuditProblem::HeadMismatch));
    db.execute("DELETE FROM audit_log WHERE seq = 11").await;
    assert_valid(cat, 10).await;
    // Row 5 replaced by a row whose own hash holds but which follows
    // another chain: reordered.
    let other = "ab".repeat(32);
    let mut e5 = entry(5);
    e5.time = rows[4].time;
    let h5 = row_hash(&key(), 5, &e5, &other);
    db.execute(&format!(
        "UPDATE audit_log SET prev_hash = '{other}', hash = '{h5}' WHERE seq = 5"
    ))
    .await;
    let b = broken(cat, Some(&key())).await;
    assert_eq!((b.seq, b.problem), (Some(5), AuditProblem::Reordered));
    // Without the key the broken link is still visible.
    let b = broken(cat, None).await;
    assert_eq!((b.seq, b.problem), (Some(5), AuditProblem::Reordered));
});

both!(lists_filter_and_page_newest_first, |db| {
    let cat = &db.catalog;
    append_n(cat, 60).await;
    let attempt = NewAuditEntry {
        phase: PHASE_ATTEMPT.into(),
        status: None,
        error_code: None,
        target: "/api/v1/vaults/50%_off".into(),
        ..entry(61)
    };
    cat.append_audit(&key(), &attempt).await.unwrap();
    let all = |f: AuditFilter| async move {
        let mut out = Vec::new();
        let mut page = Page::first(7);
        loop {
            let p = cat.list_audit(&f, &page).await.unwrap();
            out.extend(p.items);
            match p.next_cursor {
                Some(c) => page = Page::after(7, Some(c)),
                None => break,
            }
        }
        out
    };
    let every = all(AuditFilter::default()).await;
    let seqs: Vec<i64> = every.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=61).rev().collect::<Vec<_>>());

    let alice = all(AuditFilter {
        principal: Some("alice".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(alice.len(), 30);
    assert!(alice.iter().all(|r| r.principal == "alice"));

    let deletes = all(AuditFilter {
        operation_prefix: Some("delete_".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(deletes.len(), 15);
    // Prefixes are literal: `%` and `_` match only themselves.
    let odd = all(AuditFilter {
        target_prefix: Some("/api/v1/vaults/50%_".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(odd.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![61]);
    let v1 = all(AuditFilter {
        target_prefix: Some("/api/v1/vaults/v1".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(v1.len(), 12);

    let failed = all(AuditFilter {
        outcome: Some(AuditOutcome::Failure),
        ..Default::default()
    })
    .await;
    assert_eq!(failed.len(), 20);
    assert!(failed.iter().all(|r| r.status == Some(409)));
    let ok = all(AuditFilter {
        outcome: Some(AuditOutcome::Success),
        ..Default::default()
    })
    .await;
    assert_eq!(ok.len(), 40, "attempt rows have no outcome");

    let window = all(AuditFilter {
        from: Some(t0() + TimeDelta::seconds(10)),
        to: Some(t0() + TimeDelta::seconds(20)),
        principal: Some("bob".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(
        window.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![19, 17, 15, 13, 11]
    );
    let bad = cat
        .list_audit(&AuditFilter::default(), &Page::after(5, Some("zz".into())))
        .await;
    assert_eq!(bad.unwrap_err().code(), "INVALID_CURSOR");
});

both!(concurrent_appends_from_two_pools_form_one_chain, |db| {
    // Two pools on one database: two servers sharing a catalog.
    let a = db.catalog.clone();
    let b = Catalog::connect(&db.url).await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..8i64 {
        let cat = if t % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            for i in 0..40i64 {
                let mut e = entry(t * 1000 + i);
                e.request_id = format!("task-{t}-{i}");
                cat.append_audit(&key(), &e).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_valid(&a, 320).await;
    assert_valid(&b, 320).await;
    let page = a
        .list_audit(&AuditFilter::default(), &Page::first(1000))
        .await
        .unwrap();
    let mut seqs: Vec<i64> = page.items.iter().map(|r| r.seq).collect();
    seqs.sort();
    assert_eq!(seqs, (1..=320).collect::<Vec<_>>());
    b.close().await;
});
