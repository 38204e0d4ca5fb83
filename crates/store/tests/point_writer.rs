//! The point writer: disk backups that reuse the parent's chunks for
//! unchanged extents without reading them, disk points that name their
//! parent, and the open point kind (format version 2 beside version 1).

mod common;

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use lifeboat_store::Vault;
use lifeboat_store::backup::{BackupOptions, BackupOutcome, backup_block_source, backup_disk};
use lifeboat_store::blocks::{BlockSource, Extent, RawFileSource};
use lifeboat_store::format::{AAD_POINT, ENCODING_RAW, POINT_MAGIC, POINT_VERSION, prologue};
use lifeboat_store::id::PointId;
use lifeboat_store::manifest::{Entry, EntryType, Point, Workload};
use lifeboat_store::restore::{RestoreOptions, entries, restore};
use lifeboat_store::upload::Progress;
use lifeboat_store::verify::{ReadData, verify};
use lifeboat_store::writer::{PointSpec, PointWriter};

const CHUNK: u64 = 256 * 1024;

/// A block source that counts what it is asked to read.
struct Counting {
    inner: RawFileSource,
    read: u64,
    reads: Vec<Extent>,
}

impl BlockSource for Counting {
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn allocated_extents(&mut self) -> lifeboat_store::Result<Vec<Extent>> {
        self.inner.allocated_extents()
    }
    fn changed_extents(&mut self) -> lifeboat_store::Result<Option<Vec<Extent>>> {
        self.inner.changed_extents()
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> lifeboat_store::Result<()> {
        self.read += buf.len() as u64;
        self.reads.push(Extent {
            offset,
            len: buf.len() as u64,
        });
        self.inner.read_at(offset, buf)
    }
}

use lifeboat_testkit::noise;

/// A 16 MiB image: data everywhere except a hole at 12–14 MiB.
fn make_image(path: &Path) {
    let f = std::fs::File::create(path).unwrap();
    f.set_len(16 << 20).unwrap();
    f.write_all_at(&noise(1, 12 << 20), 0).unwrap();
    f.write_all_at(&noise(2, 2 << 20), 14 << 20).unwrap();
}

fn disk_entry(v: &Vault, p: &Point) -> Entry {
    let index = v.load_index().unwrap();
    let es: Vec<Entry> = entries(v, &index, p).map(|e| e.unwrap()).collect();
    assert_eq!(es.len(), 1, "{es:?}");
    assert_eq!(es[0].kind, EntryType::Disk);
    es[0].clone()
}

fn restored_bytes(v: &Vault, id: &PointId, p: &Point, dir: &Path) -> Vec<u8> {
    restore(
        v,
        id,
        p,
        dir,
        &RestoreOptions::default(),
        Arc::new(Progress::default()),
    )
    .expect("restore");
    std::fs::read(dir.join("disk.img")).unwrap()
}

/// A disk backup of `img` with default options: every allocated piece read.
fn full_backup(v: &Vault, img: &Path) -> BackupOutcome {
    backup_disk(
        v,
        img,
        &BackupOptions::default(),
        Arc::new(Progress::default()),
        &mut |_| {},
    )
    .unwrap()
}

/// A disk backup of `img` read through `src`, with `parent` as its parent.
fn backup_after(
    v: &Vault,
    src: &mut dyn BlockSource,
    img: &Path,
    parent: &BackupOutcome,
) -> BackupOutcome {
    let opts = BackupOptions {
        parent: Some(parent.id),
        ..Default::default()
    };
    backup_block_source(v, src, img, &opts, Arc::new(Progress::default())).unwrap()
}

#[test]
fn a_disk_backup_with_changed_extents_reads_only_those() {
    let tmp = tempfile::tempdir().unwrap();
    let v = common::vault_at(tmp.path());
    let img = tmp.path().join("disk.img");
    make_image(&img);
    let first = full_backup(&v, &img);

    // Changes: inside one piece, across a piece boundary, and into the hole.
    let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    let changes = [
        Extent {
            offset: (1 << 20) + 100,
            len: 5000,
        },
        Extent {
            offset: (8 << 20) - 10,
            len: 20,
        },
        Extent {
            offset: 13 << 20,
            len: 4096,
        },
    ];
    for (i, c) in changes.iter().enumerate() {
        f.write_all_at(&noise(10 + i as u64, c.len as usize), c.offset)
            .unwrap();
    }
    drop(f);

    let mut src = Counting {
        inner: RawFileSource::open(&img)
            .unwrap()
            .with_changed_extents(changes.to_vec()),
        read: 0,
        reads: Vec::new(),
    };
    let second = backup_after(&v, &mut src, &img, &first);
    // One piece, two pieces, one piece: each read whole, nothing else.
    assert_eq!(src.read, 4 * CHUNK, "reads: {:?}", src.reads);
    let mut starts: Vec<u64> = src.reads.iter().map(|r| r.offset / CHUNK).collect();
    starts.sort();
    assert_eq!(starts, vec![4, 31, 32, 52]);
    assert_eq!(second.point.parent, Some(first.id));

    // The reused list is the list a full read makes.
    let full = full_backup(&v, &img);
    assert_eq!(full.point.parent, Some(second.id));
    let (e2, ef) = (disk_entry(&v, &second.point), disk_entry(&v, &full.point));
    assert_eq!(e2.chunks, ef.chunks);
    assert_ne!(e2.chunks, disk_entry(&v, &first.point).chunks);

    // Restore gives the new image byte for byte; the old point still the old one.
    let now = std::fs::read(&img).unwrap();
    let got = restored_bytes(&v, &second.id, &second.point, &tmp.path().join("r2"));
    assert!(got == now, "restored image differs from the source");
    let old = restored_bytes(&v, &first.id, &first.point, &tmp.path().join("r1"));
    assert_eq!(
        &old[(1 << 20) + 100..(1 << 20) + 110],
        &noise(1, 12 << 20)[(1 << 20) + 100..(1 << 20) + 110]
    );
    assert!(old != now);
    assert!(verify(&v, ReadData::All, false).unwrap().is_clean());
}

#[test]
fn without_changed_extents_every_allocated_piece_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let v = common::vault_at(tmp.path());
    let img = tmp.path().join("disk.img");
    make_image(&img);
    let first = full_backup(&v, &img);
    let mut src = Counting {
        inner: RawFileSource::open(&img).unwrap(),
        read: 0,
        reads: Vec::new(),
    };
    let second = backup_after(&v, &mut src, &img, &first);
    // The 2 MiB hole is never read, whatever the file system rounds it to.
    assert!(src.read <= 14 << 20, "{}", src.read);
    assert!(src.read >= 12 << 20, "{}", src.read);
    assert_eq!(
        disk_entry(&v, &second.point).chunks,
        disk_entry(&v, &first.point).chunks
    );
}

