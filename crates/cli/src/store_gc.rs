//! `lifeboat store gc`: makes the plan, shows it (`--dry-run`, `-o json`),
//! and executes that same plan object otherwise.

use lifeboat_store::Vault;
use lifeboat_store::gc::{self, GcIntent, GcPlan, GcReport, PackReason, PlannedPack};
use lifeboat_store::util::human_bytes;

use crate::Output;

/// Runs `gc` (or only plans it) and prints what it decided and did.
pub fn run(vault: &Vault, dry_run: bool, out: Output) -> lifeboat_store::Result<()> {
    let intent = if dry_run {
        GcIntent::DryRun
    } else {
        GcIntent::Collect
    };
    let plan = gc::plan(vault, intent)?;
    // The JSON is the plan itself, with the counts of what was done: the
    // one `--dry-run` shows is the kind of object executed below.
    let mut shown = serde_json::to_value(&plan).unwrap_or_default();
    if out == Output::Text && dry_run {
        print_plan(&plan);
    }
    let report = if dry_run {
        plan.summary
    } else {
        gc::execute(vault, plan)?
    };
    if out == Output::Json {
        if let (Some(obj), Ok(serde_json::Value::Object(done))) =
            (shown.as_object_mut(), serde_json::to_value(&report))
        {
            obj.extend(done);
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&shown).unwrap_or_default()
        );
    } else {
        print_summary(&report);
    }
    Ok(())
}

fn print_summary(r: &GcReport) {
    println!(
        "{}{} points, {} packs; deleted {} packs ({}), condemned {} ({} repacked, {} orphans; freed by the next gc once older writers finish), {} rescued, {} still waiting",
        if r.dry_run { "dry run: " } else { "" },
        r.points,
        r.packs_total,
        r.packs_deleted,
        human_bytes(r.bytes_deleted),
        r.packs_condemned,
        r.packs_repacked,
        r.orphan_packs,
        r.packs_rescued,
        r.packs_waiting
    );
}

fn reason(r: PackReason) -> &'static str {
    match r {
        PackReason::CondemnedEarlier => "condemned earlier, no point needs it",
        PackReason::NeededAgain => "condemned earlier, needed by a newer point",
        PackReason::Unreferenced => "no point needs it",
        PackReason::Orphan => "in no index segment",
        PackReason::MostlyDead => "mostly data no point needs",
    }
}

/// One line per pack the plan acts on, then what it frees.
fn print_plan(plan: &GcPlan) {
    let line = |what: &str, p: &PlannedPack| {
        let live = if p.blobs > 0 {
            format!(
                ", {} of {} blobs live ({})",
                p.live_blobs,
                p.blobs,
                human_bytes(p.live_bytes)
            )
        } else {
            String::new()
        };
        println!(
            "  {what:<8} pack {} {:>10}  {}{live}",
            p.pack.short(),
            human_bytes(p.bytes),
            reason(p.reason)
        );
    };
    for p in &plan.delete {
        line("delete", p);
    }
    for p in &plan.repack {
        line("repack", p);
    }
    for p in &plan.condemn {
        line("condemn", p);
    }
    for p in &plan.rescue {
        line("rescue", p);
    }
    println!(
        "would free {} now and {} at a later gc; {} index segments rewritten, {} condemnation records done",
        human_bytes(plan.bytes_reclaimed_now),
        human_bytes(plan.bytes_reclaimed_later),
        plan.segments_replaced,
        plan.records_done.len()
    );
}
