use super::*;
use crate::backend::BackendUrl;
use crate::crypto::MasterKey;

fn entry(keys: &VaultKeys, i: u32) -> PackEntry {
    PackEntry {
        kind: KIND_DATA,
        id: keys.chunk_id(&i.to_le_bytes()),
        offset: 8 + i,
        sealed_len: 100 + i,
        raw_len: 60 + i,
    }
}

#[test]
fn segments_roundtrip_and_lookup_through_cache() {
    let dir = tempfile::tempdir().unwrap();
    let backend = crate::backend::open(&BackendUrl::file(dir.path().join("v"))).unwrap();
    let keys = VaultKeys::derive(&MasterKey::generate());
    let pack_a = PackId([1; 32]);
    let pack_b = PackId([2; 32]);
    let ea: Vec<_> = (0..3000).map(|i| entry(&keys, i)).collect();
    let eb: Vec<_> = (3000..3100).map(|i| entry(&keys, i)).collect();
    let seg = Segment::build(
        LeaseId([7; 16]),
        &[(pack_a, ea.clone()), (pack_b, eb.clone())],
    );
    let (sid, bytes) = seg.encode(&keys);
    let back = Segment::decode(&keys, &bytes, "s").unwrap();
    assert_eq!(back.entries.len(), 3100);
    assert_eq!(back.writer, LeaseId([7; 16]));
    backend.put_if_absent(&segment_name(&sid), &bytes).unwrap();

    let ix = Index::load(backend.clone(), &keys, &dir.path().join("cache")).unwrap();
    for e in &ea {
        assert_eq!(
            ix.lookup(&e.id).unwrap(),
            Some(Location::from_entry(pack_a, e))
        );
    }
    for e in &eb {
        assert_eq!(
            ix.lookup(&e.id).unwrap(),
            Some(Location::from_entry(pack_b, e))
        );
    }
    for i in 5000..7000u32 {
        assert_eq!(ix.lookup(&keys.chunk_id(&i.to_le_bytes())).unwrap(), None);
    }
    let mut n = 0;
    ix.for_each(|_, _, _, _| {
        n += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(n, 3100);
    // Loading again uses the cache; removing the segment drops it.
    let ix2 = Index::load(backend.clone(), &keys, &dir.path().join("cache")).unwrap();
    assert_eq!(ix2.chunk_count(), 3100);
    backend.delete(&segment_name(&sid)).unwrap();
    let ix3 = Index::load(backend.clone(), &keys, &dir.path().join("cache")).unwrap();
    assert_eq!(ix3.chunk_count(), 0);
}

#[test]
fn damaged_segment_is_refused() {
    let keys = VaultKeys::derive(&MasterKey::generate());
    let seg = Segment::build(
        LeaseId::default(),
        &[(PackId([1; 32]), vec![entry(&keys, 1)])],
    );
    let (_, bytes) = seg.encode(&keys);
    for i in [0, 5, 20, bytes.len() - 1] {
        let mut bad = bytes.clone();
        bad[i] ^= 0x10;
        assert!(Segment::decode(&keys, &bad, "s").is_err());
    }
    assert!(Segment::decode(&keys, &bytes[..bytes.len() - 3], "s").is_err());
}
