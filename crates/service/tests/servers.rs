//! Several services on one catalog, crashes and cancellation: two servers
//! on one PostgreSQL catalog run each slot exactly once; when one dies
//! mid-job (its tasks aborted, nothing cleaned up) the other takes the job
//! over once the lease lapses (Failed with SERVER_LOST, the backup queued
//! again once); a restarted server settles the jobs its dead predecessor
//! held; cancel works queued and running; the sweep adopts a point whose
//! row was never written.

mod support;

#[allow(unused_imports)]
use lifeboat_model::job::JobStatus;
use lifeboat_model::job::JobType;
use lifeboat_service::Clock;

use std::time::Duration;

use chrono::TimeDelta;
use lifeboat_catalog::{JobFilter, NewJob};
use lifeboat_service::{ServiceHandle, ops};
use serde_json::json;
use support::{Env, daily_policy, hourly_policy, pseudo_random, utc};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_run_each_slot_once() {
    let env = Env::postgres(utc("2026-06-01T00:00:00Z")).await;
    let v = env.vault("shared").await;
    env.policy(
        &v,
        "Every4h",
        hourly_policy("Europe/Berlin", 4, "00:00", 7, 2),
    )
    .await;
    let mut items = Vec::new();
    for i in 0..6 {
        let src = env.tree(&format!("src{i}"), i);
        items.push(
            env.item(&v, &format!("item{i}"), "path", &src, "Every4h")
                .await,
        );
    }
    let a = env.start().await;
    let b = env.start().await;
    let mut t = env.clock.now();
    let end = utc("2026-06-02T00:00:00Z");
    while t < end {
        t += TimeDelta::hours(1);
        env.clock.set(t);
        env.settle(&a).await;
        env.settle(&b).await;
    }
    // Berlin is UTC+2 in June: local 00,04,…,20 → 22Z,02Z,…,18Z.
    for it in &items {
        let jobs = env.jobs_of_type("Backup", Some(it)).await;
        let mut keys: Vec<String> = jobs.iter().map(|j| j.slot_key.clone().unwrap()).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "2026-06-01T04:00",
                "2026-06-01T08:00",
                "2026-06-01T12:00",
                "2026-06-01T16:00",
                "2026-06-01T20:00",
                "2026-06-02T00:00",
            ]
        );
        assert!(
            jobs.iter()
                .all(|j| j.state == JobStatus::Completed && j.attempt == 1)
        );
        assert_eq!(env.points(it).await.len(), 6);
    }
    // Both servers did some of the work.
    let owners: std::collections::HashSet<String> = env
        .jobs_of_type("Backup", None)
        .await
        .into_iter()
        .filter_map(|j| j.owner)
        .collect();
    assert!(
        owners.contains(a.worker_id()) && owners.contains(b.worker_id()),
        "{owners:?}"
    );
    a.shutdown(Duration::from_secs(10)).await;
    b.shutdown(Duration::from_secs(10)).await;
}

/// Starts a backup of a big enough source and aborts the server that
/// claimed it while the job is in progress. Returns the job id and the
/// index of the server that died.
async fn crash_mid_backup(
    env: &Env,
    servers: &[&ServiceHandle],
    item: &lifeboat_catalog::Item,
) -> (lifeboat_catalog::JobId, usize) {
    let job = ops::enqueue_backup_now(&env.catalog, env.clock.as_ref(), item, None)
        .await
        .unwrap();
    for h in servers {
        h.wake();
    }
    // Crash while the data transfer runs.
    let j = transferring(env, job.id).await;
    let owner = j.owner.unwrap();
    let i = servers.iter().position(|h| h.worker_id() == owner).unwrap();
    servers[i].abort();
    (job.id, i)
}

