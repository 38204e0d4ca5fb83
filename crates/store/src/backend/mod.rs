//! The storage backend interface. Five operations, no rename, no append, no
//! overwrite: what a local folder, S3 and Azure Blob can all do atomically.

mod local;

pub use local::LocalBackend;

use crate::error::Result;

/// One object in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Full name, e.g. `packs/ab/ab12…`.
    pub name: String,
    pub size: u64,
}

pub trait Backend: Send + Sync {
    /// Stores `data` under `name` unless the name exists. Returns false when it
    /// existed (and leaves it as it was). Atomic: readers see all or nothing.
    fn put_if_absent(&self, name: &str, data: &[u8]) -> Result<bool>;
    fn get(&self, name: &str) -> Result<Vec<u8>>;
    fn get_range(&self, name: &str, offset: u64, len: u64) -> Result<Vec<u8>>;
    /// Every object whose name starts with `prefix` (a folder-like prefix ending in `/`).
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>>;
    /// Removes the object; removing a missing object is not an error.
    fn delete(&self, name: &str) -> Result<()>;
    fn exists(&self, name: &str) -> Result<bool>;
    /// Where this backend points, for messages.
    fn location(&self) -> String;
    /// Removes leftovers of interrupted writes older than `max_age` (backends
    /// whose puts are atomic by nature have none).
    fn remove_stale_temporaries(&self, _max_age: std::time::Duration) -> Result<usize> {
        Ok(0)
    }
}
