//! The job queue and job records.
//!
//! A job is `Queued` until a worker claims it (`InProgress`, with an owner
//! and a lease; `Cancelling` once a user asked to cancel it), then ends in
//! a terminal status (`JobStatus::is_terminal`). Every update by a worker
//! names its owner id and fails with `LEASE_LOST` once another server has
//! taken the job over. Rows carry the model's `JobType` and `JobStatus` by
//! their wire names (`lifeboat_model::names`); state names in SQL are
//! literals of those names, which the tests check through the states they
//! read back. A server claims only the job types it knows, so a row a
//! newer server queued waits for a server that can run it.

use std::collections::HashMap;
use std::sync::LazyLock;

use lifeboat_model::job::{JobStatus, JobType};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use crate::error::{Entity, Result, is_fk_violation};
use crate::types::{
    ItemId, Job, JobFilter, JobId, JobOutcome, NewJob, Page, Paged, ReclaimedJob, Renewed, VaultId,
    cursor, paginate, ts,
};
use crate::{BeginWrite, Catalog, CatalogError, Dialect, with_pool};

/// The claim statement: the oldest runnable queued job of a type this
/// binary knows. `lock` is PostgreSQL's row lock clause.
fn claim_sql(lock: &str) -> String {
    let known: Vec<String> = JobType::ALL
        .iter()
        .map(|t| format!("'{}'", t.as_str()))
        .collect();
    format!(
        "UPDATE jobs
    SET state = 'InProgress', owner = $1, lease_until = $2, start_time = $3, attempt = attempt + 1
    WHERE id = (SELECT id FROM jobs WHERE state = 'Queued' AND queued_at <= $3
                AND job_type IN ({})
                ORDER BY queued_at, id LIMIT 1{lock})
      AND state = 'Queued'
    RETURNING *",
        known.join(", ")
    )
}

static CLAIM_SQLITE: LazyLock<String> = LazyLock::new(|| claim_sql(""));
static CLAIM_POSTGRES: LazyLock<String> = LazyLock::new(|| claim_sql(" FOR UPDATE SKIP LOCKED"));

const LAPSED_SQLITE: &str = "SELECT id, owner FROM jobs
    WHERE state IN ('InProgress', 'Cancelling') AND lease_until < $1
    ORDER BY lease_until, id LIMIT $2";

const LAPSED_POSTGRES: &str = "SELECT id, owner FROM jobs
    WHERE state IN ('InProgress', 'Cancelling') AND lease_until < $1
    ORDER BY lease_until, id LIMIT $2
    FOR UPDATE SKIP LOCKED";

fn lease_end(now: DateTime<Utc>, lease_secs: i64) -> DateTime<Utc> {
    now + TimeDelta::seconds(lease_secs.max(1))
}