/// Waits until job `id` is in progress with its data transfer (task 2)
/// running; fails if the job ends first.
async fn transferring(env: &Env, id: lifeboat_catalog::JobId) -> lifeboat_catalog::Job {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let j = env.catalog.get_job(id).await.unwrap();
        if j.state == JobStatus::InProgress && j.tasks[1]["status"] == "InProgress" {
            return j;
        }
        assert!(
            j.state == JobStatus::Queued || j.state == JobStatus::InProgress,
            "the job ended before its transfer ran: {j:?}"
        );
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Vault `v` with policy `P` and item `big`: 48 MiB in 12 files that do
/// not compress, so that its backup takes a while.
async fn big_item(env: &Env) -> (lifeboat_catalog::Vault, lifeboat_catalog::Item) {
    let v = env.daily_vault("v").await;
    let src = env.data().join("big");
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..12 {
        std::fs::write(src.join(format!("f{i}")), pseudo_random(4 << 20, 100 + i)).unwrap();
    }
    let item = env.item(&v, "big", "path", &src, "P").await;
    (v, item)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_servers_job_is_taken_over_after_its_lease() {
    let env = Env::postgres(utc("2026-06-01T00:00:00Z")).await;
    let (v, item) = big_item(&env).await;
    let a = env.start().await;
    let b = env.start().await;
    let (lost, dead) = crash_mid_backup(&env, &[&a, &b], &item).await;
    let (dead, b) = if dead == 0 { (a, b) } else { (b, a) };
    let a = dead;
    // The lease has not lapsed: B leaves the job alone.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        env.catalog.get_job(lost).await.unwrap().state,
        JobStatus::InProgress
    );
    // Past the lease, B takes it over.
    env.clock.advance(TimeDelta::seconds(61));
    let j = env.wait_job(lost).await;
    assert_eq!(j.state, JobStatus::Failed);
    assert_eq!(j.errors[0]["errorCode"], "SERVER_LOST");
    assert_ne!(j.owner.as_deref(), Some(a.worker_id()));
    // The retry ran on B and made a point.
    env.settle(&b).await;
    let retries: Vec<_> = env
        .jobs_of_type("Backup", Some(&item))
        .await
        .into_iter()
        .filter(|r| r.params["retryOf"] == json!(lost.0))
        .collect();
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].state, JobStatus::CompletedWithWarnings);
    assert_eq!(retries[0].warnings[0]["errorCode"], "RETRY");
    assert_eq!(retries[0].owner.as_deref(), Some(b.worker_id()));
    // Every row names a point the store has; the crashed transfer may
    // still commit a point in the background, which a sweep then adopts.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let sweep = ops::enqueue_sweep(&env.catalog, env.clock.as_ref(), v.id)
            .await
            .unwrap();
        b.wake();
        env.wait_job(sweep.id).await;
        let ids = env.store_point_ids(v.id).await;
        let rows = env.points(&item).await;
        assert!(!rows.is_empty());
        for p in &rows {
            assert!(
                ids.contains(&p.store_id),
                "row {} names no store point",
                p.store_id
            );
        }
        if rows.len() == ids.len() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "store points never got rows"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The crashed transfer went on in the dead server's thread and
    // committed a point without a row: a sweep adopted it, on-demand as
    // its store tags say.
    let sweeps = env.vault_jobs(&v, "ExpirySweep").await;
    let adopted = sweeps
        .iter()
        .flat_map(|j| j.warnings.as_array().cloned().unwrap_or_default())
        .filter(|w| w["errorCode"] == "POINT_ADOPTED")
        .count();
    assert_eq!(adopted, 1);
    let rows = env.points(&item).await;
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|p| p.rule_tags == ["on-demand"] && p.retain_until.is_some())
    );
    b.shutdown(Duration::from_secs(10)).await;
}

