//! Disk images through the real binary and the real `qemu-img`: sparse raw
//! images, incremental image backups, qcow2 sources and qcow2 restores, and
//! an ext4 file system image made with `mke2fs -d`.

mod common;

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const MIB: u64 = 1 << 20;

fn require_tool(tool: &str, arg: &str) {
    let ok = Command::new(tool)
        .arg(arg)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "`{tool}` is missing: these tests need qemu-utils and e2fsprogs (apt-get install qemu-utils e2fsprogs)"
    );
}

fn qemu_img(args: &[&str]) -> std::process::Output {
    require_tool("qemu-img", "--version");
    Command::new("qemu-img")
        .args(args)
        .output()
        .expect("run qemu-img")
}

/// `qemu-img compare` (formats given explicitly); panics unless identical.
#[track_caller]
fn assert_identical(a: &Path, fa: &str, b: &Path, fb: &str) {
    let o = qemu_img(&["compare", "-f", fa, "-F", fb, s(a), s(b)]);
    assert!(
        o.status.success(),
        "qemu-img compare {} {}: {}{}",
        a.display(),
        b.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("identical"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

fn image_format(p: &Path) -> String {
    let o = qemu_img(&["info", "--output=json", s(p)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    v["format"].as_str().expect("format").to_string()
}

/// A 256 MiB sparse raw image: random islands, explicitly written zeros,
/// untouched holes. Returns the data regions written.
fn make_raw_image(p: &Path, rng: &mut Rng) -> Vec<(u64, u64)> {
    let f = std::fs::File::create(p).expect("create");
    f.set_len(256 * MIB).expect("set_len");
    let mut regions = Vec::new();
    // Random data at scattered, unaligned offsets.
    for i in 0..12u64 {
        let at = i * 21 * MIB + rng.below(MIB) + 4096;
        let len = 64 * 1024 + rng.below(900 * 1024);
        f.write_all_at(&rng.bytes(len as usize), at).expect("write");
        regions.push((at, len));
    }
    // Zeros written out (allocated, but still zeros): must not be stored.
    f.write_all_at(&vec![0u8; 3 * MIB as usize], 100 * MIB)
        .expect("write zeros");
    // Compressible data, and the very last byte.
    f.write_all_at(&rng.text(2 * MIB as usize), 200 * MIB + 17)
        .expect("write");
    regions.push((200 * MIB + 17, 2 * MIB));
    f.write_all_at(&[0xff], 256 * MIB - 1).expect("write");
    regions.push((256 * MIB - 1, 1));
    regions
}

/// The single file a disk restore wrote (from the JSON report).
fn written(out: &Out) -> PathBuf {
    let v = out.json();
    let w = v["report"]["written"].as_array().expect("written");
    assert_eq!(w.len(), 1, "{v}");
    PathBuf::from(w[0].as_str().expect("path"))
}

#[test]
fn raw_sparse_image_round_trip_and_incremental() {
    require_tool("qemu-img", "--version");
    let env = Env::new();
    let img = env.path("disk.raw");
    let mut rng = Rng(0xd15c);
    let regions = make_raw_image(&img, &mut rng);
    let data: u64 = regions.iter().map(|r| r.1).sum();
    let orig = env.path("disk-v1.raw");
    let st = Command::new("cp")
        .args(["--sparse=always", s(&img), s(&orig)])
        .status()
        .expect("cp");
    assert!(st.success());
    env.init();

    let out = env
        .run_json(&["backup", "--disk", s(&img)])
        .expect_code(exit::OK);
    let v = out.json();
    let id1 = v["id"].as_str().expect("id").to_string();
    let sum = &v["point"]["summary"];
    assert_eq!(v["point"]["kind"], "disk");
    assert_eq!(sum["bytes"], 256 * MIB, "{sum}");
    let added1 = sum["added_bytes"].as_u64().expect("added");
    // Only the 1 MiB pieces that hold data are stored: never the zeros.
    assert!(
        added1 >= data && added1 <= (regions.len() as u64 * 2 + 1) * MIB,
        "first backup added {added1} bytes for {data} bytes of data"
    );

    let t = env.path("r1");
    let out = env.restore(&id1, &t, &[]).expect_code(exit::OK);
    let back = written(&out);
    assert_eq!(back, t.join("disk.raw"));
    assert_identical(&img, "raw", &back, "raw");
    assert_eq!(std::fs::metadata(&back).expect("stat").len(), 256 * MIB);
    let alloc = allocated(&back);
    assert!(
        alloc < 64 * MIB,
        "restored image is not sparse: {alloc} bytes allocated of {}",
        256 * MIB
    );

    // Rewrite ~1% of the image in place, in a few runs.
    let mut touched = std::collections::BTreeSet::new();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&img)
        .expect("open");
    for at in [3 * MIB + 5000, 42 * MIB, 130 * MIB + 123_456, 201 * MIB] {
        let len = 640 * 1024;
        f.write_all_at(&rng.bytes(len as usize), at).expect("write");
        for c in at / MIB..=(at + len - 1) / MIB {
            touched.insert(c);
        }
    }
    drop(f);
    let out = env
        .run_json(&["backup", "--disk", s(&img)])
        .expect_code(exit::OK);
    let v = out.json();
    let id2 = v["id"].as_str().expect("id").to_string();
    let added2 = v["point"]["summary"]["added_bytes"]
        .as_u64()
        .expect("added");
    assert!(
        added2 <= touched.len() as u64 * MIB + 64 * 1024,
        "second backup added {added2} bytes; only {} MiB pieces changed",
        touched.len()
    );
    assert!(added2 < 256 * MIB / 20, "added {added2}");

    // Both points restore to their own image.
    let t = env.path("r2");
    let out = env.restore(&id2, &t, &[]).expect_code(exit::OK);
    assert_identical(&img, "raw", &written(&out), "raw");
    let t = env.path("r1b");
    let out = env.restore(&id1, &t, &[]).expect_code(exit::OK);
    assert_identical(&orig, "raw", &written(&out), "raw");
    // A second restore into the same folder is refused, --overwrite replaces.
    env.restore(&id1, &t, &[])
        .expect_error(exit::USAGE, "TARGET_EXISTS");
    let out = env
        .restore(&id2, &t, &["--overwrite"])
        .expect_code(exit::OK);
    assert_identical(&img, "raw", &written(&out), "raw");
    env.verify_clean("disk points");
}

#[test]
fn qcow2_source_and_qcow2_restore() {
    require_tool("qemu-img", "--version");
    let env = Env::new();
    let raw = env.path("vm.raw");
    make_raw_image(&raw, &mut Rng(0x9c0));
    let qcow = env.path("vm.qcow2");
    let o = qemu_img(&["convert", "-f", "raw", "-O", "qcow2", s(&raw), s(&qcow)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(image_format(&qcow), "qcow2");
    env.init();
    let out = env
        .run_json(&["backup", "--disk", s(&qcow)])
        .expect_code(exit::OK);
    let v = out.json();
    let id = v["id"].as_str().expect("id").to_string();
    assert_eq!(v["point"]["summary"]["bytes"], 256 * MIB, "{v}");
    // The conversion's scratch copy does not stay in the cache.
    let scratch: Vec<String> = walk(&env.cache)
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.ends_with(".raw"))
        .collect();
    assert!(scratch.is_empty(), "left in the cache: {scratch:?}");

    // Raw restore: the guest-visible bytes of the qcow2.
    let t = env.path("raw-out");
    let out = env.restore(&id, &t, &[]).expect_code(exit::OK);
    let back = written(&out);
    assert_identical(&qcow, "qcow2", &back, "raw");
    assert!(allocated(&back) < 64 * MIB, "raw restore is not sparse");

    // qcow2 restore.
    let t = env.path("qcow-out");
    let out = env
        .restore(&id, &t, &["--format", "qcow2"])
        .expect_code(exit::OK);
    let back = written(&out);
    assert_eq!(image_format(&back), "qcow2", "{}", back.display());
    assert_identical(&qcow, "qcow2", &back, "qcow2");
    assert_identical(&raw, "raw", &back, "qcow2");
    let left: Vec<String> = walk(&t).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        left.len(),
        1,
        "only the image is left in the target: {left:?}"
    );
    env.restore(&id, &env.path("bad"), &["--format", "vmdk"])
        .expect_error(exit::USAGE, "INVALID_ARGUMENT");
}

#[test]
fn ext4_image_made_by_mke2fs_round_trip() {
    require_tool("qemu-img", "--version");
    require_tool("mke2fs", "-V");
    let env = Env::new();
    let tree = env.path("tree");
    let mut rng = Rng(0xe4);
    for d in 0..4 {
        let dir = tree.join(format!("d{d}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        for i in 0..8 {
            let n = 1000 + rng.below(300_000) as usize;
            let data = if i % 2 == 0 {
                rng.bytes(n)
            } else {
                rng.text(n)
            };
            std::fs::write(dir.join(format!("f{i}")), data).expect("write");
        }
    }
    let img = env.path("fs.raw");
    let o = Command::new("mke2fs")
        .args(["-q", "-F", "-t", "ext4", "-E", "root_owner=0:0", "-d"])
        .arg(&tree)
        .arg(&img)
        .arg("48M")
        .output()
        .expect("run mke2fs");
    assert!(
        o.status.success(),
        "mke2fs: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    env.init();
    let out = env
        .run_json(&["backup", "--disk", s(&img)])
        .expect_code(exit::OK);
    let id = out.json()["id"].as_str().expect("id").to_string();
    let t = env.path("out");
    let out = env.restore(&id, &t, &[]).expect_code(exit::OK);
    let back = written(&out);
    assert_identical(&img, "raw", &back, "raw");
    let fsck = Command::new("e2fsck")
        .args(["-f", "-n"])
        .arg(&back)
        .output()
        .expect("run e2fsck");
    assert!(
        fsck.status.success(),
        "e2fsck on the restored image: {}{}",
        String::from_utf8_lossy(&fsck.stdout),
        String::from_utf8_lossy(&fsck.stderr)
    );
    assert!(allocated(&back) <= allocated(&img) + 8 * MIB);
    // ls shows the image as one disk entry with its holes.
    let ls = env.ok_json(&["ls", &id]);
    let e = &ls[0];
    assert_eq!(e["type"], "disk", "{ls}");
    assert_eq!(e["path"], "fs.raw");
    assert_eq!(e["size"], 48 * MIB);
}
