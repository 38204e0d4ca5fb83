//! The disk workload reads a qcow2 image in place: no temporary copy. The
//! vault and its cache live on a 24 MiB tmpfs while the image holds 64 MiB
//! of guest data, so a full copy could not even be written there; the test
//! also samples the tmpfs' use during the backup and bounds its peak. Then
//! the point is restored through the workload and compared byte for byte
//! with the image's guest view.
//!
//! Needs root (mounting the tmpfs) and qemu-img/qemu-nbd; without them it
//! fails, it does not skip.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use lifeboat_model::source::{Conflict, DiskFormat, RestoreRequest, Source};
use lifeboat_store::backup::BackupOptions;
use lifeboat_store::upload::Progress;
use lifeboat_testkit::noise;
use lifeboat_workloads::{BackupJob, Event, RestoreJob, for_source};

// The store tests' helpers: a vault with cheap key derivation.
#[path = "../../store/tests/common/mod.rs"]
mod store_common;
use store_common::vault_at;

const MIB: u64 = 1 << 20;

/// A tmpfs mounted for the test's life.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size_mib: u64) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m"), "tmpfs"])
            .arg(at)
            .status()
            .expect("running mount");
        assert!(
            st.success(),
            "mounting a tmpfs at {} failed (the test needs root)",
            at.display()
        );
        Tmpfs(at.to_path_buf())
    }

    fn used(&self) -> u64 {
        fs_used(&self.0)
    }
}

