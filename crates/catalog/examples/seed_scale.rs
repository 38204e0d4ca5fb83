//! Fills a catalog at the scale of the catalog benchmark (bench/catalog):
//! by default 100 vaults, 10,000 protected items and 1,000,000 recovery
//! point rows, on SQLite or PostgreSQL.
//!
//! ```text
//! cargo run --release -p lifeboat-catalog --example seed_scale -- CATALOG_URL \
//!     [--vaults 100] [--items-per-vault 100] [--points-per-item 100] [--now RFC3339]
//! ```
//!
//! What it writes, and how:
//!
//! - Vaults (`bench-000`…), their policies and their items go through the
//!   catalog's public API (`create_vault`, `create_policy`, `create_item`,
//!   `update_item`), with the documents the server would write: vault
//!   settings and policies are built and validated by `lifeboat-model`.
//!   Each vault has `DefaultPolicy` (daily 22:00 UTC, 30 days), an enhanced
//!   (V2) hourly policy (every 4 h in a 12 h window, daily/weekly/monthly
//!   retention) and a V1 weekly policy (Sundays, weekly/monthly/yearly); the
//!   two custom ones use one of five time zones per vault. Half the items
//!   use `DefaultPolicy`, a quarter each of the others.
//! - Items are `path` items whose sources (`/srv/bench/…`) need not exist:
//!   the benchmark only lists them, and no backup runs.
//! - Each item gets the recovery points its schedule would have produced:
//!   its latest `--points-per-item` slots before `--now` (daily: 100 days;
//!   hourly: about 34 days; weekly: about 100 weeks), each taken a few
//!   seconds to minutes after its slot, tagged and given its expiry by the
//!   model's retention rules (`evaluate_item`), with synthetic store ids and
//!   sizes. Points past their expiry are kept (as if no sweep had run yet):
//!   the list endpoints see a full 100 points per item.
//! - Points are bulk-loaded with multi-row `INSERT`s, a thousand rows per
//!   statement and many statements per transaction, on a connection of the
//!   example's own: the catalog's `insert_points` writes one statement per
//!   row and not the schema-2 retention columns, which is right for a job
//!   adopting a few points and far too slow for a million.
//! - On PostgreSQL it ends with `VACUUM ANALYZE`, which autovacuum would
//!   do a little later after a bulk load anyway; on SQLite nothing (no
//!   part of Lifeboat runs `ANALYZE` there).
//!
//! A catalog that already has vaults is refused (exit status 3): seed a
//! fresh database. The summary is one JSON object on stdout.

use std::error::Error;
use std::str::FromStr;
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat_catalog::{Catalog, Dialect, ItemPatch, NewItem, NewVault};
use lifeboat_model::item::{HealthStatus, LastBackupStatus, ProtectionState};
use lifeboat_model::point::PointOrigin;
use lifeboat_model::policy::DEFAULT_POLICY_NAME;
use lifeboat_model::retention::{PointFacts, RetentionTag, evaluate_item};
use lifeboat_model::schedule;
use lifeboat_model::vault::{VaultKind, VaultName, VaultSettings};
use lifeboat_model::{Policy, ValidPolicy};
use serde_json::{Value, json};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::types::Json;
use sqlx::{PgPool, QueryBuilder, SqlitePool};

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// Rows per multi-row INSERT: 13 bound values each, well under SQLite's
/// 32,766 and PostgreSQL's 65,535 parameters per statement.
const ROWS_PER_INSERT: usize = 1000;

/// The time zones of the custom policies, one per vault in turn.
const ZONES: [&str; 5] = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "Australia/Sydney",
];

/// Fills a catalog with vaults, items and points at scale.
#[derive(clap::Parser)]
struct Args {
    /// The catalog to fill (SQLite or PostgreSQL URL); it must hold no vaults.
    url: String,
    /// Vaults to make (at most 1000: names have 3 digits).
    #[arg(long, default_value_t = 100, value_parser = at_most_1000)]
    vaults: usize,
    /// Items per vault (at most 1000).
    #[arg(long, default_value_t = 100, value_parser = at_most_1000)]
    items_per_vault: usize,
    /// Points per item.
    #[arg(long, default_value_t = 100)]
    points_per_item: usize,
    /// The seed's "now": RFC 3339, or `now` (to the whole second, so points
    /// and runs line up).
    #[arg(long, default_value = "now", value_parser = seed_now)]
    now: DateTime<Utc>,
}

fn at_most_1000(v: &str) -> Result<usize, String> {
    match v.parse() {
        Ok(n) if n <= 1000 => Ok(n),
        _ => Err(format!("{v:?} is not a whole number up to 1000")),
    }
}

fn seed_now(v: &str) -> Result<DateTime<Utc>, String> {
    if v == "now" {
        let now = Utc::now();
        return Ok(now - TimeDelta::nanoseconds(i64::from(now.timestamp_subsec_nanos())));
    }
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{v:?}: {e}"))
}

