//! Key-encryption keys through the job service: an old plain key file is
//! re-wrapped at start; a customer key file that goes missing or is
//! replaced makes backup and restore jobs fail with KEY_UNAVAILABLE /
//! KEY_MISMATCH and loses nothing; putting it back brings the vault back,
//! earlier points included; rotation to another key file and then to an
//! external command (a python3 script written here) re-wraps the secret
//! without touching the store's files.

mod support;

use lifeboat_model::job::JobStatus;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lifeboat_catalog::{Item, Job};
use lifeboat_service::{KekProvider, KeyConfig, ServiceHandle, VaultStorage, ops};
use support::{Env, restore_req, snapshot};

async fn backup(env: &Env, h: &ServiceHandle, item: &Item) -> Job {
    let job = ops::enqueue_backup_now(&env.catalog, env.clock.as_ref(), item, None)
        .await
        .unwrap();
    h.wake();
    env.wait_job(job.id).await
}

async fn restore(env: &Env, h: &ServiceHandle, item: &Item, point: &str, target: &Path) -> Job {
    let req = restore_req(point, &target.display().to_string(), None, &[]);
    env.restore(h, item, &req).await
}

fn assert_failed(j: &Job, code: &str, needle: &str) {
    assert_eq!(j.state, JobStatus::Failed, "{j:?}");
    assert_eq!(j.errors[0]["errorCode"], code, "{j:?}");
    let msg = j.errors[0]["errorString"].as_str().unwrap_or_default();
    assert!(msg.contains(needle), "{msg}");
}

fn keys(current: KekProvider, previous: Vec<KekProvider>) -> KeyConfig {
    KeyConfig {
        current,
        previous,
        ..KeyConfig::default()
    }
}

/// Every file of a store folder with its bytes (what rotation must not touch).
fn store_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    snapshot(dir)
}

const KMS: &str = r#"#!/usr/bin/env python3
# A toy KMS for the test: XOR with a stream derived from a key file.
# Called as `kms.py KEYFILE wrap|unwrap`.
import hashlib, sys
keyfile, verb = sys.argv[1], sys.argv[2]
try:
    key = open(keyfile, "rb").read()
except OSError:
    sys.stderr.write("kms key missing\n")
    sys.exit(3)
data = bytes.fromhex(sys.stdin.readline().strip())
tag = hashlib.sha256(b"tag" + key).digest()[:8]
def xor(b):
    s = hashlib.shake_256(key).digest(len(b))
    return bytes(x ^ y for x, y in zip(b, s))
if verb == "wrap":
    print((tag + xor(data)).hex())
elif verb == "unwrap":
    if data[:8] != tag:
        sys.stderr.write("not wrapped by this key\n")
        sys.exit(4)
    print(xor(data[8:]).hex())
else:
    sys.exit(2)
"#;

