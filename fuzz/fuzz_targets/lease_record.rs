//! Writer leases `leases/<lease-id>.<seq>` (docs/format.md §9): the engine's
//! own `list_leases`, `live_leases` and `oldest_live_start` over a vault
//! holding one fuzzed lease object beside a real one.
//!
//! Input: the object's name after `leases/` up to the first newline, then
//! its body (JSON). The body is also parsed alone and checked with
//! `is_live` as this host and as another.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lifeboat_fuzz::MemBackend;
use lifeboat_store::lease::{LeaseRecord, list_leases, live_leases, oldest_live_start};

const REAL: &str = r#"{"lease":"000102030405060708090a0b0c0d0e0f","op":"backup","host":"elsewhere","pid":1,"pid_start":null,"started_ms":1764097200000,"refreshed_ms":1764097200000}"#;

fuzz_target!(|data: &[u8]| {
    let (name, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"0123.1"[..], data),
    };
    let name = format!("leases/{}", String::from_utf8_lossy(name));
    let backend = MemBackend::with([
        (name, body.to_vec()),
        (
            "leases/000102030405060708090a0b0c0d0e0f.7".to_string(),
            REAL.as_bytes().to_vec(),
        ),
    ]);
    let all = list_leases(&backend).expect("listing a memory backend works");
    assert!(all.len() <= 2);
    let _ = live_leases(&backend).expect("listing a memory backend works");
    let _ = oldest_live_start(&backend, None).expect("listing a memory backend works");

    if let Ok(r) = serde_json::from_slice::<LeaseRecord>(body) {
        let now = r.refreshed_ms.wrapping_add(1);
        let _ = r.is_live(now, &r.host);
        let _ = r.is_live(now, "not-this-host");
    }
});