/// The three policies of every vault: (name, document, resolved).
fn vault_policies(zone: &str) -> Res<Vec<(String, Value, ValidPolicy)>> {
    let hourly = json!({
        "policyType": "V2",
        "timeZone": zone,
        "instantRpRetentionRangeInDays": 7,
        "schedulePolicy": {
            "schedulePolicyType": "SimpleSchedulePolicyV2",
            "scheduleRunFrequency": "Hourly",
            "hourlySchedule": {"interval": 4, "scheduleWindowStartTime": "2020-01-01T08:00:00Z",
                               "scheduleWindowDuration": 12}
        },
        "retentionPolicy": {
            "retentionPolicyType": "LongTermRetentionPolicy",
            "dailySchedule": {"retentionDuration": {"count": 30, "durationType": "Days"}},
            "weeklySchedule": {"daysOfTheWeek": ["Sunday"],
                               "retentionDuration": {"count": 12, "durationType": "Weeks"}},
            "monthlySchedule": {"retentionScheduleFormatType": "Daily",
                                "retentionScheduleDaily": {"daysOfTheMonth": [{"date": 1, "isLast": false}]},
                                "retentionDuration": {"count": 12, "durationType": "Months"}}
        }
    });
    let weekly = json!({
        "policyType": "V1",
        "timeZone": zone,
        "schedulePolicy": {
            "schedulePolicyType": "SimpleSchedulePolicy",
            "scheduleRunFrequency": "Weekly",
            "scheduleRunDays": ["Sunday"],
            "scheduleRunTimes": ["2020-01-01T01:30:00Z"]
        },
        "retentionPolicy": {
            "retentionPolicyType": "LongTermRetentionPolicy",
            "weeklySchedule": {"daysOfTheWeek": ["Sunday"],
                               "retentionDuration": {"count": 104, "durationType": "Weeks"}},
            "monthlySchedule": {"retentionScheduleFormatType": "Weekly",
                                "retentionScheduleWeekly": {"daysOfTheWeek": ["Sunday"], "weeksOfTheMonth": ["First"]},
                                "retentionDuration": {"count": 24, "durationType": "Months"}},
            "yearlySchedule": {"retentionScheduleFormatType": "Weekly", "monthsOfYear": ["January"],
                               "retentionScheduleWeekly": {"daysOfTheWeek": ["Sunday"], "weeksOfTheMonth": ["First"]},
                               "retentionDuration": {"count": 5, "durationType": "Years"}}
        }
    });
    let mut out = Vec::new();
    for (name, policy) in [
        (DEFAULT_POLICY_NAME, Policy::default_policy("UTC")),
        ("EnhancedHourly", serde_json::from_value::<Policy>(hourly)?),
        ("WeeklySunday", serde_json::from_value::<Policy>(weekly)?),
    ] {
        let valid = policy
            .resolve()
            .map_err(|e| format!("policy {name}: {} ({})", e.message(), e.target()))?;
        out.push((name.to_string(), serde_json::to_value(&policy)?, valid));
    }
    Ok(out)
}

/// Which of the vault's policies item `i` uses: half `DefaultPolicy`, a
/// quarter each of the others.
fn policy_index(i: usize) -> usize {
    match i % 4 {
        0 => 1,
        1 => 2,
        _ => 0,
    }
}

/// A cheap deterministic mix (splitmix64), for sizes and delays.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn tag_name(t: RetentionTag) -> String {
    match serde_json::to_value(t) {
        Ok(Value::String(s)) => s,
        _ => format!("{t:?}"),
    }
}

struct PointRow {
    vault_id: i64,
    item_id: i64,
    store_id: String,
    time: DateTime<Utc>,
    size: i64,
    added: i64,
    tags: Vec<String>,
    expiry: DateTime<Utc>,
    slot_key: String,
    rule_name: String,
}