#[test]
fn a_disk_point_names_its_parent() {
    let tmp = tempfile::tempdir().unwrap();
    let v = common::vault_at(tmp.path());
    let img = tmp.path().join("disk.img");
    std::fs::write(&img, noise(3, 1 << 20)).unwrap();
    let run = |opts: &BackupOptions| {
        backup_disk(&v, &img, opts, Arc::new(Progress::default()), &mut |_| {}).unwrap()
    };
    let a = run(&BackupOptions::default());
    assert_eq!(a.point.parent, None);
    assert_eq!(a.point.kind, Workload::DISK);
    assert_eq!(a.point.version, POINT_VERSION as u32);
    let b = run(&BackupOptions::default());
    assert_eq!(b.point.parent, Some(a.id), "latest disk point of the image");
    let c = run(&BackupOptions {
        parent: Some(a.id),
        ..Default::default()
    });
    assert_eq!(c.point.parent, Some(a.id), "the parent the caller named");
    // Another host's image does not count.
    let d = run(&BackupOptions {
        host: Some("elsewhere".into()),
        ..Default::default()
    });
    assert_eq!(d.point.parent, None);
    // The committed manifest says the same.
    assert_eq!(v.load_point(&b.id).unwrap().parent, Some(a.id));
}

/// Seals a manifest plaintext under a chosen prologue version.
fn sealed(v: &Vault, version: u8, json: &serde_json::Value) -> Vec<u8> {
    let mut plain = vec![ENCODING_RAW];
    plain.extend_from_slice(&serde_json::to_vec(json).unwrap());
    let mut out = prologue(POINT_MAGIC, version).to_vec();
    out.extend_from_slice(&v.keys().seal(AAD_POINT, &plain));
    out
}

fn v1_json(kind: &str) -> serde_json::Value {
    serde_json::json!({
        "version": 1, "time": "2026-11-25T19:00:00Z", "host": "web1", "user": "root",
        "kind": kind, "paths": ["/srv/disk.img"], "tags": ["daily"], "parent": null,
        "tree": [], "consistency": "consistent",
        "summary": { "files": 1, "dirs": 0, "bytes": 5, "added_bytes": 5, "added_stored_bytes": 9,
                     "new_chunks": 1, "warnings": 0, "duration_ms": 3 },
        "warnings": []
    })
}

