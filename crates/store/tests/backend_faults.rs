//! The store over a misbehaving backend: transient failures are retried and
//! the backup succeeds; a permanent one fails the backup with a clear error
//! and leaves a vault that verifies; truncated reads are detected.

use std::sync::Arc;

use lifeboat_store::Vault;
use lifeboat_store::backend::fault::{Fault, FaultAction, FaultBackend};
use lifeboat_store::backend::{Backend, BackendErrorKind, LocalBackend, Op, RetryPolicy, Retrying};
use lifeboat_store::backup::{BackupOptions, backup_files};
use lifeboat_store::config::VaultConfig;
use lifeboat_store::keyfile::KdfParams;
use lifeboat_store::upload::Progress;
use lifeboat_store::verify::{ReadData, verify};

struct Env {
    _dir: tempfile::TempDir,
    src: std::path::PathBuf,
    fault: Arc<FaultBackend>,
    vault: Vault,
}

fn env() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("sub")).expect("mkdir");
    for i in 0..20u32 {
        let body: Vec<u8> = (0..50_000u32).map(|j| ((i * 7 + j) % 251) as u8).collect();
        std::fs::write(src.join("sub").join(format!("f{i}")), body).expect("write");
    }
    let local: Arc<dyn Backend> = Arc::new(LocalBackend::new(dir.path().join("vault")));
    let fault = Arc::new(FaultBackend::new(local));
    let backend: Arc<dyn Backend> =
        Arc::new(Retrying::new(fault.clone(), RetryPolicy::immediate(4)));
    let vault = Vault::init(
        backend,
        b"pw",
        KdfParams {
            m_kib: 1024,
            t: 1,
            p: 1,
        },
        VaultConfig::new_default(),
    )
    .expect("init")
    .with_cache_root(dir.path().join("cache"));
    Env {
        _dir: dir,
        src,
        fault,
        vault,
    }
}

fn backup(e: &Env) -> lifeboat_store::Result<()> {
    backup_files(
        &e.vault,
        &[e.src.clone()],
        &BackupOptions::default(),
        Arc::new(Progress::default()),
        &mut |_| {},
    )
    .map(|_| ())
}

#[test]
fn transient_failures_are_retried_and_the_backup_succeeds() {
    let e = env();
    let puts = e.fault.calls(Op::Put);
    let transient = FaultAction::Fail(BackendErrorKind::Transient);
    // The next put (a pack or a lease) fails twice, a listing once.
    e.fault.inject(Fault {
        op: Op::Put,
        first: puts + 1,
        count: 2,
        action: transient,
    });
    e.fault
        .inject(Fault::nth(Op::List, e.fault.calls(Op::List) + 1, transient));
    backup(&e).expect("backup despite transient failures");
    assert_eq!(e.fault.injected(), 3);
    let (points, bad) = e.vault.points().expect("points");
    assert_eq!((points.len(), bad.len()), (1, 0));
    let r = verify(&e.vault, ReadData::All, false).expect("verify");
    assert!(r.is_clean(), "{r:?}");
}

#[test]
fn a_permanent_failure_fails_the_backup_and_the_vault_still_verifies() {
    let e = env();
    backup(&e).expect("first backup");
    std::fs::write(e.src.join("new"), vec![9u8; 300_000]).expect("write");
    // Every put from now on fails for good.
    e.fault.inject(Fault::from_nth(
        Op::Put,
        e.fault.calls(Op::Put) + 1,
        FaultAction::Fail(BackendErrorKind::Permanent),
    ));
    let before = e.fault.calls(Op::Put);
    let err = backup(&e).expect_err("a permanent failure must fail the backup");
    assert_eq!(err.code(), "IO_ERROR", "{err}");
    assert!(err.to_string().contains("injected fault"), "{err}");
    // Not retried: one attempt per put that was tried.
    assert!(
        e.fault.calls(Op::Put) - before <= 2,
        "permanent failures were retried"
    );
    e.fault.clear();
    let (points, bad) = e.vault.points().expect("points");
    assert_eq!((points.len(), bad.len()), (1, 0), "nothing was committed");
    let r = verify(&e.vault, ReadData::All, false).expect("verify");
    assert!(r.is_clean(), "{r:?}");
}

#[test]
fn truncated_reads_are_detected() {
    let e = env();
    backup(&e).expect("backup");
    // Every whole-object read comes back cut in half, with no error.
    e.fault.inject(Fault::from_nth(
        Op::Get,
        e.fault.calls(Op::Get) + 1,
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
    e.fault.inject(Fault {
        op: Op::GetRange,
        first: e.fault.calls(Op::GetRange) + 1,
        count: 2,
        action: FaultAction::Truncate { keep_percent: 10 },
    });
    let r = verify(&e.vault, ReadData::All, false).expect("verify");
    assert!(r.is_clean(), "{r:?}");
}
