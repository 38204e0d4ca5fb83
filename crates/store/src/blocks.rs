//! Block sources: what a disk or image backup reads from.
use crate::error::Result;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub offset: u64,
    pub len: u64,
}
pub trait BlockSource: Send {
    fn size(&self) -> u64;
    /// Allocated (data) extents, sorted, non-overlapping; everything else reads as zeros.
    fn allocated_extents(&mut self) -> Result<Vec<Extent>>;
    /// Extents changed since the parent point, where the source knows it (a dirty bitmap); None = unknown, read all allocated.
    fn changed_extents(&mut self) -> Result<Option<Vec<Extent>>>;
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()>;
}
