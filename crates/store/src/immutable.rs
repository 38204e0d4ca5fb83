//! Immutability inside the store (docs/format.md §12): a locked vault
//! refuses to delete a point before its hold expires, whoever asks.
//!
//! - `immutability/locked`: sealed `{"locked_at_ms": …}`. Its presence
//!   means the vault is locked; it is written with put-if-absent and the
//!   engine never deletes it, so the state only moves forward.
//! - `holds/<point-id>/<until-ms as 16 hex digits>`: sealed
//!   `{"point": "<hex>", "until_ms": …}`. A point is held until the latest
//!   `until_ms` among its holds; a hold is extended by adding a later one,
//!   never by rewriting (objects are immutable).
//!
//! Both are sealed with the vault's data key (distinct AADs), so a hold or
//! lock object cannot be forged or edited without the key: one that does
//! not open is `DATA_CORRUPT`, and a delete is then refused (fail closed).
//!
//! **Time.** [`forget_point`] compares holds with the *system clock*, not
//! with a time the caller passes: the guard exists so that a buggy or
//! hostile caller cannot delete unexpired data, and a caller-supplied time
//! is exactly what such a caller would get wrong (or forge). The residual
//! risk is a server whose system clock is set forward, which needs control
//! of the machine; docs/security.md says so. [`check_delete_at`] takes a
//! time only for planning (`forget --dry-run` shows what would be refused).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::format::{AAD_HOLD, AAD_LOCK, ENCODING_RAW};
use crate::id::PointId;
use crate::manifest::{decode_encoded, point_name};
use crate::vault::Vault;

/// The lock object's name.
pub const LOCK_NAME: &str = "immutability/locked";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LockRecord {
    locked_at_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct HoldRecord {
    point: String,
    until_ms: i64,
}

fn seal_json<T: Serialize>(vault: &Vault, aad: &[u8], v: &T) -> Vec<u8> {
    let mut plain = vec![ENCODING_RAW];
    plain.extend_from_slice(&serde_json::to_vec(v).expect("record serializes"));
    vault.keys().seal(aad, &plain)
}

fn open_json<T: for<'de> Deserialize<'de>>(
    vault: &Vault,
    aad: &[u8],
    bytes: &[u8],
    name: &str,
) -> Result<T> {
    let plain = vault.keys().open(aad, bytes, name)?;
    let json = decode_encoded(&plain, 64 << 10, name)?;
    serde_json::from_slice(&json).map_err(|e| Error::corrupt(name, format!("record: {e}")))
}

fn hold_prefix(point: &PointId) -> String {
    format!("holds/{}/", point.to_hex())
}

/// Locks the vault (idempotent). There is no unlock.
pub fn lock(vault: &Vault) -> Result<()> {
    let rec = LockRecord {
        locked_at_ms: Utc::now().timestamp_millis(),
    };
    let sealed = seal_json(vault, AAD_LOCK, &rec);
    vault.backend().put_if_absent(LOCK_NAME, &sealed)?;
    is_locked(vault).map(|_| ())
}

/// Whether the vault is locked. A lock object that does not open is an
/// error (callers refuse deletes on it).
pub fn is_locked(vault: &Vault) -> Result<bool> {
    match vault.backend().get(LOCK_NAME) {
        Ok(bytes) => {
            open_json::<LockRecord>(vault, AAD_LOCK, &bytes, LOCK_NAME)?;
            Ok(true)
        }
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Holds `point` until `until` (idempotent; an earlier hold is not
/// shortened: the latest of a point's holds counts).
pub fn hold(vault: &Vault, point: &PointId, until: DateTime<Utc>) -> Result<()> {
    let until_ms = until.timestamp_millis();
    if let Some(current) = held_until(vault, point)?
        && current.timestamp_millis() >= until_ms
    {
        return Ok(());
    }
    let rec = HoldRecord {
        point: point.to_hex(),
        until_ms,
    };
    let name = format!("{}{:016x}", hold_prefix(point), until_ms.max(0));
    vault
        .backend()
        .put_if_absent(&name, &seal_json(vault, AAD_HOLD, &rec))?;
    Ok(())
}

/// The latest hold of `point`, if any. A hold that does not open, or whose
/// content names another point or another time than its name, is
/// `DATA_CORRUPT`.
pub fn held_until(vault: &Vault, point: &PointId) -> Result<Option<DateTime<Utc>>> {
    let mut latest: Option<i64> = None;
    for o in vault.backend().list(&hold_prefix(point))? {
        let bytes = match vault.backend().get(&o.name) {
            Ok(b) => b,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e.into()),
        };
        let rec: HoldRecord = open_json(vault, AAD_HOLD, &bytes, &o.name)?;
        let expected = format!("{}{:016x}", hold_prefix(point), rec.until_ms.max(0));
        if rec.point != point.to_hex() || expected != o.name {
            return Err(Error::corrupt(&o.name, "hold does not match its name"));
        }
        latest = Some(latest.map_or(rec.until_ms, |l| l.max(rec.until_ms)));
    }
    Ok(latest.and_then(DateTime::from_timestamp_millis))
}

/// `Ok` if `point` may be deleted at `now`: the vault is not locked, or
/// the point's holds have all expired. For planning only; deleting goes
/// through [`forget_point`], which uses the system clock.
pub fn check_delete_at(vault: &Vault, point: &PointId, now: DateTime<Utc>) -> Result<()> {
    if !is_locked(vault)? {
        return Ok(());
    }
    match held_until(vault, point)? {
        Some(until) if until > now => Err(Error::PointHeld {
            point: point.to_hex(),
            until: until.to_rfc3339(),
        }),
        _ => Ok(()),
    }
}

/// Deletes a point's manifest (its data stays until gc), unless a locked
/// vault still holds it (`IMMUTABLE_POINT_HELD`), then its expired holds.
/// A point already gone is fine. Every engine path that deletes a point
/// comes here.
pub fn forget_point(vault: &Vault, point: &PointId) -> Result<()> {
    check_delete_at(vault, point, Utc::now())?;
    match vault.backend().delete(&point_name(point)) {
        Ok(()) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e.into()),
    }
    for o in vault.backend().list(&hold_prefix(point))? {
        match vault.backend().delete(&o.name) {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
