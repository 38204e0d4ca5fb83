//! # lifeboat-backend: where a vault's objects live
//!
//! This crate owns the storage backend interface ([`Backend`]), its
//! implementations (a local folder today; S3 and Azure Blob have their own
//! issue), the choice of backend by URL ([`BackendUrl`], [`open`]), the
//! backend error type that tells transient failures from permanent ones
//! ([`BackendError`]) and the bounded retries of transient ones
//! ([`Retrying`]). With the `testing` feature it also carries the
//! conformance suite every backend must pass ([`conformance`]) and a
//! fault-injecting backend for tests ([`fault::FaultBackend`]).
//!
//! The interface is what a folder, S3 and Azure Blob can all do atomically:
//! put-if-absent, get, get-range, paged list, delete. No rename, no append,
//! no overwrite. The vault format (docs/format.md) is built on exactly that,
//! and the store never names a concrete backend.

mod error;
mod local;
mod retry;
mod url;

#[cfg(feature = "testing")]
pub mod conformance;
#[cfg(feature = "testing")]
pub mod fault;

pub use error::{BackendError, BackendErrorKind, BackendResult, Op};
pub use local::{LocalBackend, TEMP_PREFIX};
pub use retry::{RetryPolicy, Retrying};
pub use url::{BackendUrl, open, open_location, open_with};

/// One object in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Full name, e.g. `packs/ab/ab12…`.
    pub name: String,
    pub size: u64,
}

/// One page of a listing, in ascending name order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<ObjectInfo>,
    /// Pass this to the next call to continue; `None` after the last page.
    pub next: Option<String>,
}

/// How many objects one listing call asks for (what object stores answer
/// per request at most).
pub const LIST_PAGE: usize = 1000;

pub trait Backend: Send + Sync {
    /// Stores `data` under `name` unless the name exists. Returns false when it
    /// existed (and leaves it as it was). Atomic: readers see all or nothing,
    /// and of several racing writers exactly one gets `true`.
    fn put_if_absent(&self, name: &str, data: &[u8]) -> BackendResult<bool>;
    fn get(&self, name: &str) -> BackendResult<Vec<u8>>;
    /// Exactly `len` bytes at `offset`; `OutOfRange` when the object is shorter.
    fn get_range(&self, name: &str, offset: u64, len: u64) -> BackendResult<Vec<u8>>;
    /// At most `limit` objects whose name starts with `prefix` (a folder-like
    /// prefix ending in `/`), in ascending name order, starting after the
    /// page `token` names (`None`: from the start).
    fn list_page(&self, prefix: &str, token: Option<&str>, limit: usize)
    -> BackendResult<ListPage>;
    /// Removes the object; removing a missing object is not an error.
    fn delete(&self, name: &str) -> BackendResult<()>;
    fn exists(&self, name: &str) -> BackendResult<bool>;
    /// Where this backend points, for messages.
    fn location(&self) -> String;

    /// Every object under `prefix`, page by page.
    fn list(&self, prefix: &str) -> BackendResult<Vec<ObjectInfo>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self.list_page(prefix, token.as_deref(), LIST_PAGE)?;
            out.extend(page.objects);
            match page.next {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }

    /// The object opened for many range reads, as a restore reads a pack
    /// chunk by chunk: a local file keeps one handle instead of opening the
    /// file for every range. `None` where a handle saves nothing (object
    /// stores answer every range as its own request): then the caller uses
    /// [`Backend::get_range`]. Objects are never overwritten, so a handle
    /// always reads the bytes the name was written with.
    fn open_object(&self, _name: &str) -> BackendResult<Option<Box<dyn OpenObject>>> {
        Ok(None)
    }

    /// Removes leftovers of interrupted writes older than `max_age` (backends
    /// whose puts are atomic by nature have none).
    fn remove_stale_temporaries(&self, _max_age: std::time::Duration) -> BackendResult<usize> {
        Ok(0)
    }
}

/// An object held open for range reads ([`Backend::open_object`]).
pub trait OpenObject: Send + Sync {
    /// Exactly `len` bytes at `offset`, as [`Backend::get_range`] reads them.
    fn get_range(&self, offset: u64, len: u64) -> BackendResult<Vec<u8>>;
    /// The same into a buffer the caller reuses: `buf.len()` bytes at `offset`.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> BackendResult<()>;
}

/// Stores `data` under a name only these bytes can have: a content hash,
/// or a random id the writer drew. Like [`Backend::put_if_absent`], but
/// when the put fails and other bytes are found under the name (what an
/// interrupted upload leaves on storage that is not all-or-nothing, see
/// [`BackendErrorKind::Incomplete`]) they are removed before the error is
/// returned: for such a name they cannot be anyone's valid object, and
/// nothing half-written stays where a reader would take it for one. When
/// the bytes are found whole, the failed call had landed and this is a
/// success.
pub fn put_exclusive(backend: &dyn Backend, name: &str, data: &[u8]) -> BackendResult<bool> {
    let mut err = match backend.put_if_absent(name, data) {
        Ok(stored) => return Ok(stored),
        Err(e) => e,
    };
    match backend.get(name) {
        Ok(found) if found == data => return Ok(true),
        Ok(_) => {
            if backend.delete(name).is_ok() {
                err.message.push_str("; the partial object was removed");
            }
        }
        Err(_) => {}
    }
    Err(err)
}
