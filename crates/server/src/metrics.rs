//! `GET /metrics`: Prometheus text exposition (format 0.0.4), written by
//! hand — a dozen gauges and one counter do not need a metrics registry.
//! Catalog-wide numbers (jobs by state, queue age, bytes and items per
//! vault, age of every item's newest point) are read from the catalog at
//! scrape time, so every server of a cluster reports the same values;
//! scheduler lag, running jobs and request counts are this process's own.

use lifeboat_model::job::JobStatus;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::ApiResult;
use crate::state::AppState;

/// Requests answered, by route template and status code.
#[derive(Debug, Default)]
pub struct HttpCounters(Mutex<BTreeMap<(String, u16), u64>>);

impl HttpCounters {
    pub fn add(&self, route: &str, status: u16) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry((route.to_owned(), status)).or_insert(0) += 1;
    }

    pub fn snapshot(&self) -> Vec<((String, u16), u64)> {
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }
}

/// Middleware: counts every answered request under its route template
/// (`/api/v1/vaults/{vault}`), never the raw path, so names do not make
/// new series.
pub async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let resp = next.run(req).await;
    state.http.add(&route, resp.status().as_u16());
    resp
}

/// Escapes a label value.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Renders every metric.
pub async fn render(state: &AppState) -> ApiResult<String> {
    let now = state.now();
    let catalog = &state.catalog;
    let mut out = String::with_capacity(4096);

    header(
        &mut out,
        "lifeboat_jobs",
        "gauge",
        "Jobs in the catalog by state.",
    );
    let counts: BTreeMap<String, i64> = catalog.job_counts().await?.into_iter().collect();
    let order = JobStatus::by_stage();
    let states: Vec<&str> = order.iter().map(|s| s.as_str()).collect();
    for s in &states {
        let n = counts.get(*s).copied().unwrap_or(0);
        let _ = writeln!(out, "lifeboat_jobs{{state=\"{}\"}} {n}", label(s));
    }
    for (s, n) in &counts {
        if !states.contains(&s.as_str()) {
            let _ = writeln!(out, "lifeboat_jobs{{state=\"{}\"}} {n}", label(s));
        }
    }

    header(
        &mut out,
        "lifeboat_job_queue_age_seconds",
        "gauge",
        "How long the oldest queued job has waited (0 when none waits).",
    );
    let age = catalog
        .oldest_queued()
        .await?
        .map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
        .unwrap_or(0.0);
    let _ = writeln!(out, "lifeboat_job_queue_age_seconds {age}");

    let vaults = catalog.list_vaults().await?;
    let usages = catalog.vault_usages().await?;
    header(
        &mut out,
        "lifeboat_protected_bytes",
        "gauge",
        "Bytes a vault's recovery points hold in its store, after deduplication and compression.",
    );
    for v in &vaults {
        let u = usages.get(&v.id).map(|u| u.added_bytes).unwrap_or(0);
        let _ = writeln!(
            out,
            "lifeboat_protected_bytes{{vault=\"{}\"}} {u}",
            label(&v.name)
        );
    }
    header(
        &mut out,
        "lifeboat_logical_bytes",
        "gauge",
        "Sum of the sizes of a vault's recovery points, before deduplication.",
    );
    for v in &vaults {
        let u = usages.get(&v.id).map(|u| u.stored_bytes).unwrap_or(0);
        let _ = writeln!(
            out,
            "lifeboat_logical_bytes{{vault=\"{}\"}} {u}",
            label(&v.name)
        );
    }
    header(
        &mut out,
        "lifeboat_recovery_points",
        "gauge",
        "Recovery points per vault.",
    );
    for v in &vaults {
        let u = usages.get(&v.id).map(|u| u.points).unwrap_or(0);
        let _ = writeln!(
            out,
            "lifeboat_recovery_points{{vault=\"{}\"}} {u}",
            label(&v.name)
        );
    }

    header(
        &mut out,
        "lifeboat_items",
        "gauge",
        "Protected items per vault and protection state.",
    );
    for (vault, st, n) in catalog.item_state_counts().await? {
        let _ = writeln!(
            out,
            "lifeboat_items{{vault=\"{}\",state=\"{}\"}} {n}",
            label(&vault),
            label(&st)
        );
    }

    header(
        &mut out,
        "lifeboat_last_successful_backup_age_seconds",
        "gauge",
        "Age of each protected item's newest recovery point (items without one are absent).",
    );
    for lp in catalog.last_points().await? {
        if let Some(t) = lp.time {
            let age = (now - t).num_milliseconds().max(0) as f64 / 1000.0;
            let _ = writeln!(
                out,
                "lifeboat_last_successful_backup_age_seconds{{vault=\"{}\",item=\"{}\"}} {age}",
                label(&lp.vault),
                label(&lp.item)
            );
        }
    }

    let stats = state.service.stats();
    header(
        &mut out,
        "lifeboat_scheduler_lag_seconds",
        "gauge",
        "How far this server's scheduler is behind the clock at its last tick.",
    );
    let _ = writeln!(
        out,
        "lifeboat_scheduler_lag_seconds {}",
        stats.scheduler_lag_seconds
    );
    header(
        &mut out,
        "lifeboat_running_jobs",
        "gauge",
        "Jobs this server is running now.",
    );
    let _ = writeln!(out, "lifeboat_running_jobs {}", stats.running_jobs);

    header(
        &mut out,
        "lifeboat_http_requests_total",
        "counter",
        "HTTP requests this server answered, by route and status.",
    );
    for ((route, status), n) in state.http.snapshot() {
        let _ = writeln!(
            out,
            "lifeboat_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
            label(&route)
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn counters_accumulate() {
        let c = HttpCounters::default();
        c.add("/a", 200);
        c.add("/a", 200);
        c.add("/a", 404);
        assert_eq!(
            c.snapshot(),
            vec![(("/a".into(), 200), 2), (("/a".into(), 404), 1)]
        );
    }
}
