//! Times the real scheduler planning one day of backup slots for every
//! item of a catalog (the catalog benchmark, bench/catalog, runs it on a
//! catalog seeded by `lifeboat-catalog`'s `seed_scale` example).
//!
//! ```text
//! cargo run --release -p lifeboat-service --example plan_day -- CATALOG_URL \
//!     [--from RFC3339] [--hours 24] [--tick-ms 1]
//! ```
//!
//! The scheduler's planning pass (`scheduler::tick`) is private to the
//! crate; its public way in is [`Service::start`], which runs it in a loop
//! on the service's [`Clock`]. So this starts the real service with a
//! [`ManualClock`] at `--from` (default: one second before the earliest
//! `next_run`) and **no job slots** (`max_concurrent_jobs = 0`: the runner
//! claims nothing, so no backup starts; it still wakes on every queued job
//! and looks for lapsed leases, as in a real server), then moves the clock
//! from one due instant to the next (the earliest `next_run` in the
//! catalog) until `--hours` have passed, waiting each time for the
//! scheduler to complete a tick at the new time. The reported `seconds` is
//! the sum, over those steps, of the real time from moving the clock to
//! seeing that tick complete. It includes up to one scheduler sleep
//! (`--tick-ms`) and one poll (1 ms) per step; `overheadBoundSeconds` says
//! how much that can be at most.
//!
//! Afterwards it counts the scheduled `Backup` jobs queued for the day and
//! compares them with the slots the model says the items' policies have
//! in that day (`expectedSlots`). It prints one JSON object on stdout.
//! Run it once per seeded catalog: it moves the items' watermarks.

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat_catalog::{Catalog, Dialect, JobFilter, Page};
use lifeboat_model::schedule;
use lifeboat_service::{Clock, ManualClock, Service, ServiceConfig, ops};
use serde_json::json;

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// Times the scheduler planning a day of a seeded catalog.
#[derive(clap::Parser)]
struct Args {
    /// The seeded catalog (SQLite or PostgreSQL URL).
    url: String,
    /// Where the day starts (RFC 3339) [default: one second before the earliest next run].
    #[arg(long, value_parser = rfc3339)]
    from: Option<DateTime<Utc>>,
    /// Hours to plan.
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(i64).range(1..))]
    hours: i64,
    /// The scheduler's sleep between ticks, in milliseconds.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    tick_ms: u64,
}

fn rfc3339(v: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{v:?}: {e}"))
}

/// The earliest `next_run` at or before `until`, if any.
async fn earliest_due(catalog: &Catalog, until: DateTime<Utc>) -> Res<Option<DateTime<Utc>>> {
    Ok(catalog
        .due_items(until, 1)
        .await?
        .first()
        .and_then(|i| i.next_run))
}

/// How many slots the items' policies have in `(from, to]`: what a day of
/// planning should queue (each item is planned from its watermark, which
/// the seed set to its first slot after `from`).
async fn expected_slots(catalog: &Catalog, from: DateTime<Utc>, to: DateTime<Utc>) -> Res<u64> {
    let mut n = 0u64;
    for v in catalog.list_vaults().await? {
        let mut policies = std::collections::HashMap::new();
        for p in catalog.list_policies(v.id).await? {
            policies.insert(p.name.clone(), ops::resolve_policy(&p.document)?);
        }
        let mut page = Page::first(1000);
        loop {
            let items = catalog.list_items(v.id, &page).await?;
            for item in &items.items {
                let Some(p) = item.policy_name.as_ref().and_then(|n| policies.get(n)) else {
                    continue;
                };
                if item.next_run.is_some_and(|t| t > from) {
                    n += schedule::slots(p, from, to).len() as u64;
                }
            }
            match items.next_cursor {
                Some(c) => page = Page::after(1000, Some(c)),
                None => break,
            }
        }
    }
    Ok(n)
}

/// Scheduled backup jobs queued for slots in `[from, to]`.
async fn queued_backups(catalog: &Catalog, from: DateTime<Utc>, to: DateTime<Utc>) -> Res<u64> {
    let filter = JobFilter {
        job_type: Some(lifeboat_model::job::JobType::Backup),
        from: Some(from),
        to: Some(to + TimeDelta::microseconds(1)),
        ..Default::default()
    };
    let mut n = 0u64;
    let mut page = Page::first(1000);
    loop {
        let jobs = catalog.list_jobs(&filter, &page).await?;
        n += jobs.items.iter().filter(|j| j.slot_key.is_some()).count() as u64;
        match jobs.next_cursor {
            Some(c) => page = Page::after(1000, Some(c)),
            None => break,
        }
    }
    Ok(n)
}

