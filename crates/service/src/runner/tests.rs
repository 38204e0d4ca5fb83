use super::takeover::is_dead_local;
use super::*;

#[test]
fn dead_local_owners_are_recognised() {
    assert!(is_dead_local("h:4000000:ab", "h", 1));
    assert!(!is_dead_local("h:4000000:ab", "other", 1));
    assert!(!is_dead_local("h:1:ab", "h", 1));
    let me = std::process::id();
    assert!(!is_dead_local(&format!("h:{me}:ab"), "h", 7));
    assert!(!is_dead_local("garbage", "h", 1));
    // Host names may contain colons only in odd setups; the pid and
    // random part are taken from the right.
    assert!(is_dead_local("a:b:4000000:ab", "a:b", 1));
}

#[test]
fn worker_ids_are_unique() {
    assert_ne!(
        ServiceConfig::default_worker_id(),
        ServiceConfig::default_worker_id()
    );
}