both!(
    restart_after_an_interrupted_job,
    "2026-06-01T00:00:00Z",
    |env| {
        let (_, item) = big_item(&env).await;
        let a = env.start().await;
        let (lost, _) = crash_mid_backup(&env, &[&a], &item).await;
        // The same machine restarts the server; the old lease runs out.
        let a2 = env.start().await;
        env.clock.advance(TimeDelta::seconds(120));
        let j = env.wait_job(lost).await;
        assert_eq!(j.state, JobStatus::Failed);
        assert_eq!(j.errors[0]["errorCode"], "SERVER_LOST");
        assert_eq!(j.tasks[1]["status"], "Failed");
        env.settle(&a2).await;
        let jobs = env
            .jobs(JobFilter {
                item_id: Some(item.id),
                ..JobFilter::default()
            })
            .await;
        assert_eq!(jobs.len(), 2);
        assert!(
            jobs.iter()
                .any(|j| j.state == JobStatus::CompletedWithWarnings)
        );
        a2.shutdown(Duration::from_secs(10)).await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_predecessor_on_this_host_is_settled_at_start() {
    let env = Env::sqlite(utc("2026-06-01T00:00:00Z")).await;
    let v = env.daily_vault("v").await;
    let src = env.tree("s", 1);
    let item = env.item(&v, "s", "path", &src, "P").await;
    // A job held by a process of this host that no longer exists.
    let id = env
        .catalog
        .enqueue(&NewJob {
            vault_id: v.id,
            item_id: Some(item.id),
            job_type: JobType::Backup,
            slot_key: Some("2026-05-31T22:00".into()),
            params: json!({"slot": "2026-05-31T22:00"}),
            queued_at: env.clock.now(),
        })
        .await
        .unwrap()
        .unwrap();
    let dead = format!("{}:4000000:dead", lifeboat_store::util::hostname());
    env.catalog
        .claim_next(&dead, 3600, env.clock.now())
        .await
        .unwrap()
        .unwrap();
    let h = env.start().await;
    // No lease has lapsed, yet the job is settled at once.
    let j = env.wait_job(id).await;
    assert_eq!(j.state, JobStatus::Failed);
    assert_eq!(j.errors[0]["errorCode"], "SERVER_LOST");
    env.settle(&h).await;
    let p = env.points(&item).await;
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].slot_key.as_deref(), Some("2026-05-31T22:00"));
    h.shutdown(Duration::from_secs(10)).await;
}

both!(cancel_queued_and_running, "2026-06-01T00:00:00Z", |env| {
    let (v, item) = big_item(&env).await;
    // Queued: cancelled at once, never runs.
    let q = ops::enqueue_backup_now(&env.catalog, env.clock.as_ref(), &item, None)
        .await
        .unwrap();
    let c = ops::cancel_job(&env.catalog, env.clock.as_ref(), q.id)
        .await
        .unwrap();
    assert_eq!(c.state, JobStatus::Cancelled);
    let e = ops::cancel_job(&env.catalog, env.clock.as_ref(), q.id)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_JOB_STATE");
    // Running: stops at its next safe point; no point is kept.
    let h = env.start().await;
    let r = ops::enqueue_backup_now(&env.catalog, env.clock.as_ref(), &item, None)
        .await
        .unwrap();
    h.wake();
    transferring(&env, r.id).await;
    // The transfer of 48 MiB is under way: the cancel lands during it.
    let c = ops::cancel_job(&env.catalog, env.clock.as_ref(), r.id)
        .await
        .unwrap();
    assert_eq!(c.state, JobStatus::Cancelling);
    let j = env.wait_job(r.id).await;
    assert_eq!(j.state, JobStatus::Cancelled, "{j:?}");
    assert_eq!(j.tasks[1]["status"], "Cancelled");
    assert!(env.points(&item).await.is_empty());
    let n = env.store_point_ids(v.id).await.len();
    assert_eq!(n, 0, "the cancelled backup's point was forgotten");
    h.shutdown(Duration::from_secs(10)).await;
});

