//! A soft-deleted item that is undeleted, resumed and backed up before the
//! deletion's job runs keeps its new backup: the `DeleteBackupData` job
//! ends only the jobs queued before it (SQLite and PostgreSQL).

mod support;

use lifeboat_catalog::Item;
use lifeboat_model::item::ProtectionState;
use lifeboat_model::item::StopMode;
use lifeboat_model::job::JobStatus;
use lifeboat_service::{ops, protect};
use support::{Env, daily_policy, make_tree, utc};

async fn undelete_and_back_up_before_the_deletion_runs(env: Env) {
    let src = env.data().join("src");
    make_tree(&src, 11);
    let v = env.vault("v").await;
    env.policy(&v, "daily", daily_policy("UTC", "22:00", 30))
        .await;
    let it: Item = env.item(&v, "files", "path", &src, "daily").await;

    // Stop with delete-data: soft delete is on by default, so the item is
    // soft-deleted and a DeleteBackupData job is queued. No service runs
    // yet, so nothing of it has run.
    let stopped = ops::stop_protection(&env.catalog, env.clock.as_ref(), &it, StopMode::DeleteData)
        .await
        .unwrap();
    let deletion = stopped.job.expect("a DeleteBackupData job");
    assert_eq!(stopped.item.state, ProtectionState::SoftDeleted);
    // The operator changes their mind at once: undelete, resume, back up.
    let back = protect::undelete_item(&env.catalog, env.clock.as_ref(), &stopped.item)
        .await
        .unwrap();
    let (resumed, _) = ops::resume_protection(&env.catalog, env.clock.as_ref(), &back, "daily")
        .await
        .unwrap();
    assert_eq!(resumed.state, ProtectionState::Protected);
    let late = ops::enqueue_backup_now(&env.catalog, env.clock.as_ref(), &resumed, None)
        .await
        .unwrap();
    assert!(late.id > deletion.id);

    // One job at a time, claimed in queue order: the deletion runs first,
    // while the new backup still waits in the queue.
    let mut cfg = env.config();
    cfg.max_concurrent_jobs = 1;
    let h = env.start_with(cfg).await;
    h.wake();
    let deletion = env.wait_job(deletion.id).await;
    assert_eq!(deletion.state, JobStatus::Completed, "{deletion:?}");
    let late = env.wait_job(late.id).await;
    assert_eq!(late.state, JobStatus::Completed, "{late:?}");

    let item = env.catalog.get_item_by_id(it.id).await.unwrap();
    assert_eq!(item.state, ProtectionState::Protected, "{item:?}");
    assert_eq!(env.points(&item).await.len(), 1, "the new backup's point");
    h.shutdown(std::time::Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    undelete_and_back_up_before_the_deletion_runs(Env::sqlite(utc("2026-05-01T08:00:00Z")).await)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    undelete_and_back_up_before_the_deletion_runs(Env::postgres(utc("2026-05-01T08:00:00Z")).await)
        .await;
}