impl Catalog {
    /// Adds a job to the queue. Returns `None`, and adds nothing, when the
    /// item already has a job for `slot_key`: however many schedulers plan
    /// one slot, one job exists. The same holds for a vault-wide
    /// `ExpirySweep` or `GarbageCollection` job (no item) and its slot in
    /// its vault. Jobs without a slot are always added.
    pub async fn enqueue(&self, job: &NewJob) -> Result<Option<JobId>> {
        let r: Result<Option<JobId>, sqlx::Error> = with_pool!(self, |pool, dialect| {
            sqlx::query_scalar(
                "INSERT INTO jobs (vault_id, item_id, job_type, state, slot_key, queued_at, params)
                 VALUES ($1, $2, $3, 'Queued', $4, $5, $6)
                 ON CONFLICT DO NOTHING
                 RETURNING id",
            )
            .bind(job.vault_id)
            .bind(job.item_id)
            .bind(job.job_type.as_str())
            .bind(&job.slot_key)
            .bind(ts(job.queued_at))
            .bind(&job.params)
            .fetch_optional(pool)
            .await
        });
        match r {
            Ok(id) => Ok(id),
            Err(e) if is_fk_violation(&e) => {
                self.get_vault_by_id(job.vault_id).await?;
                Err(CatalogError::not_found(
                    Entity::Item,
                    job.item_id.map(|i| i.to_string()).unwrap_or_default(),
                ))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_job(&self, id: JobId) -> Result<Job> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as("SELECT * FROM jobs WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| CatalogError::not_found(Entity::Job, id))
        })
    }

    /// Takes the oldest runnable queued job (queued at or before `now`) for
    /// `owner`, with a lease of `lease_secs`. Two callers never get the same
    /// job: PostgreSQL locks the row (`FOR UPDATE SKIP LOCKED`, so claimers
    /// do not wait on each other), SQLite serializes writers.
    pub async fn claim_next(
        &self,
        owner: &str,
        lease_secs: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<Job>> {
        with_pool!(self, |pool, dialect| {
            let sql = match dialect {
                Dialect::Sqlite => CLAIM_SQLITE.as_str(),
                Dialect::Postgres => CLAIM_POSTGRES.as_str(),
            };
            let mut tx = pool.begin_write().await?;
            let job = sqlx::query_as(sql)
                .bind(owner)
                .bind(ts(lease_end(now, lease_secs)))
                .bind(ts(now))
                .fetch_optional(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(job)
        })
    }

    /// Extends `owner`'s leases on `ids` to `now + lease_secs`. Returns the
    /// jobs still held (a job missing from the answer was lost or ended:
    /// stop working on it), each with its cancel flag.
    pub async fn renew(
        &self,
        owner: &str,
        ids: &[JobId],
        lease_secs: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<Renewed>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        with_pool!(self, |pool, dialect| {
            let mut q = sqlx::QueryBuilder::new("UPDATE jobs SET lease_until = ");
            q.push_bind(ts(lease_end(now, lease_secs)))
                .push(" WHERE state IN ('InProgress', 'Cancelling') AND owner = ")
                .push_bind(owner)
                .push(" AND id IN (");
            let mut list = q.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            q.push(") RETURNING id, cancel_requested");
            Ok(q.build_query_as().fetch_all(pool).await?)
        })
    }

    /// Takes over in-progress jobs whose lease lapsed before `now` (their
    /// server died or hung), at most `limit` of them: each is handed to
    /// exactly one caller, which becomes its owner with a fresh lease and
    /// then marks it Failed (`SERVER_LOST`, [`Catalog::finish_job`]) or puts
    /// it back in the queue ([`Catalog::requeue_job`]).
    pub async fn reclaim_expired(
        &self,
        owner: &str,
        lease_secs: i64,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ReclaimedJob>> {
        with_pool!(self, |pool, dialect| {
            let sql = match dialect {
                Dialect::Sqlite => LAPSED_SQLITE,
                Dialect::Postgres => LAPSED_POSTGRES,
            };
            let mut tx = pool.begin_write().await?;
            let lapsed: Vec<(JobId, Option<String>)> = sqlx::query_as(sql)
                .bind(ts(now))
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
            if lapsed.is_empty() {
                tx.commit().await?;
                return Ok(Vec::new());
            }
            let mut q = sqlx::QueryBuilder::new("UPDATE jobs SET owner = ");
            q.push_bind(owner)
                .push(", lease_until = ")
                .push_bind(ts(lease_end(now, lease_secs)))
                .push(" WHERE state IN ('InProgress', 'Cancelling') AND id IN (");
            let mut list = q.separated(", ");
            for (id, _) in &lapsed {
                list.push_bind(*id);
            }
            q.push(") RETURNING *");
            let mut jobs: Vec<Job> = q.build_query_as().fetch_all(&mut *tx).await?;
            tx.commit().await?;
            jobs.sort_by_key(|j| j.id);
            let mut previous: HashMap<JobId, Option<String>> = lapsed.into_iter().collect();
            Ok(jobs
                .into_iter()
                .map(|job| ReclaimedJob {
                    previous_owner: previous.remove(&job.id).flatten(),
                    job,
                })
                .collect())
        })
    }

    /// The distinct owners of jobs held right now (a restarted server looks
    /// for its dead predecessors among them).
    pub async fn held_job_owners(&self) -> Result<Vec<String>> {
        with_pool!(self, |pool, dialect| {
            Ok(sqlx::query_scalar(
                "SELECT DISTINCT owner FROM jobs
                 WHERE state IN ('InProgress', 'Cancelling') AND owner IS NOT NULL
                 ORDER BY owner",
            )
            .fetch_all(pool)
            .await?)
        })
    }

    /// Takes over every job `dead` holds, whatever its lease says: for a
    /// caller that knows that server is gone (same host, its process no
    /// longer exists). Like [`Catalog::reclaim_expired`], each job goes to
    /// exactly one caller.
    pub async fn reclaim_from(
        &self,
        dead: &str,
        owner: &str,
        lease_secs: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<ReclaimedJob>> {
        let jobs: Vec<Job> = with_pool!(self, |pool, dialect| {
            let mut tx = pool.begin_write().await?;
            let jobs = sqlx::query_as(
                "UPDATE jobs SET owner = $2, lease_until = $3
                 WHERE owner = $1 AND state IN ('InProgress', 'Cancelling')
                 RETURNING *",
            )
            .bind(dead)
            .bind(owner)
            .bind(ts(lease_end(now, lease_secs)))
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            jobs
        });
        let mut jobs = jobs;
        jobs.sort_by_key(|j| j.id);
        Ok(jobs
            .into_iter()
            .map(|job| ReclaimedJob {
                job,
                previous_owner: Some(dead.to_string()),
            })
            .collect())
    }

    /// Cancels the item's jobs queued before `before` (job ids grow with
    /// time): queued ones end `Cancelled`, running ones are asked to stop.
    /// Returns how many of them are still held by a worker. Jobs queued
    /// later are left alone: a deletion must not end the backups of an item
    /// that was undeleted and resumed after the deletion was asked for.
    pub async fn cancel_item_jobs(
        &self,
        item_id: ItemId,
        before: JobId,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        with_pool!(self, |pool, dialect| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "UPDATE jobs SET
                    state = CASE WHEN state = 'Queued' THEN 'Cancelled' ELSE 'Cancelling' END,
                    end_time = CASE WHEN state = 'Queued' THEN $3 ELSE end_time END,
                    cancel_requested = TRUE
                 WHERE item_id = $1 AND id < $2
                   AND state IN ('Queued', 'InProgress', 'Cancelling')",
            )
            .bind(item_id)
            .bind(before)
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
            let held: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM jobs WHERE item_id = $1 AND id < $2
                   AND state IN ('InProgress', 'Cancelling')",
            )
            .bind(item_id)
            .bind(before)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(held)
        })
    }

    /// Records a running job's progress (and sub-tasks, when given).
    /// `LEASE_LOST` when `owner` no longer holds the job.
    pub async fn update_progress(
        &self,
        id: JobId,
        owner: &str,
        progress: &Value,
        tasks: Option<&Value>,
    ) -> Result<()> {
        let n = with_pool!(self, |pool, dialect| {
            sqlx::query(
                "UPDATE jobs SET progress = $3, tasks = COALESCE($4, tasks)
                 WHERE id = $1 AND owner = $2 AND state IN ('InProgress', 'Cancelling')",
            )
            .bind(id)
            .bind(owner)
            .bind(progress)
            .bind(tasks)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if n == 0 {
            return Err(self.lost(id, owner).await);
        }
        Ok(())
    }

    /// Ends a job its owner holds, in a terminal status.
    pub async fn finish_job(&self, id: JobId, owner: &str, out: &JobOutcome) -> Result<Job> {
        if !out.state.is_terminal() {
            return Err(CatalogError::invalid_state(
                Entity::Job,
                id,
                format!(
                    "'{}' is not a final state (use one of {})",
                    out.state,
                    JobStatus::ALL
                        .iter()
                        .filter(|s| s.is_terminal())
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let job: Option<Job> = with_pool!(self, |pool, dialect| {
            sqlx::query_as(
                "UPDATE jobs SET state = $3, end_time = $4, lease_until = NULL,
                    progress = COALESCE($5, progress), tasks = COALESCE($6, tasks),
                    warnings = $7, errors = $8
                 WHERE id = $1 AND owner = $2 AND state IN ('InProgress', 'Cancelling') RETURNING *",
            )
            .bind(id)
            .bind(owner)
            .bind(out.state.as_str())
            .bind(ts(out.end_time))
            .bind(out.progress.as_ref())
            .bind(out.tasks.as_ref())
            .bind(&out.warnings)
            .bind(&out.errors)
            .fetch_optional(pool)
            .await?
        });
        match job {
            Some(j) => Ok(j),
            None => Err(self.lost(id, owner).await),
        }
    }

    /// Puts a job its owner holds back in the queue, at its old place (it
    /// keeps `queued_at` and its attempt count). `warnings`, when given,
    /// replace the job's warnings (say why it was re-queued). A job someone
    /// asked to cancel is not re-queued (`INVALID_STATE`): finish it as
    /// `Cancelled`.
    pub async fn requeue_job(
        &self,
        id: JobId,
        owner: &str,
        warnings: Option<&Value>,
    ) -> Result<Job> {
        let job: Option<Job> = with_pool!(self, |pool, dialect| {
            sqlx::query_as(
                "UPDATE jobs SET state = 'Queued', owner = NULL, lease_until = NULL,
                    start_time = NULL, warnings = COALESCE($3, warnings)
                 WHERE id = $1 AND owner = $2 AND state = 'InProgress' AND NOT cancel_requested
                 RETURNING *",
            )
            .bind(id)
            .bind(owner)
            .bind(warnings)
            .fetch_optional(pool)
            .await?
        });
        match job {
            Some(j) => Ok(j),
            None => match self.get_job(id).await {
                Ok(j) if j.cancel_requested && j.owner.as_deref() == Some(owner) => {
                    Err(CatalogError::invalid_state(
                        Entity::Job,
                        id,
                        "cancellation was requested; finish the job as Cancelled".into(),
                    ))
                }
                _ => Err(self.lost(id, owner).await),
            },
        }
    }

    /// Cancels a job: a queued one ends `Cancelled` at once; a running one
    /// becomes `Cancelling` with its cancel flag set, which its worker sees
    /// when it renews (it then finishes the job as `Cancelled`). Cancelling
    /// again is harmless. `INVALID_STATE` for a job that already ended.
    /// (Whether a job type may be cancelled while running is the model's
    /// rule, checked by the caller.)
    pub async fn cancel_job(&self, id: JobId, now: DateTime<Utc>) -> Result<Job> {
        let job: Option<Job> = with_pool!(self, |pool, dialect| {
            sqlx::query_as(
                "UPDATE jobs SET
                    state = CASE WHEN state = 'Queued' THEN 'Cancelled' ELSE 'Cancelling' END,
                    end_time = CASE WHEN state = 'Queued' THEN $2 ELSE end_time END,
                    cancel_requested = TRUE
                 WHERE id = $1 AND state IN ('Queued', 'InProgress', 'Cancelling') RETURNING *",
            )
            .bind(id)
            .bind(ts(now))
            .fetch_optional(pool)
            .await?
        });
        match job {
            Some(j) => Ok(j),
            None => {
                let j = self.get_job(id).await?;
                Err(CatalogError::invalid_state(
                    Entity::Job,
                    id,
                    format!("the job already ended ({})", j.state),
                ))
            }
        }
    }

    /// Jobs newest first (by `queued_at`, then id), filtered, a page at a time.
    pub async fn list_jobs(&self, f: &JobFilter, page: &Page) -> Result<Paged<Job>> {
        self.list_jobs_within(f, None, page).await
    }

    /// [`Catalog::list_jobs`], optionally restricted to the jobs of `vaults`
    /// (which must not be empty).
    pub(crate) async fn list_jobs_within(
        &self,
        f: &JobFilter,
        vaults: Option<&[VaultId]>,
        page: &Page,
    ) -> Result<Paged<Job>> {
        let after = match &page.cursor {
            Some(c) => Some(cursor::decode_time(cursor::JOBS, c)?),
            None => None,
        };
        let size = page.size();
        let rows: Vec<Job> = with_pool!(self, |pool, dialect| {
            let mut q = sqlx::QueryBuilder::new("SELECT * FROM jobs WHERE 1 = 1");
            if let Some(vaults) = vaults {
                q.push(" AND vault_id IN (");
                let mut sep = q.separated(", ");
                for v in vaults {
                    sep.push_bind(*v);
                }
                q.push(")");
            }
            if let Some(v) = f.vault_id {
                q.push(" AND vault_id = ").push_bind(v);
            }
            if let Some(i) = f.item_id {
                q.push(" AND item_id = ").push_bind(i);
            }
            if let Some(s) = &f.state {
                q.push(" AND state = ").push_bind(s.as_str());
            }
            if let Some(t) = &f.job_type {
                q.push(" AND job_type = ").push_bind(t.as_str());
            }
            if let Some(from) = f.from {
                q.push(" AND queued_at >= ").push_bind(ts(from));
            }
            if let Some(to) = f.to {
                q.push(" AND queued_at < ").push_bind(ts(to));
            }
            if let Some((time, id)) = after {
                q.push(" AND (queued_at, id) < (")
                    .push_bind(ts(time))
                    .push(", ")
                    .push_bind(id)
                    .push(")");
            }
            q.push(" ORDER BY queued_at DESC, id DESC LIMIT ")
                .push_bind(size + 1);
            q.build_query_as().fetch_all(pool).await?
        });
        Ok(paginate(rows, size, |j| {
            cursor::encode_time(cursor::JOBS, j.queued_at, j.id.0)
        }))
    }

    /// How many jobs are in each state.
    pub async fn job_counts(&self) -> Result<Vec<(String, i64)>> {
        with_pool!(self, |pool, dialect| {
            Ok(
                sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state")
                    .fetch_all(pool)
                    .await?,
            )
        })
    }

    /// When the oldest queued job was queued (for the queue-age metric).
    pub async fn oldest_queued(&self) -> Result<Option<DateTime<Utc>>> {
        with_pool!(self, |pool, dialect| {
            Ok(
                sqlx::query_scalar("SELECT MIN(queued_at) FROM jobs WHERE state = 'Queued'")
                    .fetch_one(pool)
                    .await?,
            )
        })
    }

    /// The error for a worker update that matched no row.
    async fn lost(&self, id: JobId, owner: &str) -> CatalogError {
        match self.get_job(id).await {
            Ok(_) => CatalogError::LeaseLost {
                id: id.0,
                owner: owner.to_string(),
            },
            Err(e) => e,
        }
    }
}