/// The points an item's schedule produced before `now`: its latest `n`
/// slots, each taken 5 s to 10 min after the slot (queueing, snapshot).
fn item_points(
    policy: &ValidPolicy,
    vault_id: i64,
    item_id: i64,
    n: usize,
    now: DateTime<Utc>,
) -> Vec<PointRow> {
    if n == 0 {
        return Vec::new();
    }
    // Widen the window until it holds n slots (a weekly schedule needs
    // about two years for 100).
    let mut days = n as i64 + 2;
    let mut slots = schedule::slots(policy, now - TimeDelta::days(days), now);
    while slots.len() < n && days < 4000 {
        days *= 2;
        slots = schedule::slots(policy, now - TimeDelta::days(days), now);
    }
    let slots = &slots[slots.len().saturating_sub(n)..];
    let seed = (vault_id as u64) << 32 | item_id as u64;
    let facts: Vec<PointFacts> = slots
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let delay = 5 + (mix(seed ^ (k as u64) << 8) % 595) as i64;
            PointFacts {
                time: (s.at + TimeDelta::seconds(delay)).min(now),
                origin: PointOrigin::Scheduled { slot: s.key },
            }
        })
        .collect();
    let retention = evaluate_item(policy, &facts);
    let base = 2_000_000_000 + (mix(seed) % 8_000_000_000) as i64;
    facts
        .iter()
        .zip(slots)
        .zip(retention)
        .enumerate()
        .map(|(k, ((f, s), r))| {
            let h = mix(seed.wrapping_mul(1_000_003) ^ k as u64);
            let size = base + (h % 50_000_000) as i64;
            PointRow {
                vault_id,
                item_id,
                store_id: blake3::hash(format!("bench:{vault_id}:{item_id}:{}", s.key).as_bytes())
                    .to_hex()
                    .to_string(),
                time: f.time,
                size,
                // A first backup stores everything, later ones ~0.1–3 %.
                added: if k == 0 {
                    size / 2
                } else {
                    size / 1000 * (1 + (h >> 32) % 30) as i64
                },
                tags: r.tags.iter().map(|t| tag_name(*t)).collect(),
                expiry: r.expiry_time,
                slot_key: s.key.to_string(),
                rule_name: tag_name(r.rule_name),
            }
        })
        .collect()
}

const INSERT_POINTS: &str = "INSERT INTO points (vault_id, item_id, store_id, time, consistency, \
     tier, size, added_bytes, rule_tags, expiry, slot_key, rule_name, rule_expiry) ";

