//! `forget`: deletes the point manifests a [`KeepPolicy`] does not keep,
//! as a plan ([`plan_forget`]) that can be shown before it is executed
//! ([`execute_forget`]). Their data is freed by `gc`.

use std::collections::HashMap;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::id::PointId;
use crate::manifest::{Point, Workload};
use crate::retention::{Decision, KeepPolicy, decide};
use crate::vault::Vault;

#[derive(Debug, Clone, Serialize)]
pub struct ForgetItem {
    pub id: PointId,
    pub time: chrono::DateTime<chrono::Utc>,
    pub host: String,
    pub paths: Vec<String>,
    pub keep: bool,
    pub reasons: Vec<&'static str>,
}

/// Plans a forget: each group (host, kind, paths) gets the policy on its own.
pub fn plan_forget(vault: &Vault, policy: &KeepPolicy) -> Result<Vec<ForgetItem>> {
    if policy.is_empty() {
        return Err(Error::InvalidArgument(
            "no --keep-* option given: that would forget every point".into(),
        ));
    }
    let (points, _) = vault.points()?;
    type Group = (String, Workload, Vec<String>);
    let mut groups: HashMap<Group, Vec<(PointId, &Point)>> = HashMap::new();
    for (id, p) in &points {
        groups
            .entry((p.host.clone(), p.kind.clone(), p.paths.clone()))
            .or_default()
            .push((*id, p));
    }
    let mut out = Vec::new();
    for members in groups.values() {
        let items: Vec<_> = members.iter().map(|(id, p)| (*id, p.time)).collect();
        let by_id: HashMap<PointId, &Point> = members.iter().map(|(id, p)| (*id, *p)).collect();
        for Decision {
            item,
            time,
            keep,
            reasons,
        } in decide(&items, policy)
        {
            let p = by_id[&item];
            let (mut keep, mut reasons) = (keep, reasons);
            // A locked immutable vault keeps a held point whatever the
            // policy says (docs/format.md §12).
            if !keep
                && let Err(Error::PointHeld { .. }) =
                    crate::immutable::check_delete_at(vault, &item, chrono::Utc::now())
            {
                keep = true;
                reasons.push("immutable hold");
            }
            out.push(ForgetItem {
                id: item,
                time,
                host: p.host.clone(),
                paths: p.paths.clone(),
                keep,
                reasons,
            });
        }
    }
    out.sort_by_key(|i| std::cmp::Reverse(i.time));
    Ok(out)
}

pub fn execute_forget(vault: &Vault, plan: &[ForgetItem]) -> Result<usize> {
    let mut n = 0;
    for item in plan.iter().filter(|i| !i.keep) {
        // Refused (IMMUTABLE_POINT_HELD) if a locked vault still holds it.
        crate::immutable::forget_point(vault, &item.id)?;
        n += 1;
    }
    Ok(n)
}
