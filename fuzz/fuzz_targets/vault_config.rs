//! The plaintext `config` object (docs/format.md §2): `VaultConfig::parse`.
//!
//! Properties: a config that parses validates, is of a version this build
//! knows, and parses again from its own serialization.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lifeboat_store::Error;
use lifeboat_store::config::VaultConfig;
use lifeboat_store::format::VAULT_FORMAT_VERSION;

fuzz_target!(|data: &[u8]| {
    match VaultConfig::parse(data) {
        Ok(c) => {
            assert!(c.lifeboat_vault <= VAULT_FORMAT_VERSION);
            c.validate().expect("a parsed config validates");
            let json = serde_json::to_vec(&c).expect("a config serializes");
            let again = VaultConfig::parse(&json).expect("a config we wrote parses");
            assert_eq!(serde_json::to_vec(&again).expect("serializes"), json);
        }
        Err(Error::VaultFormatNewer { found, known }) => {
            assert!(
                found > known,
                "VAULT_FORMAT_NEWER for version {found} <= {known}"
            );
        }
        Err(e) => {
            let _ = (e.code(), e.hint(), e.to_string());
        }
    }
});
