//! Test harness: a fresh catalog per test (a SQLite file, or a PostgreSQL
//! database of its own, dropped afterwards), a data folder, a manual
//! clock, and helpers to create vaults, policies and items the way the API
//! does, and to wait until the service has caught up with the clock.

#![allow(dead_code)]

use lifeboat_model::item::HealthStatus;
use lifeboat_model::item::ProtectionState;
use lifeboat_model::job::JobStatus;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use lifeboat_catalog::{
    Catalog, Item, Job, JobFilter, JobId, NewItem, NewVault, Page, Point, PointFilter, Vault,
    VaultId,
};
use lifeboat_service::{
    Clock, ManualClock, RestoreRequest, Service, ServiceConfig, ServiceHandle, VaultStorage, ops,
};
use lifeboat_testkit::pg::ScratchDb;
use serde_json::{Value, json};

/// Cheap key derivation for every store these tests create.
pub fn cheap_kdf() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: runs once, before any test of this binary reads the
        // environment (every test calls it first).
        unsafe {
            std::env::set_var("LIFEBOAT_KDF_M_KIB", "1024");
            std::env::set_var("LIFEBOAT_KDF_T", "1");
        }
    });
}

pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

enum Cleanup {
    Sqlite,
    Postgres(#[allow(dead_code)] ScratchDb),
}

pub struct Env {
    pub catalog: Catalog,
    pub url: String,
    pub dir: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    cleanup: Cleanup,
}

impl Env {
    pub async fn sqlite(start: DateTime<Utc>) -> Env {
        cheap_kdf();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/catalog.db?mode=rwc", dir.path().display());
        let catalog = Catalog::connect(&url).await.expect("open SQLite catalog");
        Env {
            catalog,
            url,
            dir,
            clock: Arc::new(ManualClock::new(start)),
            cleanup: Cleanup::Sqlite,
        }
    }

    pub async fn postgres(start: DateTime<Utc>) -> Env {
        cheap_kdf();
        let db = ScratchDb::create("lifeboat_svc_test").await;
        let url = db.url.clone();
        let cleanup = Cleanup::Postgres(db);
        let catalog = Catalog::connect(&url)
            .await
            .expect("open PostgreSQL catalog");
        Env {
            catalog,
            url,
            dir: tempfile::tempdir().unwrap(),
            clock: Arc::new(ManualClock::new(start)),
            cleanup,
        }
    }

    pub fn data(&self) -> &Path {
        self.dir.path()
    }

    pub fn storage(&self) -> VaultStorage {
        VaultStorage::new(self.data().join("data"))
    }

    pub fn config(&self) -> ServiceConfig {
        let mut cfg = ServiceConfig::new(self.data().join("data"));
        cfg.tick = Duration::from_millis(20);
        cfg.max_concurrent_jobs = 2;
        cfg
    }

    pub async fn start(&self) -> ServiceHandle {
        self.start_with(self.config()).await
    }

    pub async fn start_with(&self, cfg: ServiceConfig) -> ServiceHandle {
        Service::start(self.catalog.clone(), cfg, self.clock.clone())
            .await
            .expect("start service")
    }

    /// A vault with storage; `DefaultPolicy` in `tz` when asked.
    pub async fn vault(&self, name: &str) -> Vault {
        let v = self
            .catalog
            .create_vault(&NewVault {
                name: name.into(),
                kind: "recovery-services".into(),
                redundancy: "LocallyRedundant".into(),
                settings: json!({}),
                created: self.clock.now(),
            })
            .await
            .unwrap();
        self.storage().create_async(v.id).await.unwrap();
        v
    }

    pub async fn policy(&self, v: &Vault, name: &str, doc: Value) {
        ops::resolve_policy(&doc).expect("test policy validates");
        self.catalog
            .create_policy(v.id, name, &doc, self.clock.now())
            .await
            .unwrap();
    }

    /// Protects `source` as the API does: Protected, next run planned.
    pub async fn item(
        &self,
        v: &Vault,
        name: &str,
        workload: &str,
        source: &Path,
        policy: &str,
    ) -> Item {
        let p = self.catalog.get_policy(v.id, policy).await.unwrap();
        let vp = ops::resolve_policy(&p.document).unwrap();
        self.catalog
            .create_item(&NewItem {
                vault_id: v.id,
                name: name.into(),
                source: lifeboat_model::source::Source::new(
                    lifeboat_model::item::WorkloadKind::parse(workload).unwrap(),
                    source,
                ),
                policy_name: Some(policy.into()),
                state: ProtectionState::Protected,
                health: HealthStatus::Passed,
                settings: json!({}),
                next_run: ops::next_run(&vp, self.clock.now()),
                created: self.clock.now(),
            })
            .await
            .unwrap()
    }