fn write_kms(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("kms.py");
    std::fs::write(&p, KMS).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

both!(lost_key_and_rotation, "2026-05-01T12:00:00Z", |env| {
    let (src, v, item) = env.protected_tree("src", 11, "keys", "docs").await;
    let key_path = env.storage().key_path(v.id);
    let vault_dir = env.storage().vault_dir(v.id);

    // Turn the vault's key file into the old plain format.
    let plain = {
        let s = env.storage();
        let file = std::fs::read(&key_path).unwrap();
        s.keys().unwrap(&v.id.to_string(), &file).unwrap()
    };
    std::fs::write(&key_path, [plain.as_slice(), b"\n"].concat()).unwrap();

    // Start on a customer-managed key file: the plain file is re-wrapped.
    let cust = env.data().join("customer.key");
    std::fs::write(&cust, format!("{}\n", "ab".repeat(32))).unwrap();
    let mut cfg = env.config();
    cfg.keys = keys(KekProvider::File(cust.clone()), vec![]);
    let h = env.start_with(cfg.clone()).await;
    let file = std::fs::read(&key_path).unwrap();
    assert!(file.starts_with(b"LBVK"), "re-wrapped");
    assert!(!file.windows(plain.len()).any(|w| w == plain.as_slice()));
    assert_eq!(file[5], 2, "wrapped by a key file");

    let b1 = backup(&env, &h, &item).await;
    assert_eq!(b1.state, JobStatus::Completed, "{b1:?}");
    let p1 = env.points(&item).await.pop().unwrap();
    let before = snapshot(&src);

    // The customer key goes away: jobs fail with the code, naming the
    // vault and the provider, and nothing is lost.
    let aside = env.data().join("customer.key.aside");
    std::fs::rename(&cust, &aside).unwrap();
    let j = backup(&env, &h, &item).await;
    assert_failed(&j, "KEY_UNAVAILABLE", "customer.key");
    assert!(
        j.errors[0]["errorString"]
            .as_str()
            .unwrap()
            .contains(&format!("vault {}", v.id))
    );
    let j = restore(&env, &h, &item, &p1.store_id, &env.data().join("r0")).await;
    assert_failed(&j, "KEY_UNAVAILABLE", "customer.key");
    assert_eq!(env.points(&item).await.len(), 1);

    // A different key in its place: KEY_MISMATCH.
    std::fs::write(&cust, [0x5au8; 32]).unwrap();
    let j = backup(&env, &h, &item).await;
    assert_failed(&j, "KEY_MISMATCH", "customer.key");
    let j = restore(&env, &h, &item, &p1.store_id, &env.data().join("r1")).await;
    assert_failed(&j, "KEY_MISMATCH", "customer.key");

    // The right key back: everything works, the earlier point restores.
    std::fs::rename(&aside, &cust).unwrap();
    let j = backup(&env, &h, &item).await;
    assert_eq!(j.state, JobStatus::Completed, "{j:?}");
    let r2 = env.data().join("r2");
    let j = restore(&env, &h, &item, &p1.store_id, &r2).await;
    assert_eq!(j.state, JobStatus::Completed, "{j:?}");
    assert_eq!(snapshot(&r2.join(src.strip_prefix("/").unwrap())), before);
    h.shutdown(Duration::from_secs(5)).await;

    // Rotation to a new key file: the old one is only needed during the
    // start; the store's files are not rewritten.
    let store_before = store_files(&vault_dir);
    let cust2 = env.data().join("customer2.key");
    std::fs::write(&cust2, [0x17u8; 32]).unwrap();
    let mut cfg2 = env.config();
    cfg2.keys = keys(
        KekProvider::File(cust2.clone()),
        vec![KekProvider::File(cust.clone())],
    );
    let h = env.start_with(cfg2).await;
    h.shutdown(Duration::from_secs(5)).await;
    assert_eq!(store_files(&vault_dir), store_before);
    std::fs::remove_file(&cust).unwrap();
    let mut cfg3 = env.config();
    cfg3.keys = keys(KekProvider::File(cust2.clone()), vec![]);
    let h = env.start_with(cfg3).await;
    let r3 = env.data().join("r3");
    let j = restore(&env, &h, &item, &p1.store_id, &r3).await;
    assert_eq!(j.state, JobStatus::Completed, "{j:?}");
    assert_eq!(snapshot(&r3.join(src.strip_prefix("/").unwrap())), before);
    h.shutdown(Duration::from_secs(5)).await;

    // Rotation to an external command (a toy KMS).
    let kms = write_kms(env.data());
    let kms_key = env.data().join("kms.key");
    std::fs::write(&kms_key, b"kms key material").unwrap();
    let mut cfg4 = env.config();
    cfg4.keys = keys(
        KekProvider::Command(format!("{} {}", kms.display(), kms_key.display())),
        vec![KekProvider::File(cust2.clone())],
    );
    let h = env.start_with(cfg4.clone()).await;
    assert_eq!(
        std::fs::read(&key_path).unwrap()[5],
        3,
        "wrapped by the command"
    );
    let j = backup(&env, &h, &item).await;
    assert_eq!(j.state, JobStatus::Completed, "{j:?}");
    // The KMS loses its key: exit 3 → KEY_UNAVAILABLE.
    std::fs::rename(&kms_key, env.data().join("kms.key.aside")).unwrap();
    let j = backup(&env, &h, &item).await;
    assert_failed(&j, "KEY_UNAVAILABLE", "kms key missing");
    // Another KMS key: exit 4 → KEY_MISMATCH.
    std::fs::write(&kms_key, b"another key").unwrap();
    let j = restore(&env, &h, &item, &p1.store_id, &env.data().join("r4")).await;
    assert_failed(&j, "KEY_MISMATCH", "not wrapped by this key");
    std::fs::rename(env.data().join("kms.key.aside"), &kms_key).unwrap();
    let r5 = env.data().join("r5");
    let j = restore(&env, &h, &item, &p1.store_id, &r5).await;
    assert_eq!(j.state, JobStatus::Completed, "{j:?}");
    assert_eq!(snapshot(&r5.join(src.strip_prefix("/").unwrap())), before);
    h.shutdown(Duration::from_secs(5)).await;
    assert_eq!(
        env.points(&item).await.len(),
        3,
        "every successful backup kept"
    );
});

/// A crash between the temporary file and the rename: the vault still
/// opens, and the next start finishes the rotation and removes the
/// leftover.
#[test]
fn interrupted_rotation_leaves_vaults_openable() {
    support::cheap_kdf();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = VaultStorage::new(&data);
    let id = lifeboat_catalog::VaultId(5);
    s.create(id).unwrap();
    let key_path = s.key_path(id);
    let original = std::fs::read(&key_path).unwrap();
    // What a rotation to a key file would have written, left as a temp file.
    let cust = dir.path().join("c.key");
    std::fs::write(&cust, [1u8; 32]).unwrap();
    let s2 = VaultStorage::with_keys(&data, keys(KekProvider::File(cust.clone()), vec![]));
    let secret = s.keys().unwrap("5", &original).unwrap();
    let tmp = key_path.with_file_name(".vault-5.key.tmp-999999");
    std::fs::write(&tmp, s2.keys().wrap("5", &secret).unwrap()).unwrap();
    // The old file is intact: opens with the platform key.
    assert!(VaultStorage::new(&data).open(id).is_ok());
    // The next start finishes the job.
    let (n, failed) = s2.rewrap_all().unwrap();
    assert_eq!((n, failed.len()), (1, 0));
    assert!(!tmp.exists());
    assert!(s2.open(id).is_ok());
    // A ring without the key file cannot open it and says why.
    let Err(e) = VaultStorage::new(&data).open(id) else {
        panic!("opened without the key file");
    };
    assert_eq!(e.code(), "KEY_UNAVAILABLE");
}