/// Bytes in use on the file system holding `at`.
fn fs_used(at: &Path) -> u64 {
    let c = std::ffi::CString::new(at.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: statvfs is plain data; all-zero is a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string and `st` a valid out-pointer.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    assert_eq!(rc, 0, "statvfs {}", at.display());
    (st.f_blocks - st.f_bfree) * st.f_frsize
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Converts a raw image to qcow2 with qemu-img.
fn to_qcow2(raw: &Path, qcow: &Path) {
    let o = Command::new("qemu-img")
        .args(["convert", "-f", "raw", "-O", "qcow2"])
        .arg(raw)
        .arg(qcow)
        .output()
        .expect("running qemu-img");
    assert!(
        o.status.success(),
        "qemu-img convert: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_qcow2_backup_writes_no_temporary_copy_and_restores_exactly() {
    let dir = tempfile::tempdir().unwrap();
    // 256 MiB virtual disk; 64 MiB of guest data: one 1 MiB block of noise
    // written at 64 places, so the vault keeps about 1 MiB of it.
    let raw = dir.path().join("guest.raw");
    let f = std::fs::File::create(&raw).unwrap();
    f.set_len(256 * MIB).unwrap();
    let block = noise(42, MIB as usize);
    for i in 0..64u64 {
        f.write_all_at(&block, i * 4 * MIB).unwrap();
    }
    drop(f);
    let qcow = dir.path().join("guest.qcow2");
    to_qcow2(&raw, &qcow);

    let small = Tmpfs::mount(&dir.path().join("small"), 24);
    let vault = vault_at(&small.0);
    let before = small.used();

    let peak = Arc::new(AtomicU64::new(before));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done, at) = (peak.clone(), done.clone(), small.0.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(fs_used(&at), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let source = Source::Disk {
        image: qcow.clone(),
    };
    let workload = for_source(&source);
    let mut events = Vec::new();
    let backed = workload
        .backup(BackupJob {
            vault: &vault,
            source: &source,
            options: BackupOptions::default(),
            progress: Arc::new(Progress::default()),
            events: &mut |e: Event| events.push(e),
        })
        .expect("backup of the qcow2 image");
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let extra = peak.load(Ordering::Relaxed).saturating_sub(before);
    println!(
        "peak extra use of the vault's file system: {:.1} MiB",
        extra as f64 / MIB as f64
    );
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(
        backed.outcome.point.summary.bytes,
        256 * MIB,
        "the guest's size, not the file's"
    );
    // The vault's own growth (about 1 MiB of packs, the index, the
    // manifest) and nothing like the 64 MiB of a temporary raw copy.
    assert!(extra < 6 * MIB, "peak extra disk use {extra} bytes");

    let back = dir.path().join("back.raw");
    let point = vault.load_point(&backed.outcome.id).unwrap();
    workload
        .restore(RestoreJob {
            vault: &vault,
            point_id: backed.outcome.id,
            point: &point,
            source: &source,
            request: &RestoreRequest::Disk {
                target: back.clone(),
                conflict: Conflict::Fail,
                format: DiskFormat::Raw,
            },
            staging_name: ".lifeboat-restore-test".into(),
            progress: Arc::new(Progress::default()),
            events: &mut |e: Event| panic!("unexpected event {e:?}"),
        })
        .expect("restore");
    let (a, b) = (std::fs::read(&raw).unwrap(), std::fs::read(&back).unwrap());
    assert!(a == b, "the restored image differs from the guest's view");
    assert!(
        !dir.path().join(".lifeboat-restore-test").exists(),
        "staging left behind"
    );
}

#[test]
fn a_raw_image_is_read_directly_and_a_qcow2_is_refused_by_the_raw_reader() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault_at(dir.path());
    let raw = dir.path().join("d.raw");
    std::fs::write(&raw, noise(3, 3 * MIB as usize)).unwrap();
    let qcow = dir.path().join("d.qcow2");
    to_qcow2(&raw, &qcow);
    let source = Source::Disk { image: raw.clone() };
    let b = for_source(&source)
        .backup(BackupJob {
            vault: &vault,
            source: &source,
            options: BackupOptions::default(),
            progress: Arc::new(Progress::default()),
            events: &mut |_| {},
        })
        .unwrap();
    assert_eq!(b.outcome.point.summary.bytes, 3 * MIB);
    // The store's raw reader does not mistake a qcow2 container for a disk.
    let head = std::fs::read(&qcow).unwrap();
    assert_eq!(
        &head[..4],
        b"QFI\xfb",
        "{} is not a qcow2 image ({} bytes)",
        qcow.display(),
        head.len()
    );
    let err = lifeboat_store::backup::backup_disk(
        &vault,
        &qcow,
        &BackupOptions::default(),
        Arc::new(Progress::default()),
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(err.code(), "INVALID_ARGUMENT");
    assert!(err.to_string().contains("qcow2"), "{err}");
}

#[test]
fn sources_and_restores_are_checked_by_their_workload() {
    let dir = tempfile::tempdir().unwrap();
    let folder = Source::Path {
        path: dir.path().join("x/"),
    };
    let err = for_source(&folder).check_source(&folder).unwrap_err();
    assert_eq!(err.code(), "SOURCE_NOT_FOUND");
    std::fs::create_dir(dir.path().join("x")).unwrap();
    let ok = for_source(&folder).check_source(&folder).unwrap();
    assert_eq!(ok.path(), dir.path().join("x"), "no trailing slash");
    let relative = Source::Path { path: "rel".into() };
    assert_eq!(
        for_source(&relative)
            .check_source(&relative)
            .unwrap_err()
            .code(),
        "INVALID_ARGUMENT"
    );
    let disk = Source::Disk {
        image: dir.path().join("x"),
    };
    let err = for_source(&disk).check_source(&disk).unwrap_err();
    assert_eq!(
        (err.code().as_str(), err.target()),
        ("INVALID_ARGUMENT", Some("source"))
    );
    let files_restore = RestoreRequest::Path {
        target: "/".into(),
        conflict: Conflict::Fail,
        include: vec![],
    };
    let err = for_source(&disk)
        .check_restore(&disk, &files_restore)
        .unwrap_err();
    assert_eq!(err.target(), Some("workload"));
    assert!(
        for_source(&folder)
            .check_restore(&folder, &files_restore)
            .is_ok()
    );
}