#[test]
fn version_1_manifests_still_decode() {
    let tmp = tempfile::tempdir().unwrap();
    let v = common::vault_at(tmp.path());
    for (kind, want) in [("files", Workload::FILES), ("disk", Workload::DISK)] {
        let p = Point::decode(v.keys(), &sealed(&v, 1, &v1_json(kind)), "v1").expect("v1 decodes");
        assert_eq!(p.version, 1);
        assert_eq!(p.kind, want);
        assert!(p.meta.is_empty());
        assert_eq!(p.tags, vec!["daily".to_string()]);
        assert_eq!(p.summary.added_stored_bytes, 9);
        // Written again, it becomes a version 2 manifest with the same content.
        let (_, bytes) = p.encode(v.keys());
        assert_eq!(bytes[4], 2);
        let back = Point::decode(v.keys(), &bytes, "v2").unwrap();
        assert_eq!((back.version, back.kind, back.paths), (2, want, p.paths));
    }
    // Version 1 knew only two kinds, and its JSON must say version 1.
    let err = Point::decode(v.keys(), &sealed(&v, 1, &v1_json("vm")), "v1").unwrap_err();
    assert_eq!(err.code(), "DATA_CORRUPT");
    let mut two = v1_json("files");
    two["version"] = 2.into();
    assert!(Point::decode(v.keys(), &sealed(&v, 1, &two), "v1").is_err());
    // Neither can a version 2 object claim to be version 1 inside.
    let mut v2 = v1_json("files");
    v2["meta"] = serde_json::json!({});
    assert!(Point::decode(v.keys(), &sealed(&v, 2, &v2), "v2").is_err());
    v2["version"] = 2.into();
    assert!(Point::decode(v.keys(), &sealed(&v, 2, &v2), "v2").is_ok());
    // Unknown versions are refused.
    assert!(Point::decode(v.keys(), &sealed(&v, 3, &v2), "v3").is_err());
}

#[test]
fn version_2_round_trips_a_workload_with_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let v = common::vault_at(tmp.path());
    let vm = Workload::new("vm").unwrap();
    let meta = serde_json::json!({
        "machine": { "cpus": 2, "memory_mib": 2048, "firmware": "uefi" },
        "disks": [ { "name": "vda.img", "bus": "virtio" } ]
    })
    .as_object()
    .unwrap()
    .clone();

    // Written through the point writer: a stream, a block device, entries.
    let img = tmp.path().join("vda.img");
    std::fs::write(&img, noise(5, 600_000)).unwrap();
    let spec = PointSpec {
        tags: vec!["nightly".into()],
        meta: meta.clone(),
        ..PointSpec::new(vm.clone(), "hv1", vec!["vm:web1".into()])
    };
    let mut w = PointWriter::begin(&v, spec, Arc::new(Progress::default())).unwrap();
    let xml = b"<domain><name>web1</name></domain>".repeat(100);
    let written = w.write_stream(&xml[..], "machine description").unwrap();
    assert_eq!(written.bytes, xml.len() as u64);
    let mut src = RawFileSource::open(&img).unwrap();
    let blocks = w.write_blocks(&mut src, None).unwrap();
    assert_eq!(blocks.bytes_read, 600_000);
    assert_eq!(blocks.chunks.len(), 3);
    w.add_entry(&blocks.disk_entry("vda.img".into())).unwrap();
    w.add_entry(&Entry {
        size: written.bytes,
        chunks: written.chunks,
        mode: 0o100600,
        ..Entry::new("web1.xml".into(), EntryType::File)
    })
    .unwrap();
    let out = w.commit().unwrap();

    let p = v.load_point(&out.id).unwrap();
    assert_eq!(p.version, 2);
    assert_eq!(p.kind, vm);
    assert_eq!(p.kind.as_str(), "vm");
    assert_eq!(p.meta, meta);
    assert_eq!(p.tags, vec!["nightly".to_string()]);
    let (id2, bytes) = p.encode(v.keys());
    assert_eq!(Point::decode(v.keys(), &bytes, "again").unwrap().meta, meta);
    assert_ne!(id2, PointId([0; 32]));
    assert!(verify(&v, ReadData::All, false).unwrap().is_clean());

    // A point of a workload this build has no restore for still lists and
    // forgets like any other (gc groups it by its own name).
    assert_eq!(v.points().unwrap().0.len(), 1);

    for bad in ["", "VM", "1vm", "vm_1", "vm/x", &"a".repeat(65)] {
        assert!(Workload::new(bad).is_err(), "{bad:?} accepted");
    }
    for good in ["vm", "postgres-16", &"a".repeat(64)] {
        assert!(Workload::new(good).is_ok(), "{good:?} refused");
    }
}

#[test]
fn a_writer_dropped_without_commit_leaves_no_point_and_no_lease() {
    let tmp = tempfile::tempdir().unwrap();
    let v = common::vault_at(tmp.path());
    let mut w = PointWriter::begin(
        &v,
        PointSpec::new(Workload::FILES, "h", vec!["/x".into()]),
        Arc::new(Progress::default()),
    )
    .unwrap();
    w.write_stream(&noise(9, 100_000)[..], "x").unwrap();
    drop(w);
    assert!(v.point_ids().unwrap().is_empty());
    assert!(v.backend().list("leases/").unwrap().is_empty());
    assert!(verify(&v, ReadData::All, false).unwrap().is_clean());
    // The next backup goes ahead as usual.
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("a"), b"a").unwrap();
    let out = common::backup(&v, &src);
    assert_eq!(out.point.kind, Workload::FILES);
    assert_eq!(v.point_ids().unwrap(), vec![out.id]);
}