both!(
    delete_data_removes_points_then_item,
    "2026-06-01T00:00:00Z",
    |env| {
        let v = env.vault("v").await;
        // Soft delete off: delete-data deletes at once (tests/soft_delete.rs
        // covers it on, the default).
        lifeboat_service::protect::update_security(
            &env.catalog,
            env.clock.as_ref(),
            &env.storage(),
            &v,
            &lifeboat_service::protect::SecurityUpdate {
                soft_delete_state: Some(lifeboat_model::vault::SoftDeleteState::Disabled),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        env.policy(&v, "P", daily_policy("UTC", "22:00", 30)).await;
        let src = env.tree("s", 1);
        let item = env.item(&v, "s", "path", &src, "P").await;
        let h = env.start().await;
        for _ in 0..2 {
            env.backup_now(&h, &item).await;
        }
        let e = ops::delete_vault(&env.catalog, env.clock.as_ref(), h.storage(), &v)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "VAULT_NOT_EMPTY");
        let stop = ops::stop_protection(
            &env.catalog,
            env.clock.as_ref(),
            &item,
            lifeboat_model::item::StopMode::DeleteData,
        )
        .await
        .unwrap();
        let job = stop.job.unwrap();
        assert_eq!(job.job_type, JobType::DeleteBackupData);
        h.wake();
        let done = env.wait_job(job.id).await;
        assert_eq!(done.state, JobStatus::Completed, "{done:?}");
        assert!(env.catalog.get_item_by_id(item.id).await.is_err());
        env.settle(&h).await;
        let n = env.store_point_ids(v.id).await.len();
        assert_eq!(n, 0);
        ops::delete_vault(&env.catalog, env.clock.as_ref(), h.storage(), &v)
            .await
            .unwrap();
        assert!(!env.storage().exists(v.id));
        assert!(!env.storage().key_path(v.id).exists());
        h.shutdown(Duration::from_secs(10)).await;
    }
);

both!(
    a_burst_of_due_items_is_queued_once_and_none_starts,
    "2026-06-01T12:00:00Z",
    |env| {
        // Many items due at the same 22:00: two planning-only servers queue
        // each slot exactly once, in batches, and start none of them.
        let v = env.vault("many").await;
        env.policy(&v, "DefaultPolicy", daily_policy("UTC", "22:00", 30))
            .await;
        let n = 1200;
        for i in 0..n {
            env.item(
                &v,
                &format!("item{i:05}"),
                "path",
                std::path::Path::new("/nonexistent"),
                "DefaultPolicy",
            )
            .await;
        }
        let mut cfg = env.config();
        cfg.max_concurrent_jobs = 0;
        let a = env.start_with(cfg.clone()).await;
        cfg.worker_id = lifeboat_service::ServiceConfig::default_worker_id();
        let b = env.start_with(cfg).await;
        env.clock.set(utc("2026-06-01T22:00:05Z"));
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let queued = env
                .catalog
                .job_counts()
                .await
                .unwrap()
                .into_iter()
                .find(|(s, _)| s.parse::<JobStatus>() == Ok(JobStatus::Queued))
                .map(|(_, c)| c)
                .unwrap_or(0);
            let planned = env
                .catalog
                .due_items(env.clock.now(), 10)
                .await
                .unwrap()
                .is_empty();
            if planned && queued >= n {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "planning did not finish"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let jobs = env.jobs_of_type("Backup", None).await;
        assert_eq!(jobs.len() as i64, n);
        let items: std::collections::HashSet<_> = jobs.iter().map(|j| j.item_id).collect();
        assert_eq!(items.len() as i64, n);
        assert!(jobs.iter().all(|j| j.state == JobStatus::Queued
            && j.slot_key.as_deref() == Some("2026-06-01T22:00")
            && j.queued_at == utc("2026-06-01T22:00:00Z")));
        assert_eq!(a.stats().running_jobs + b.stats().running_jobs, 0);
        assert_eq!(a.stats().slots_queued + b.stats().slots_queued, n as u64);
        // Every item's next run moved to the next day.
        let it = env.catalog.get_item(v.id, "item00000").await.unwrap();
        assert_eq!(it.next_run, Some(utc("2026-06-02T22:00:00Z")));
        a.shutdown(Duration::from_secs(5)).await;
        b.shutdown(Duration::from_secs(5)).await;
    }
);

both!(
    shutdown_puts_a_running_backup_back_in_the_queue,
    "2026-06-01T00:00:00Z",
    |env| {
        let (_, item) = big_item(&env).await;
        let h = env.start().await;
        let job = ops::enqueue_backup_now(&env.catalog, env.clock.as_ref(), &item, None)
            .await
            .unwrap();
        h.wake();
        transferring(&env, job.id).await;
        // No grace: the running transfer is given up and the job re-queued.
        h.shutdown(Duration::ZERO).await;
        let j = env.catalog.get_job(job.id).await.unwrap();
        assert_eq!(j.state, JobStatus::Queued, "{j:?}");
        assert_eq!(j.owner, None);
        assert_eq!(j.warnings[0]["errorCode"], "SERVER_SHUTDOWN");
        // The next server runs it to the end.
        let h2 = env.start().await;
        let j = env.wait_job(job.id).await;
        assert_eq!(j.state, JobStatus::CompletedWithWarnings, "{j:?}");
        assert_eq!(j.attempt, 2);
        assert!(!env.points(&item).await.is_empty());
        h2.shutdown(Duration::from_secs(10)).await;
    }
);
