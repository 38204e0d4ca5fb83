//! Writes the seed corpus: real, valid examples of every structure the fuzz
//! targets parse, made by the engine's own writers under the fuzz crate's
//! fixed master key, into `fuzz/corpus/<target>/seed-*`.
//!
//!     cargo run --example make-corpus        (from fuzz/)
//!
//! Seeds carry fresh random nonces, so every run writes different bytes with
//! the same meaning. Files the fuzzer adds (40-hex-digit names) are left alone.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::TimeZone;
use lifeboat_fuzz::{
    MemBackend, PASSPHRASE, fix_cache_checksum, keys, master_key, sample_segment, split_pieces,
};
use lifeboat_store::backend::Backend;
use lifeboat_store::blob;
use lifeboat_store::config::VaultConfig;
use lifeboat_store::format::*;
use lifeboat_store::id::{ChunkId, LeaseId, PackId, PointId};
use lifeboat_store::index::{Index, Segment, segment_name};
use lifeboat_store::keyfile::{KdfParams, KeySlot};
use lifeboat_store::manifest::{
    ChunkRef, Consistency, Entry, EntryType, Point, Summary, Workload,
};
use lifeboat_store::pack::{PackBuilder, PackEntry};

struct Out {
    root: PathBuf,
    written: usize,
}

impl Out {
    fn put(&mut self, target: &str, name: &str, bytes: &[u8]) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).expect("create corpus dir");
        let path = dir.join(format!("seed-{name}"));
        fs::write(&path, bytes).expect("write seed");
        self.written += 1;
        println!("{:6} {}", bytes.len(), path.display());
    }
}

/// A real pack of `plains`, with the plaintext of its header.
fn pack(plains: &[(u8, Vec<u8>)]) -> (Vec<u8>, Vec<u8>, Vec<PackEntry>) {
    let keys = keys();
    let mut b = PackBuilder::new();
    for (kind, plain) in plains {
        let id = keys.chunk_id(plain);
        let sealed = blob::encode(keys, *kind, &id, plain, DEFAULT_COMPRESSION_LEVEL);
        b.add(*kind, id, &sealed, plain.len() as u32);
    }
    let (_, bytes, entries) = b.finish(keys);
    let n = bytes.len();
    let hlen = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
    let hoff = n - 8 - hlen;
    let header = keys
        .open(AAD_PACK_HEADER, &bytes[hoff..n - 8], "seed")
        .expect("own header opens");
    (bytes, header, entries)
}

fn text(n: usize, word: &str) -> Vec<u8> {
    word.as_bytes().iter().copied().cycle().take(n).collect()
}

fn noise(n: usize, seed: u32) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn entries() -> Vec<Entry> {
    let id = |b: u8| ChunkId([b; 32]);
    let mut file = Entry::new("srv/data/a.txt".into(), EntryType::File);
    file.mode = 0o100644;
    file.user = Some("root".into());
    file.group = Some("root".into());
    file.size = 1234;
    file.mtime = 1_764_097_200_000_000_000;
    file.ctime = 1_764_097_200_000_000_000;
    file.atime = 1_764_097_200_000_000_000;
    file.ino = 42;
    file.nlink = 2;
    file.chunks = vec![
        ChunkRef::Id(id(0xab)),
        ChunkRef::Zero(65536),
        ChunkRef::Id(id(0x01)),
    ];
    file.xattrs = BTreeMap::from([("user.k".to_string(), "6869".to_string())]);
    file.changed = true;
    let mut dir = Entry::new("srv/data".into(), EntryType::Dir);
    dir.mode = 0o40755;
    let mut link = Entry::new("srv/data/l".into(), EntryType::Symlink);
    link.target = Some("../etc/passwd".into());
    let mut hard = Entry::new("srv/data/h".into(), EntryType::Hardlink);
    hard.link = Some("srv/data/a.txt".into());
    let mut dev = Entry::new("dev/null".into(), EntryType::Chardev);
    dev.rdev = Some(0x103);
    let mut disk = Entry::new("disk.img".into(), EntryType::Disk);
    disk.size = 3 << 20;
    disk.chunk_size = Some(1 << 20);
    disk.chunks = vec![ChunkRef::Id(id(7)), ChunkRef::Zero(2 << 20)];
    vec![
        dir,
        file,
        link,
        hard,
        Entry::new("srv/data/fifo".into(), EntryType::Fifo),
        Entry::new("srv/data/sock".into(), EntryType::Socket),
        dev,
        disk,
    ]
}

