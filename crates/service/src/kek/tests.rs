use super::*;
use std::os::unix::fs::PermissionsExt;

#[test]
fn providers_parse() {
    assert_eq!("platform".parse(), Ok(KekProvider::Platform));
    assert_eq!(
        "file:/k/a.key".parse(),
        Ok(KekProvider::File("/k/a.key".into()))
    );
    assert_eq!(
        "command:/bin/kms --x".parse(),
        Ok(KekProvider::Command("/bin/kms --x".into()))
    );
    assert!("file:".parse::<KekProvider>().is_err());
    assert!("kms".parse::<KekProvider>().is_err());
}

#[test]
fn wrap_unwrap_platform_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let ring = KeyRing::new(dir.path().join("secrets"), KeyConfig::default());
    ring.prepare().unwrap();
    let w = ring.wrap("3", b"secret-of-three").unwrap();
    assert!(ring.is_current(&w));
    assert_eq!(ring.unwrap("3", &w).unwrap(), b"secret-of-three");
    // Bound to its vault.
    assert_eq!(
        ring.unwrap("4", &w).unwrap_err().code(),
        codes::KEY_MISMATCH
    );
    // A flipped ciphertext byte.
    let mut bad = w.clone();
    let n = bad.len() - 1;
    bad[n] ^= 1;
    assert_eq!(
        ring.unwrap("3", &bad).unwrap_err().code(),
        codes::KEY_MISMATCH
    );
    // Truncated.
    assert_eq!(
        ring.unwrap("3", &w[..20]).unwrap_err().code(),
        codes::KEY_FILE_DAMAGED
    );
    // Old plain files.
    assert_eq!(ring.unwrap("3", b"abcd\n").unwrap(), b"abcd");

    let kf = dir.path().join("customer.key");
    fs::write(&kf, hex::encode([7u8; 32])).unwrap();
    let cfg = KeyConfig {
        current: KekProvider::File(kf.clone()),
        ..KeyConfig::default()
    };
    let ring2 = KeyRing::new(dir.path().join("secrets"), cfg);
    let w2 = ring2.wrap("3", b"s").unwrap();
    assert!(!ring.is_current(&w2));
    assert_eq!(ring2.unwrap("3", &w2).unwrap(), b"s");
    // The platform ring knows no file provider.
    assert_eq!(
        ring.unwrap("3", &w2).unwrap_err().code(),
        codes::KEY_UNAVAILABLE
    );
    fs::write(&kf, [9u8; 32]).unwrap();
    assert_eq!(
        ring2.unwrap("3", &w2).unwrap_err().code(),
        codes::KEY_MISMATCH
    );
    fs::remove_file(&kf).unwrap();
    let e = ring2.unwrap("3", &w2).unwrap_err();
    assert_eq!(e.code(), codes::KEY_UNAVAILABLE);
    assert!(e.to_string().contains("vault 3"), "{e}");
    assert!(e.to_string().contains("customer.key"), "{e}");
}

#[test]
fn platform_rotation_keeps_the_old_key() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    let ring = KeyRing::new(&secrets, KeyConfig::default());
    ring.prepare().unwrap();
    let w = ring.wrap("1", b"one").unwrap();
    let rot = KeyRing::new(
        &secrets,
        KeyConfig {
            rotate_platform: true,
            ..KeyConfig::default()
        },
    );
    rot.prepare().unwrap();
    assert!(!rot.is_current(&w));
    assert_eq!(rot.unwrap("1", &w).unwrap(), b"one");
    let mode = fs::metadata(rot.platform_path())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}
