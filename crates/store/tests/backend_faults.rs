//! The store over a misbehaving backend (the fault-injecting backend of
//! `lifeboat-backend`, between the vault's folder and the retries `open`
//! adds): transient failures and delays are retried and the backup
//! succeeds and verifies; a permanent failure, a write cut off part-way and
//! a backend that stays unavailable through every retry each fail the
//! backup with a clear code and leave a vault that verifies, with nothing
//! half-written referenced or left behind; truncated reads are detected.

use std::sync::Arc;
use std::time::Duration;

use lifeboat_store::Vault;
use lifeboat_store::backend::fault::{Fault, FaultAction, FaultBackend};
use lifeboat_store::backend::{
    Backend, BackendErrorKind, BackendUrl, Op, RetryPolicy, Retrying, open_with,
};
use lifeboat_store::backup::{BackupOptions, backup_files};
use lifeboat_store::config::VaultConfig;
use lifeboat_store::gc::gc;
use lifeboat_store::keyfile::KdfParams;
use lifeboat_store::pack::parse_pack;
use lifeboat_store::upload::Progress;
use lifeboat_store::verify::{ReadData, verify};

const ATTEMPTS: u32 = 4;

struct Env {
    _dir: tempfile::TempDir,
    src: std::path::PathBuf,
    /// The vault's folder as a backend, with no retries and no faults.
    raw: Arc<dyn Backend>,
    fault: Arc<FaultBackend>,
    vault: Vault,
}

fn env() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("sub")).expect("mkdir");
    // Incompressible, so that the backup writes several packs.
    for i in 0..20u64 {
        let body = lifeboat_testkit::noise(0x9e37_79b9_7f4a_7c15 + 2 * i, 300_000);
        std::fs::write(src.join("sub").join(format!("f{i}")), body).expect("write");
    }
    // Opened by URL like every vault; one attempt, so that the faults sit
    // below the retries under test.
    let url = BackendUrl::file(dir.path().join("vault"));
    let raw = open_with(&url, RetryPolicy::immediate(1)).expect("open");
    let fault = Arc::new(FaultBackend::new(raw.clone()));
    let backend: Arc<dyn Backend> = Arc::new(Retrying::new(
        fault.clone(),
        RetryPolicy::immediate(ATTEMPTS),
    ));
    let vault = Vault::init(
        backend,
        b"pw",
        KdfParams::MINIMAL,
        VaultConfig {
            pack_size: 1 << 20,
            ..VaultConfig::new_default()
        },
    )
    .expect("init")
    .with_cache_root(dir.path().join("cache"));
    Env {
        _dir: dir,
        src,
        raw,
        fault,
        vault,
    }
}

fn backup(e: &Env) -> lifeboat_store::Result<()> {
    backup_files(
        &e.vault,
        std::slice::from_ref(&e.src),
        &BackupOptions::default(),
        Arc::new(Progress::default()),
        &mut |_| {},
    )
    .map(|_| ())
}

/// Every pack in the folder parses whole: nothing half-written was left.
fn assert_no_fragments(e: &Env) {
    for o in e.raw.list("packs/").expect("list packs") {
        let bytes = e.raw.get(&o.name).expect("read pack");
        parse_pack(e.vault.keys(), &bytes, &o.name)
            .unwrap_or_else(|err| panic!("{} is not a whole pack: {err}", o.name));
    }
}

/// The vault after a failed backup: the points that were there, clean
/// verification, and the next backup (no faults) works.
fn assert_consistent(e: &Env, points: usize) {
    e.fault.clear();
    let (p, bad) = e.vault.points().expect("points");
    assert_eq!((p.len(), bad.len()), (points, 0), "nothing was committed");
    let r = verify(&e.vault, ReadData::All, false).expect("verify");
    assert!(r.is_clean(), "{r:?}");
    assert_no_fragments(e);
    backup(e).expect("a backup after the fault is gone");
    gc(&e.vault, false).expect("gc");
    let r = verify(&e.vault, ReadData::All, false).expect("verify after gc");
    assert!(r.is_clean(), "{r:?}");
}

#[test]
fn transient_failures_and_delays_are_retried_and_the_backup_succeeds() {
    let e = env();
    let transient = FaultAction::Fail(BackendErrorKind::Transient);
    // The next put (the lease) fails twice, the first pack put once, the
    // first index segment put once, a listing once, and three pack puts
    // are slow.
    e.fault
        .inject(Fault::calls(Op::Put, 1, 2, transient))
        .inject(Fault::nth(Op::Put, 1, transient).under("packs/"))
        .inject(Fault::nth(Op::Put, 1, transient).under("index/"))
        .inject(Fault::nth(Op::List, 1, transient))
        .inject(
            Fault::calls(Op::Put, 2, 3, FaultAction::Delay(Duration::from_millis(50)))
                .under("packs/"),
        );
    backup(&e).expect("backup despite transient failures");
    assert_eq!(e.fault.injected(), 8);
    let (points, bad) = e.vault.points().expect("points");
    assert_eq!((points.len(), bad.len()), (1, 0));
    let r = verify(&e.vault, ReadData::All, false).expect("verify");
    assert!(r.is_clean(), "{r:?}");
    assert_no_fragments(&e);
}