async fn run(a: &Args) -> Res<serde_json::Value> {
    let catalog = Catalog::connect(&a.url).await?;
    let far = Utc::now() + TimeDelta::days(3650);
    let from = match a.from {
        Some(f) => f,
        None => match earliest_due(&catalog, far).await? {
            Some(t) => t - TimeDelta::seconds(1),
            None => return Err("no item has a next run: seed the catalog first".into()),
        },
    };
    let to = from + TimeDelta::hours(a.hours);
    let expected = expected_slots(&catalog, from, to).await?;

    let data = std::env::temp_dir().join(format!("lifeboat-plan-day-{}", std::process::id()));
    let mut cfg = ServiceConfig::new(&data);
    cfg.max_concurrent_jobs = 0;
    cfg.tick = Duration::from_millis(a.tick_ms);
    let clock = Arc::new(ManualClock::new(from));
    let handle = Service::start(catalog.clone(), cfg, clock.clone() as Arc<dyn Clock>).await?;
    let poll = Duration::from_millis(1);
    // The first tick (at `from`: nothing due) is not part of the day.
    while handle.stats().scheduler_ticks == 0 {
        tokio::time::sleep(poll).await;
    }

    let wall = Instant::now();
    let mut seconds = 0.0;
    let mut steps = Vec::new();
    let mut now = from;
    while let Some(next) = earliest_due(&catalog, to).await? {
        if next <= now {
            handle.shutdown(Duration::from_secs(5)).await;
            return Err(format!(
                "an item is still due at {next} after the scheduler's tick at {now}"
            )
            .into());
        }
        let before = handle.stats().slots_queued;
        let t = Instant::now();
        clock.set(next);
        while handle.stats().last_tick.is_none_or(|l| l < next) {
            tokio::time::sleep(poll).await;
        }
        let s = t.elapsed().as_secs_f64();
        seconds += s;
        now = next;
        steps.push(json!({
            "at": next.to_rfc3339(),
            "queued": handle.stats().slots_queued - before,
            "seconds": s,
        }));
    }
    let wall_seconds = wall.elapsed().as_secs_f64();
    let stats = handle.stats();
    handle.shutdown(Duration::from_secs(5)).await;
    let _ = std::fs::remove_dir_all(&data);
    let in_catalog = queued_backups(&catalog, from, to).await?;
    catalog.close().await;
    let overhead = steps.len() as f64 * (a.tick_ms as f64 + 1.0) / 1000.0;
    Ok(json!({
        "catalog": match catalog.dialect() { Dialect::Sqlite => "sqlite", Dialect::Postgres => "postgres" },
        "from": from.to_rfc3339(),
        "to": to.to_rfc3339(),
        "seconds": seconds,
        "wallSeconds": wall_seconds,
        "overheadBoundSeconds": overhead,
        "jobsEnqueued": stats.slots_queued,
        "jobsInCatalog": in_catalog,
        "expectedSlots": expected,
        "scheduledInstants": steps.len(),
        "schedulerTicks": stats.scheduler_ticks,
        "tickMs": a.tick_ms,
        "steps": steps,
        "targetSeconds": 1.0,
        "targetMet": seconds < 1.0,
    }))
}

#[tokio::main]
async fn main() {
    let args = <Args as clap::Parser>::parse();
    match run(&args).await {
        Ok(v) => {
            println!("{v}");
            // A fast plan that queued the wrong jobs is no result.
            if v["jobsInCatalog"] != v["expectedSlots"] || v["jobsEnqueued"] != v["expectedSlots"] {
                eprintln!(
                    "plan_day: queued {} jobs ({} in the catalog) where the policies have {} slots",
                    v["jobsEnqueued"], v["jobsInCatalog"], v["expectedSlots"]
                );
                std::process::exit(4);
            }
        }
        Err(e) => {
            eprintln!("plan_day: {e}");
            std::process::exit(1);
        }
    }
}
