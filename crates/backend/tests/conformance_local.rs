//! The local folder backend passes the conformance suite, directly and
//! behind the retrying wrapper `open` puts around it.

use std::sync::Arc;

use lifeboat_backend::{Backend, BackendUrl, LocalBackend, conformance, open};

#[test]
fn local_backend_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b: Arc<dyn Backend> = Arc::new(LocalBackend::new(dir.path().join("v")));
    let passed = conformance::run(b).unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(passed.len(), 7, "{passed:?}");
}

#[test]
fn opened_by_url_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url: BackendUrl = format!("file://{}", dir.path().join("v").display())
        .parse()
        .expect("url");
    let b = open(&url).expect("open");
    conformance::run(b.clone()).unwrap_or_else(|f| panic!("{f}"));
    // It cleaned up after itself.
    assert!(b.list("").expect("list").is_empty());
}
