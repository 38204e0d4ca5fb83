use super::*;

fn entry() -> NewAuditEntry {
    NewAuditEntry {
        time: DateTime::from_timestamp(1_800_000_000, 123_456_000).unwrap(),
        principal: "admin".into(),
        principal_id: Some(1),
        source: "127.0.0.1:5000".into(),
        operation: "create_vault".into(),
        target: "/api/v1/vaults".into(),
        phase: PHASE_RESULT.into(),
        status: Some(201),
        error_code: None,
        request_id: "r1".into(),
    }
}

#[test]
fn every_field_is_in_the_hash() {
    let k = AuditKey::new([7; 32]);
    let base = row_hash(&k, 1, &entry(), GENESIS);
    assert_eq!(base, row_hash(&k, 1, &entry(), GENESIS));
    let variants: Vec<fn(&mut NewAuditEntry)> = vec![
        |e| e.time += chrono::TimeDelta::microseconds(1),
        |e| e.principal.push('x'),
        |e| e.principal_id = None,
        |e| e.source.push('x'),
        |e| e.operation.push('x'),
        |e| e.target.push('x'),
        |e| e.phase = PHASE_ATTEMPT.into(),
        |e| e.status = Some(200),
        |e| e.error_code = Some(String::new()),
        |e| e.request_id.push('x'),
    ];
    for (i, v) in variants.iter().enumerate() {
        let mut e = entry();
        v(&mut e);
        assert_ne!(row_hash(&k, 1, &e, GENESIS), base, "field {i}");
    }
    assert_ne!(row_hash(&k, 2, &entry(), GENESIS), base);
    assert_ne!(row_hash(&k, 1, &entry(), "00"), base);
    assert_ne!(
        row_hash(&AuditKey::new([8; 32]), 1, &entry(), GENESIS),
        base
    );
    // Moving a byte between adjacent fields changes the hash too.
    let mut a = entry();
    a.principal = "ad".into();
    a.source = "min127.0.0.1:5000".into();
    let mut b = entry();
    b.principal = "admin".into();
    b.source = "127.0.0.1:5000".into();
    assert_ne!(row_hash(&k, 1, &a, GENESIS), row_hash(&k, 1, &b, GENESIS));
    assert_ne!(head_mac(&k, 1, &base), base);
}

#[test]
fn cursors_round_trip() {
    assert_eq!(decode_cursor(&encode_cursor(42)).unwrap(), 42);
    assert!(decode_cursor("00").is_err());
    assert!(decode_cursor(&hex::encode([b'p'; 9])).is_err());
    assert_eq!(format!("{:?}", AuditKey::new([1; 32])), "AuditKey(***)");
}