fn ndjson(es: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in es {
        serde_json::to_writer(&mut out, e).unwrap();
        out.push(b'\n');
    }
    out
}

fn point(tree: Vec<ChunkId>) -> Point {
    Point {
        version: 2,
        time: chrono::Utc
            .with_ymd_and_hms(2026, 11, 25, 19, 0, 0)
            .unwrap(),
        host: "web1".into(),
        user: "root".into(),
        kind: Workload::FILES,
        meta: serde_json::Map::new(),
        paths: vec!["/srv/data".into()],
        tags: vec!["daily".into()],
        parent: Some(PointId([3; 32])),
        tree,
        consistency: Consistency::ChangedDuringBackup,
        summary: Summary {
            files: 3,
            dirs: 1,
            bytes: 1234,
            added_bytes: 1000,
            added_stored_bytes: 700,
            new_chunks: 2,
            unchanged_files: 1,
            warnings: 1,
            duration_ms: 5,
        },
        warnings: vec!["srv/data/x: permission denied".into()],
    }
}

fn main() {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    let mut out = Out { root, written: 0 };
    let keys = keys();

    // ------------------------------------------------------------ packs
    let (pack1, header1, _) = pack(&[(KIND_DATA, text(300, "lifeboat "))]);
    let (pack3, header3, _) = pack(&[
        (KIND_DATA, text(2000, "abcabcabd")),
        (KIND_TREE, ndjson(&entries()[..2])),
        (KIND_DATA, noise(200, 1)),
    ]);
    let (pack0, header0, _) = pack(&[]);
    for (name, bytes, header) in [
        ("1-blob", &pack1, &header1),
        ("3-blobs", &pack3, &header3),
        ("empty", &pack0, &header0),
    ] {
        let hoff = (bytes.len() - 8 - header.len() - SEAL_OVERHEAD) as u64;
        let mut h = hoff.to_le_bytes().to_vec();
        h.extend_from_slice(header);
        out.put("pack_header", &format!("header-{name}"), &h);
        out.put("pack_header", &format!("pack-{name}"), bytes);
        out.put("pack_file", &format!("pack-{name}"), bytes);
        // Structured form: [header length u16][header plaintext][blob area].
        let mut s = (header.len() as u16).to_le_bytes().to_vec();
        s.extend_from_slice(header);
        s.extend_from_slice(&bytes[PROLOGUE_LEN..hoff as usize]);
        out.put("pack_file", &format!("parts-{name}"), &s);
    }

    // ------------------------------------------------------------ index
    let entry = |kind: u8, i: u32| PackEntry {
        kind,
        id: keys.chunk_id(&i.to_le_bytes()),
        offset: 8 + 100 * i,
        sealed_len: 100,
        raw_len: 50 + i,
    };
    let small = Segment::build(
        LeaseId([1; 16]),
        &[
            (
                PackId([0xa1; 32]),
                (0..3).map(|i| entry(KIND_DATA, i)).collect(),
            ),
            (
                PackId([0xb2; 32]),
                (3..5).map(|i| entry(KIND_TREE, i)).collect(),
            ),
        ],
    );
    let (_, seg_bytes) = small.encode(keys);
    let seg_plain = keys
        .open(AAD_INDEX, &seg_bytes[PROLOGUE_LEN..], "seed")
        .unwrap();
    out.put("index_segment", "segment", &seg_bytes);
    out.put("index_segment", "plain", &seg_plain);
    let (_, empty_seg) = Segment::build(LeaseId::default(), &[]).encode(keys);
    out.put(
        "index_segment",
        "plain-empty",
        &keys
            .open(AAD_INDEX, &empty_seg[PROLOGUE_LEN..], "seed")
            .unwrap(),
    );

    // One pack, no entries: decodes, but Index::load once refused its cache.
    let mut more_packs = vec![1u8; 16];
    more_packs.extend_from_slice(&5u64.to_le_bytes());
    more_packs.extend_from_slice(&1u32.to_le_bytes());
    more_packs.extend_from_slice(&[0xaa; 32]);
    more_packs.extend_from_slice(&0u32.to_le_bytes());
    out.put(
        "index_segment",
        "crash-more-packs-than-entries",
        &more_packs,
    );

    // A real cache file, made by Index::load itself.
    let sample = sample_segment();
    let (sid, sbytes) = sample.encode(keys);
    let backend: Arc<dyn Backend> = Arc::new(MemBackend::with([(segment_name(&sid), sbytes)]));
    let cache = std::env::temp_dir().join(format!("lifeboat-make-corpus-{}", std::process::id()));
    Index::load(backend, keys, &cache).expect("index loads");
    let cached = fs::read(cache.join(format!("{}.lbc", sid.to_hex()))).expect("cache file");
    fs::remove_dir_all(&cache).ok();
    out.put("index_cache", "cache", &cached);
    // Damaged cache files that once crashed the engine (kept as regression
    // seeds), in the current cache format and with a valid checksum.
    let magic = &cached[..8];
    let cache_file = |entries: u64, npacks: u32, nwords: u32, rest: &[u8]| {
        let mut c = magic.to_vec();
        c.extend_from_slice(&entries.to_le_bytes());
        c.extend_from_slice(&npacks.to_le_bytes());
        c.extend_from_slice(&nwords.to_le_bytes());
        c.extend_from_slice(&[9; 16]);
        c.extend_from_slice(&[0; 32]); // checksum
        c.extend_from_slice(rest);
        fix_cache_checksum(&mut c);
        c
    };
    // No Bloom words: every lookup divided by zero.
    out.put("index_cache", "crash-zero-bloom", &cache_file(0, 0, 0, &[]));
    // An entry count whose size in bytes overflows u64.
    out.put(
        "index_cache",
        "crash-count-overflow",
        &cache_file(u64::MAX / 49 + 1, 0, 1, &[]),
    );
    // One entry naming pack 0x01000000 of a one-pack table.
    let mut rest = vec![1u8; 32]; // pack table
    rest.extend_from_slice(&[0; 16]); // one Bloom word, one fence
    rest.extend_from_slice(&[2; 32]); // chunk id
    for v in [0x0100_0000u32, 8, 100, 10] {
        rest.extend_from_slice(&v.to_le_bytes());
    }
    rest.push(KIND_DATA);
    out.put(
        "index_cache",
        "crash-pack-number",
        &cache_file(1, 1, 1, &rest),
    );

    // ------------------------------------------------------------ points
    let p = point(vec![ChunkId([0xab; 32]), ChunkId([0xcd; 32])]);
    let (_, pbytes) = p.encode(keys);
    out.put("point_manifest", "point", &pbytes);
    let zplain = keys
        .open(AAD_POINT, &pbytes[PROLOGUE_LEN..], "seed")
        .unwrap();
    out.put("point_manifest", "plain-zstd", &zplain);
    let json = serde_json::to_vec(&p).unwrap();
    let mut raw = vec![ENCODING_RAW];
    raw.extend_from_slice(&json);
    out.put("point_manifest", "plain-raw", &raw);
    out.put("point_manifest", "json", &json);
    let mut disk = point(vec![]);
    disk.kind = Workload::DISK;
    disk.parent = None;
    disk.consistency = Consistency::Consistent;
    disk.summary = Summary::default();
    out.put(
        "point_manifest",
        "json-disk",
        &serde_json::to_vec(&disk).unwrap(),
    );

    // A workload of its own with metadata (version 2).
    let mut vm = point(vec![ChunkId([0xef; 32])]);
    vm.kind = Workload::new("vm").unwrap();
    vm.meta = serde_json::json!({"machine": {"cpus": 2, "memory_mib": 2048},
        "disks": ["vda", "vdb"]})
    .as_object()
    .unwrap()
    .clone();
    let (_, vbytes) = vm.encode(keys);
    out.put("point_manifest", "point-vm", &vbytes);
    // A version 1 manifest, as written before workloads were open.
    let mut v1 = serde_json::to_value(&p).unwrap();
    let o = v1.as_object_mut().unwrap();
    o.remove("meta");
    o.insert("version".into(), 1.into());
    let mut v1plain = vec![ENCODING_RAW];
    v1plain.extend_from_slice(&serde_json::to_vec(&v1).unwrap());
    out.put(
        "point_manifest",
        "point-v1",
        &lifeboat_fuzz::point_with_plain_version(&v1plain, 1),
    );

    // ------------------------------------------------------------ tree streams
    let stream = ndjson(&entries());
    // Control byte: low 2 bits = pieces - 1, top bit = fail one load.
    for (name, ctl, cuts) in [
        ("1-piece", 0u8, vec![]),
        ("2-pieces", 1, vec![100]),
        ("4-pieces", 3, vec![40, 128, 250]),
        ("fail-2nd", 0x80 | 0x04 | 2, vec![90, 180]),
    ] {
        let mut s = vec![ctl];
        s.extend_from_slice(&cuts);
        s.extend_from_slice(&stream);
        assert_eq!(split_pieces(&s).0.concat(), stream);
        out.put("tree_stream", name, &s);
    }
    let mut bad = vec![0u8];
    bad.extend_from_slice(b"{\"path\":\"../../etc/shadow\",\"type\":\"file\"}\n{\"path\":\"a//b\",\"type\":\"dir\"}\n{\"path\":\"x\",\"type\":\"file\",\"chunks\":[");
    out.put("tree_stream", "unsafe-and-truncated", &bad);

    // ------------------------------------------------------------ blobs
    // [kind][raw length u32][level selector][chunk id][payload]
    let blob_input = |kind: u8, raw_len: usize, id: &ChunkId, payload: &[u8]| {
        let mut s = vec![kind];
        s.extend_from_slice(&(raw_len as u32).to_le_bytes());
        s.push(10); // level 3
        s.extend_from_slice(&id.0);
        s.extend_from_slice(payload);
        s
    };
    for (name, kind, plain) in [
        ("zstd", KIND_DATA, text(1500, "lifeboat blob ")),
        ("raw", KIND_TREE, noise(120, 7)),
    ] {
        let id = keys.chunk_id(&plain);
        let sealed = blob::encode(keys, kind, &id, &plain, 3);
        out.put(
            "blob",
            &format!("sealed-{name}"),
            &blob_input(kind, plain.len(), &id, &sealed),
        );
        let inner = keys
            .open(
                &lifeboat_store::crypto::blob_aad(kind, &id),
                &sealed,
                "seed",
            )
            .unwrap();
        out.put(
            "blob",
            &format!("plain-{name}"),
            &blob_input(kind, plain.len(), &id, &inner),
        );
    }

    // ------------------------------------------------------------ key slots
    for (name, m_kib, t, p) in [("m8-t1-p1", 8, 1, 1), ("m32-t2-p2", 32, 2, 2)] {
        let slot = KeySlot::wrap(&master_key(), PASSPHRASE, KdfParams { m_kib, t, p }, "seed")
            .expect("wrap");
        out.put("key_slot", name, &slot.to_bytes());
    }
    let slow = KeySlot::wrap(
        &master_key(),
        b"other",
        KdfParams {
            m_kib: 8,
            t: 1,
            p: 1,
        },
        "",
    )
    .expect("wrap");
    let mut v: serde_json::Value = serde_json::from_slice(&slow.to_bytes()).unwrap();
    v["m_kib"] = 65536.into();
    v["t"] = 3.into();
    out.put(
        "key_slot",
        "default-params",
        &serde_json::to_vec(&v).unwrap(),
    );

    // ------------------------------------------------------------ config
    let mut c = VaultConfig::new_default();
    c.vault_id = "00112233445566778899aabbccddeeff".into();
    c.created = chrono::Utc
        .with_ymd_and_hms(2026, 11, 25, 19, 0, 0)
        .unwrap();
    let cj = serde_json::to_vec_pretty(&c).unwrap();
    out.put("vault_config", "default", &cj);
    let mut v: serde_json::Value = serde_json::from_slice(&cj).unwrap();
    v["lifeboat_vault"] = 2.into();
    out.put("vault_config", "newer", &serde_json::to_vec(&v).unwrap());
    v["lifeboat_vault"] = 1.into();
    v["chunker"]["min"] = 1.into();
    out.put(
        "vault_config",
        "out-of-range",
        &serde_json::to_vec(&v).unwrap(),
    );

    // ------------------------------------------------------------ leases
    let lease = br#"{"lease":"00112233445566778899aabbccddeeff","op":"backup","host":"web1","pid":1234,"pid_start":987654,"started_ms":1764097200000,"refreshed_ms":1764097200000}"#;
    let mut l = b"00112233445566778899aabbccddeeff.3\n".to_vec();
    l.extend_from_slice(lease);
    out.put("lease_record", "lease", &l);
    let mut l = b"00112233445566778899aabbccddeeff.x\n".to_vec();
    l.extend_from_slice(lease);
    out.put("lease_record", "bad-seq", &l);

    println!("{} seed files under {}", out.written, out.root.display());
}
