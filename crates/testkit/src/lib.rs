//! # lifeboat-testkit: helpers shared by the test suites
//!
//! Only test code depends on this crate (as a dev-dependency). It owns how
//! a test finds the PostgreSQL server (`LIFEBOAT_TEST_POSTGRES`) and names
//! a database of its own, so every crate's tests isolate themselves the
//! same way.

use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(feature = "postgres")]
pub mod pg;

/// The PostgreSQL server tests use when `LIFEBOAT_TEST_POSTGRES` is unset.
pub const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The URL of a database on the test server from which tests create and
/// drop their own databases.
pub fn postgres_admin_url() -> String {
    std::env::var("LIFEBOAT_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.to_string())
}

/// `url` with its database name replaced by `db` (query string kept).
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(base.len());
    format!("{}/{}{}", &base[..host_end], db, query)
}

/// A port on 127.0.0.1 that nothing listens on right now (bound, then
/// released): for a server a test starts, or a client that must find no
/// one there.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local address").port()
}

/// A suffix unique to this call among all test processes running now:
/// process id, a clock reading and a counter.
pub fn unique_suffix() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// `len` bytes of deterministic noise (xorshift64 from `seed`): data that
/// neither compresses nor deduplicates with other seeds, the same on every
/// run.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_replaces_only_the_name() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "t1"),
            "postgres://u@h:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "t2"),
            "postgres://u@h/t2?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "t3"), "postgres://u@h/t3");
    }

    #[test]
    fn noise_is_deterministic_and_seed_dependent() {
        assert_eq!(noise(7, 64), noise(7, 64));
        assert_ne!(noise(7, 64), noise(8, 64));
        assert_eq!(noise(7, 100).len(), 100);
    }

    #[test]
    fn suffixes_differ() {
        assert_ne!(unique_suffix(), unique_suffix());
    }
}