/// SQLite keeps times as fixed-width RFC 3339 text so that text order is
/// time order; this is the catalog's own encoding (its binding type is
/// private), which the point queries compare against.
fn sqlite_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// A connection pool of the example's own, for the bulk load.
enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Raw {
    async fn open(url: &str, dialect: Dialect) -> Res<Raw> {
        Ok(match dialect {
            Dialect::Sqlite => {
                let opts = SqliteConnectOptions::from_str(url)?
                    .foreign_keys(true)
                    .busy_timeout(std::time::Duration::from_secs(30));
                Raw::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(1)
                        .connect_with(opts)
                        .await?,
                )
            }
            Dialect::Postgres => {
                Raw::Postgres(PgPoolOptions::new().max_connections(1).connect(url).await?)
            }
        })
    }

    /// Inserts `rows` in one transaction, `ROWS_PER_INSERT` per statement.
    async fn insert_points(&self, rows: &[PointRow]) -> Res<()> {
        match self {
            Raw::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                for chunk in rows.chunks(ROWS_PER_INSERT) {
                    let mut q = QueryBuilder::new(INSERT_POINTS);
                    q.push_values(chunk, |mut b, r| {
                        b.push_bind(r.vault_id)
                            .push_bind(r.item_id)
                            .push_bind(r.store_id.clone())
                            .push_bind(sqlite_time(r.time))
                            .push_bind("file-system")
                            .push_bind("vault")
                            .push_bind(r.size)
                            .push_bind(r.added)
                            .push_bind(Json(r.tags.clone()))
                            .push_bind(sqlite_time(r.expiry))
                            .push_bind(r.slot_key.clone())
                            .push_bind(r.rule_name.clone())
                            .push_bind(sqlite_time(r.expiry));
                    });
                    q.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
            Raw::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                for chunk in rows.chunks(ROWS_PER_INSERT) {
                    let mut q = QueryBuilder::new(INSERT_POINTS);
                    q.push_values(chunk, |mut b, r| {
                        b.push_bind(r.vault_id)
                            .push_bind(r.item_id)
                            .push_bind(r.store_id.clone())
                            .push_bind(r.time)
                            .push_bind("file-system")
                            .push_bind("vault")
                            .push_bind(r.size)
                            .push_bind(r.added)
                            .push_bind(Json(r.tags.clone()))
                            .push_bind(r.expiry)
                            .push_bind(r.slot_key.clone())
                            .push_bind(r.rule_name.clone())
                            .push_bind(r.expiry);
                    });
                    q.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    async fn finish(&self) -> Res<()> {
        match self {
            Raw::Sqlite(pool) => pool.close().await,
            Raw::Postgres(pool) => {
                sqlx::query("VACUUM ANALYZE").execute(pool).await?;
                pool.close().await;
            }
        }
        Ok(())
    }
}

fn enum_name<T: serde::Serialize + std::fmt::Debug>(v: T) -> String {
    match serde_json::to_value(&v) {
        Ok(Value::String(s)) => s,
        _ => format!("{v:?}"),
    }
}

async fn seed(a: &Args) -> Res<Value> {
    let started = Instant::now();
    let catalog = Catalog::connect(&a.url).await?;
    let dialect = catalog.dialect();
    if !catalog.list_vaults().await?.is_empty() {
        return Err(Box::new(Refused(
            "the catalog already has vaults; seed_scale fills only an empty catalog \
             (create a fresh database or delete the SQLite file)"
                .into(),
        )));
    }
    let raw = Raw::open(&a.url, dialect).await?;
    let settings = serde_json::to_value(VaultSettings::new(VaultKind::RecoveryServices))?;
    let redundancy = enum_name(
        VaultSettings::new(VaultKind::RecoveryServices)
            .redundancy_settings
            .standard_tier_storage_redundancy,
    );
    let kind = enum_name(VaultKind::RecoveryServices);
    let created = a.now - TimeDelta::days(800);
    let (mut t_vaults, mut t_items, mut t_points) = (0.0, 0.0, 0.0);
    let (mut items_made, mut points_made, mut expired) = (0usize, 0usize, 0usize);
    for v in 0..a.vaults {
        let t = Instant::now();
        let name =
            VaultName::parse(&format!("bench-{v:03}")).map_err(|e| e.message().to_string())?;
        let vault = catalog
            .create_vault(&NewVault {
                name: name.as_str().to_string(),
                kind: kind.clone(),
                redundancy: redundancy.clone(),
                settings: settings.clone(),
                created,
            })
            .await?;
        let policies = vault_policies(ZONES[v % ZONES.len()])?;
        for (pname, doc, _) in &policies {
            catalog.create_policy(vault.id, pname, doc, created).await?;
        }
        t_vaults += t.elapsed().as_secs_f64();

        let t = Instant::now();
        let mut items = Vec::with_capacity(a.items_per_vault);
        for i in 0..a.items_per_vault {
            let (pname, _, policy) = &policies[policy_index(i)];
            let item = catalog
                .create_item(&NewItem {
                    vault_id: vault.id,
                    name: format!("item-{i:03}"),
                    source: lifeboat_model::source::Source::Path {
                        path: format!("/srv/bench/{v:03}/data-{i:03}").into(),
                    },
                    policy_name: Some(pname.clone()),
                    state: ProtectionState::Protected,
                    health: HealthStatus::Passed,
                    settings: json!({}),
                    next_run: schedule::next_slot(policy, a.now).map(|s| s.at),
                    created,
                })
                .await?;
            items.push((item.id, policy));
        }
        t_items += t.elapsed().as_secs_f64();

        let t = Instant::now();
        let mut rows = Vec::with_capacity(a.items_per_vault * a.points_per_item);
        let mut last = Vec::with_capacity(items.len());
        for (id, policy) in &items {
            let pts = item_points(policy, vault.id.0, id.0, a.points_per_item, a.now);
            last.push((*id, pts.last().map(|p| p.time)));
            expired += pts.iter().filter(|p| p.expiry <= a.now).count();
            rows.extend(pts);
        }
        raw.insert_points(&rows).await?;
        points_made += rows.len();
        t_points += t.elapsed().as_secs_f64();

        // The items' last backup, as the backup job leaves it.
        let t = Instant::now();
        for (id, time) in last {
            if let Some(time) = time {
                catalog
                    .update_item(
                        id,
                        &ItemPatch {
                            last_backup_time: Some(Some(time)),
                            last_backup_status: Some(Some(LastBackupStatus::Healthy)),
                            ..Default::default()
                        },
                    )
                    .await?;
            }
        }
        items_made += items.len();
        t_items += t.elapsed().as_secs_f64();
        if (v + 1) % 10 == 0 {
            eprintln!(
                "seed_scale: {} vaults, {items_made} items, {points_made} points ({:.1} s)",
                v + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let t = Instant::now();
    raw.finish().await?;
    let t_finish = t.elapsed().as_secs_f64();
    catalog.close().await;
    let seconds = started.elapsed().as_secs_f64();
    Ok(json!({
        "catalog": match dialect { Dialect::Sqlite => "sqlite", Dialect::Postgres => "postgres" },
        "now": a.now.to_rfc3339(),
        "vaults": a.vaults,
        "items": items_made,
        "points": points_made,
        "pointsPastExpiry": expired,
        "seconds": seconds,
        "phases": {
            "vaultsAndPolicies": t_vaults,
            "items": t_items,
            "points": t_points,
            "finish": t_finish,
        },
        "pointsPerSecond": if t_points > 0.0 { points_made as f64 / t_points } else { 0.0 },
    }))
}

/// The catalog was not empty.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Refused {}

#[tokio::main]
async fn main() {
    let args = <Args as clap::Parser>::parse();
    match seed(&args).await {
        Ok(summary) => println!("{summary}"),
        Err(e) => {
            eprintln!("seed_scale: {e}");
            std::process::exit(if e.is::<Refused>() { 3 } else { 1 });
        }
    }
}
