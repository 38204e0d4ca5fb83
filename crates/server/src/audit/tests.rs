use super::*;

#[test]
fn operations_are_named_from_the_routes() {
    assert_eq!(
        operation_name(&Method::DELETE, "/api/v1/vaults/prod"),
        "vault.delete"
    );
    assert_eq!(
        operation_name(&Method::POST, "/api/v1/vaults/prod/items/data/backup"),
        "item.backup_now"
    );
    assert_eq!(
        operation_name(&Method::PATCH, "/api/v1/vaults/prod"),
        "vault.update"
    );
    assert_eq!(
        operation_name(&Method::POST, "/api/v1/nothing"),
        "POST (unknown route)"
    );
    assert!(is_mutating(&Method::PATCH));
    assert!(!is_mutating(&Method::GET));
}

#[test]
fn keys_are_created_once_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets").join(KEY_FILE);
    let a = create_key(&path).unwrap();
    // A second creation (another server) gets the first key.
    let b = create_key(&path).unwrap();
    assert_eq!(a, b);
    assert_eq!(read_key(&path).unwrap(), Some(a));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    std::fs::write(&path, "not hex").unwrap();
    let e = read_key(&path).unwrap_err().to_string();
    assert!(e.contains("AUDIT_KEY_INVALID"), "{e}");
    assert_eq!(read_key(&dir.path().join("none")).unwrap(), None);
    assert_eq!(cut("aéb", 2), "a");
}