    pub async fn active_jobs(&self) -> i64 {
        self.catalog
            .job_counts()
            .await
            .unwrap()
            .into_iter()
            .filter(|(s, _)| s.parse::<JobStatus>().is_ok_and(|s| !s.is_terminal()))
            .map(|(_, n)| n)
            .sum()
    }

    /// Waits until the service's scheduler has ticked at the current clock
    /// time and every job has ended.
    pub async fn settle(&self, h: &ServiceHandle) {
        let now = self.clock.now();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let ticked = h.stats().last_tick.is_some_and(|t| t >= now);
            if ticked && self.active_jobs().await == 0 {
                // One more tick: anything it queues is waited for too.
                let t = h.stats().scheduler_ticks;
                while h.stats().scheduler_ticks <= t + 1 && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                if self.active_jobs().await == 0 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the service did not settle at {now}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Sets the clock to `t` and waits until the service has caught up.
    pub async fn settle_at(&self, h: &ServiceHandle, t: DateTime<Utc>) {
        self.clock.set(t);
        self.settle(h).await;
    }

    /// Waits (real time) until job `id` has ended.
    pub async fn wait_job(&self, id: JobId) -> Job {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let j = self.catalog.get_job(id).await.unwrap();
            if j.state.is_terminal() {
                return j;
            }
            assert!(Instant::now() < deadline, "job {id} did not end: {j:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn jobs(&self, f: JobFilter) -> Vec<Job> {
        let mut out = Vec::new();
        let mut page = Page::first(1000);
        loop {
            let p = self.catalog.list_jobs(&f, &page).await.unwrap();
            out.extend(p.items);
            match p.next_cursor {
                Some(c) => page = Page::after(1000, Some(c)),
                None => return out,
            }
        }
    }

    /// `make_tree` at `<data>/<dir>` with `seed`.
    pub fn tree(&self, dir: &str, seed: u64) -> PathBuf {
        let src = self.data().join(dir);
        make_tree(&src, seed);
        src
    }

    /// A vault with policy `P`: daily at 22:00 UTC, points kept 30 days.
    pub async fn daily_vault(&self, name: &str) -> Vault {
        let v = self.vault(name).await;
        self.policy(&v, "P", daily_policy("UTC", "22:00", 30)).await;
        v
    }

    /// A [`Env::tree`] protected as path item `item` under `P` of a new
    /// [`Env::daily_vault`] `vault`.
    pub async fn protected_tree(
        &self,
        dir: &str,
        seed: u64,
        vault: &str,
        item: &str,
    ) -> (PathBuf, Vault, Item) {
        let src = self.tree(dir, seed);
        let v = self.daily_vault(vault).await;
        let it = self.item(&v, item, "path", &src, "P").await;
        (src, v, it)
    }

    /// Queues an on-demand backup of `item`, runs it to the end and
    /// asserts it completed; the job and the item's newest point.
    pub async fn backup_now(&self, h: &ServiceHandle, item: &Item) -> (Job, Point) {
        let job = ops::enqueue_backup_now(&self.catalog, self.clock.as_ref(), item, None)
            .await
            .unwrap();
        h.wake();
        let done = self.wait_job(job.id).await;
        assert_eq!(done.state, JobStatus::Completed, "{done:?}");
        let point = self.points(item).await.pop().unwrap();
        (done, point)
    }

    /// Queues a restore of `item` and waits until it has ended.
    pub async fn restore(&self, h: &ServiceHandle, item: &Item, req: &RestoreRequest) -> Job {
        let job = ops::enqueue_restore(&self.catalog, self.clock.as_ref(), item, req)
            .await
            .unwrap();
        h.wake();
        self.wait_job(job.id).await
    }

    /// Replaces policy `name` of `v` with `doc` as the API does: the new
    /// document is stored and the points it governs are re-tagged.
    pub async fn replace_policy(&self, v: &Vault, name: &str, doc: Value) -> ops::RetagSummary {
        let old = self.catalog.get_policy(v.id, name).await.unwrap();
        let old = ops::resolve_policy(&old.document).unwrap();
        let new = ops::resolve_policy(&doc).unwrap();
        self.catalog
            .update_policy(v.id, name, &doc, self.clock.now())
            .await
            .unwrap();
        ops::policy_replaced(&self.catalog, self.clock.as_ref(), v.id, name, &old, &new)
            .await
            .unwrap()
    }

    /// The ids (hex) of the points the vault's store holds.
    pub async fn store_point_ids(&self, vault: VaultId) -> Vec<String> {
        let store = self.storage().open_async(vault).await.unwrap();
        tokio::task::spawn_blocking(move || store.point_ids().unwrap())
            .await
            .unwrap()
            .iter()
            .map(|id| id.to_hex())
            .collect()
    }

    /// Jobs of `job_type`, of `item` only when given, newest first.
    pub async fn jobs_of_type(&self, job_type: &str, item: Option<&Item>) -> Vec<Job> {
        self.jobs(JobFilter {
            item_id: item.map(|i| i.id),
            job_type: Some(job_type.parse().expect("a job type")),
            ..JobFilter::default()
        })
        .await
    }

    /// Jobs of `job_type` for vault `v`, newest first.
    pub async fn vault_jobs(&self, v: &Vault, job_type: &str) -> Vec<Job> {
        self.jobs(JobFilter {
            vault_id: Some(v.id),
            job_type: Some(job_type.parse().expect("a job type")),
            ..JobFilter::default()
        })
        .await
    }

    /// An item's points, oldest first.
    pub async fn points(&self, item: &Item) -> Vec<Point> {
        let mut p = self
            .catalog
            .list_points(item.id, &PointFilter::default(), &Page::first(1000))
            .await
            .unwrap()
            .items;
        p.reverse();
        p
    }
}

/// A policy JSON: V1 daily at `time` in `tz`, daily points kept `days`.
pub fn daily_policy(tz: &str, time: &str, days: i64) -> Value {
    json!({
        "policyType": "V1", "timeZone": tz, "instantRpRetentionRangeInDays": 2,
        "schedulePolicy": {"schedulePolicyType": "SimpleSchedulePolicy",
            "scheduleRunFrequency": "Daily", "scheduleRunTimes": [time]},
        "retentionPolicy": {"retentionPolicyType": "LongTermRetentionPolicy",
            "dailySchedule": {"retentionDuration": {"count": days, "durationType": "Days"}}}
    })
}

/// A policy JSON: V2 every `interval` hours from `start` for 24 h in `tz`.
pub fn hourly_policy(tz: &str, interval: i64, start: &str, days: i64, instant_days: i64) -> Value {
    json!({
        "policyType": "V2", "timeZone": tz, "instantRpRetentionRangeInDays": instant_days,
        "schedulePolicy": {"schedulePolicyType": "SimpleSchedulePolicyV2",
            "scheduleRunFrequency": "Hourly",
            "hourlySchedule": {"interval": interval, "scheduleWindowStartTime": start,
                               "scheduleWindowDuration": 24}},
        "retentionPolicy": {"retentionPolicyType": "LongTermRetentionPolicy",
            "dailySchedule": {"retentionDuration": {"count": days, "durationType": "Days"}}}
    })
}

/// A restore request for `point` to `target` (`original` for the item's
/// own source).
pub fn restore_req(
    point: &str,
    target: &str,
    conflict: Option<&str>,
    include: &[&str],
) -> RestoreRequest {
    RestoreRequest {
        point: point.into(),
        target: target.into(),
        conflict: conflict.map(str::to_string),
        include: include.iter().map(|s| s.to_string()).collect(),
        format: None,
    }
}

/// A folder with a few files of known content.
pub fn make_tree(root: &Path, seed: u64) {
    std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
    std::fs::write(root.join("a.txt"), format!("alpha {seed}\n")).unwrap();
    std::fs::write(root.join("sub/b.bin"), pseudo_random(200_000, seed)).unwrap();
    std::fs::write(root.join("sub/deeper/c.txt"), "gamma\n".repeat(1000)).unwrap();
}

/// Deterministic bytes that do not compress.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Every file under `root` as (relative path, bytes), sorted.
pub fn snapshot(root: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                walk(base, &p, out);
            } else if ft.is_file() {
                let rel = p.strip_prefix(base).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// Declares a test run once on SQLite and once on PostgreSQL, as
/// `NAME::sqlite` and `NAME::postgres`; the body gets `env: Env`.
#[macro_export]
macro_rules! both {
    ($name:ident, $start:expr, |$env:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let $env = $crate::support::Env::sqlite($crate::support::utc($start)).await;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let $env = $crate::support::Env::postgres($crate::support::utc($start)).await;
                $body
            }
        }
    };
}
