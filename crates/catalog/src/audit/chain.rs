//! The chain's hashes: the canonical encoding of a row and the keyed MACs
//! of rows and of the head.

use super::{AuditKey, NewAuditEntry};
use crate::types::trunc_micros;

/// Feeds the canonical encoding of fields into a hasher: every value is
/// tagged and length-prefixed, so no two different rows encode alike.
struct Canon(blake3::Hasher);

impl Canon {
    fn keyed(key: &[u8; 32], domain: &str) -> Self {
        let mut c = Canon(blake3::Hasher::new_keyed(key));
        c.str(domain);
        c
    }
    fn bytes(&mut self, b: &[u8]) {
        self.0.update(&(b.len() as u64).to_be_bytes());
        self.0.update(b);
    }
    fn str(&mut self, s: &str) {
        self.0.update(b"s");
        self.bytes(s.as_bytes());
    }
    fn int(&mut self, v: i64) {
        self.0.update(b"i");
        self.0.update(&v.to_be_bytes());
    }
    fn opt_int(&mut self, v: Option<i64>) {
        match v {
            Some(v) => self.int(v),
            None => {
                self.0.update(b"n");
            }
        }
    }
    fn opt_str(&mut self, v: Option<&str>) {
        match v {
            Some(v) => self.str(v),
            None => {
                self.0.update(b"n");
            }
        }
    }
    fn hex(self) -> String {
        self.0.finalize().to_hex().to_string()
    }
}

/// The hash of row `seq` with fields `e` following `prev_hash`.
pub fn row_hash(key: &AuditKey, seq: i64, e: &NewAuditEntry, prev_hash: &str) -> String {
    let mut c = Canon::keyed(&key.row, "lifeboat audit row v1");
    c.int(seq);
    c.int(trunc_micros(e.time).timestamp_micros());
    c.str(&e.principal);
    c.opt_int(e.principal_id);
    c.str(&e.source);
    c.str(&e.operation);
    c.str(&e.target);
    c.str(&e.phase);
    c.opt_int(e.status.map(i64::from));
    c.opt_str(e.error_code.as_deref());
    c.str(&e.request_id);
    c.str(prev_hash);
    c.hex()
}

/// The MAC of the head `(seq, hash)`.
pub(super) fn head_mac(key: &AuditKey, seq: i64, hash: &str) -> String {
    let mut c = Canon::keyed(&key.head, "lifeboat audit head v1");
    c.int(seq);
    c.str(hash);
    c.hex()
}