#[test]
fn a_permanent_failure_fails_the_backup_and_the_vault_still_verifies() {
    let e = env();
    backup(&e).expect("first backup");
    std::fs::write(e.src.join("new"), vec![9u8; 300_000]).expect("write");
    // Every pack put from now on fails for good.
    e.fault.inject(
        Fault::from_nth(Op::Put, 1, FaultAction::Fail(BackendErrorKind::Permanent)).under("packs/"),
    );
    let err = backup(&e).expect_err("a permanent failure must fail the backup");
    assert_eq!(err.code(), "IO_ERROR", "{err}");
    assert!(err.to_string().contains("injected fault"), "{err}");
    // Not retried: one attempt per pack put that was tried (a few run in
    // parallel), far fewer than ATTEMPTS each.
    assert!(
        e.fault.injected() <= 3,
        "permanent failures were retried: {} attempts",
        e.fault.injected()
    );
    assert_consistent(&e, 1);
}

#[test]
fn a_write_cut_off_part_way_fails_clearly_and_leaves_no_fragment() {
    let e = env();
    backup(&e).expect("first backup");
    std::fs::write(e.src.join("new"), vec![7u8; 300_000]).expect("write");
    // The next pack upload stores only its first half, then the
    // connection drops. The retry finds the fragment under the pack's
    // name: not the pack, and not someone else's.
    e.fault
        .inject(Fault::nth(Op::Put, 1, FaultAction::Truncate { keep_percent: 50 }).under("packs/"));
    let err = backup(&e).expect_err("a cut-off write must fail the backup");
    assert_eq!(err.code(), "BACKEND_PARTIAL_WRITE", "{err}");
    assert!(err.to_string().contains("removed"), "{err}");
    assert!(err.hint().contains("cut off"), "{}", err.hint());
    assert_consistent(&e, 1);
}

#[test]
fn writes_cut_off_on_every_attempt_fail_and_leave_no_fragment() {
    let e = env();
    std::fs::write(e.src.join("new"), vec![5u8; 300_000]).expect("write");
    e.fault.inject(
        Fault::from_nth(Op::Put, 1, FaultAction::Truncate { keep_percent: 30 }).under("packs/"),
    );
    let err = backup(&e).expect_err("the backup succeeded over cut-off packs");
    assert!(
        matches!(
            err.code().as_str(),
            "BACKEND_PARTIAL_WRITE" | "BACKEND_UNAVAILABLE"
        ),
        "{}: {err}",
        err.code()
    );
    assert_consistent(&e, 0);
}

#[test]
fn a_backend_unavailable_through_every_retry_fails_with_its_code_and_hint() {
    let e = env();
    backup(&e).expect("first backup");
    std::fs::write(e.src.join("new"), vec![3u8; 300_000]).expect("write");
    e.fault.inject(
        Fault::from_nth(Op::Put, 1, FaultAction::Fail(BackendErrorKind::Transient)).under("packs/"),
    );
    let err = backup(&e).expect_err("an unavailable backend must fail the backup");
    assert_eq!(err.code(), "BACKEND_UNAVAILABLE", "{err}");
    assert!(
        err.to_string()
            .contains(&format!("gave up after {ATTEMPTS} attempts")),
        "{err}"
    );
    assert!(err.hint().contains("retries"), "{}", err.hint());
    assert_consistent(&e, 1);
}

#[test]
fn truncated_reads_are_detected() {
    let e = env();
    backup(&e).expect("backup");
    // Every whole-object read comes back cut in half, with no error.
    e.fault.inject(Fault::from_nth(
        Op::Get,
        1,
        FaultAction::Truncate { keep_percent: 50 },
    ));
    let r = verify(&e.vault, ReadData::All, false);
    let detected = match &r {
        Err(err) => err.code() == "DATA_CORRUPT",
        Ok(rep) => !rep.is_clean(),
    };
    assert!(detected, "truncated objects went unnoticed: {r:?}");
    e.fault.clear();
    // Short ranged reads are retried and the data read is whole.
    e.fault.inject(Fault::calls(
        Op::GetRange,
        1,
        2,
        FaultAction::Truncate { keep_percent: 10 },
    ));
    let r = verify(&e.vault, ReadData::All, false).expect("verify");
    assert!(r.is_clean(), "{r:?}");
}
