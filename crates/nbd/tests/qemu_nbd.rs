//! Against real qemu-nbd and real qcow2 images made with qemu-img/qemu-io.

use std::path::Path;
use std::process::Command;

use lifeboat_nbd::{ExportOptions, NbdBlockSource};
use lifeboat_store::blocks::{BlockSource, Extent};

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .expect("run qemu tool");
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn image(dir: &Path, bitmap: bool) -> std::path::PathBuf {
    let p = dir.join("disk.qcow2");
    let s = p.to_str().unwrap();
    run("qemu-img", &["create", "-q", "-f", "qcow2", s, "16M"]);
    run("qemu-io", &["-c", "write -P 0xab 1M 64k", s]);
    if bitmap {
        run("qemu-img", &["bitmap", "--add", s, "b0"]);
        run("qemu-io", &["-c", "write -P 0xcd 4M 128k", s]);
    }
    p
}

#[test]
fn size_extents_and_reads_match_qemu_img_convert() {
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path(), false);
    let mut src = NbdBlockSource::open(&img, &ExportOptions::default()).unwrap();
    assert_eq!(src.size(), 16 << 20);
    assert_eq!(
        src.allocated_extents().unwrap(),
        vec![Extent {
            offset: 1 << 20,
            len: 64 << 10
        }]
    );
    assert_eq!(src.changed_extents().unwrap(), None);
    let raw = dir.path().join("disk.raw");
    run(
        "qemu-img",
        &[
            "convert",
            "-O",
            "raw",
            img.to_str().unwrap(),
            raw.to_str().unwrap(),
        ],
    );
    let want = std::fs::read(&raw).unwrap();
    let mut got = vec![0x55u8; want.len()];
    src.read_at(0, &mut got).unwrap();
    assert!(got == want, "read differs from qemu-img convert");
    // Across the hole/data boundary.
    let mut b = vec![0x55u8; 8192];
    src.read_at((1 << 20) - 4096, &mut b).unwrap();
    assert!(b[..4096].iter().all(|&x| x == 0) && b[4096..].iter().all(|&x| x == 0xab));
    assert!(src.read_at(16 << 20, &mut [0u8; 1]).is_err());
}

#[test]
fn dirty_bitmap_reports_only_writes_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path(), true);
    let opts = ExportOptions {
        bitmap: Some("b0".into()),
        ..Default::default()
    };
    let mut src = NbdBlockSource::open(&img, &opts).unwrap();
    assert_eq!(
        src.changed_extents().unwrap(),
        Some(vec![Extent {
            offset: 4 << 20,
            len: 128 << 10
        }])
    );
    assert_eq!(src.allocated_extents().unwrap().len(), 2);
}

#[test]
fn missing_bitmap_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path(), false);
    let opts = ExportOptions {
        bitmap: Some("nope".into()),
        ..Default::default()
    };
    let e = NbdBlockSource::open(&img, &opts).err().expect("must fail");
    assert!(
        matches!(e.code().as_str(), "NBD_QEMU_FAILED" | "NBD_EXPORT_FAILED"),
        "{e}"
    );
}
