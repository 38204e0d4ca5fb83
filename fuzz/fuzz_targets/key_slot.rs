//! Passphrase slots `keys/<key-id>` (docs/format.md §3): `KeySlot::parse`,
//! then `unwrap_key` with the seed corpus's passphrase.
//!
//! Argon2 is slow on purpose and the engine accepts up to 4 GiB and 100
//! passes from a slot, so `unwrap_key` is only tried on slots with
//! m_kib <= 64 and t <= 2 (the seeds use m_kib = 8, t = 1).
//!
//! Property: a parsed slot serializes and parses back to the same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lifeboat_fuzz::PASSPHRASE;
use lifeboat_store::keyfile::KeySlot;

fuzz_target!(|data: &[u8]| {
    let slot = match KeySlot::parse(data) {
        Ok(s) => s,
        Err(e) => return drop(e.to_string()),
    };
    let bytes = slot.to_bytes();
    let again = KeySlot::parse(&bytes).expect("a slot we wrote parses");
    assert_eq!(
        again.to_bytes(),
        bytes,
        "slot changed through to_bytes/parse"
    );
    let _ = KeySlot::id_of(data);

    if slot.m_kib <= 64 && slot.t <= 2 {
        match slot.unwrap_key(PASSPHRASE) {
            Ok(Some(master)) => {
                // Only a slot that really wraps a key gets here.
                let _ = lifeboat_store::crypto::VaultKeys::derive(&master);
            }
            Ok(None) => {}
            Err(e) => drop(e.to_string()),
        }
    }
});
