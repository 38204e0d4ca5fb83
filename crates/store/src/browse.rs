//! Reading a point's contents: listing and comparing two points, both
//! streaming over the tree streams.

use serde::Serialize;

use crate::backup::cmp_paths;
use crate::error::Result;
use crate::index::Index;
use crate::manifest::{Entry, Point};
use crate::restore::entries;
use crate::vault::Vault;

/// True when `path` is `prefix` or inside it (prefix given with or without `/`).
pub fn under(path: &str, prefix: &str) -> bool {
    let p = prefix.trim_start_matches('/').trim_end_matches('/');
    p.is_empty() || path == p || path.starts_with(&format!("{p}/"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    Added,
    Removed,
    /// Content or type differs.
    Modified,
    /// Same content; mode, owner, times or xattrs differ.
    Metadata,
}

impl Change {
    pub fn symbol(self) -> char {
        match self {
            Change::Added => '+',
            Change::Removed => '-',
            Change::Modified => 'M',
            Change::Metadata => 'U',
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DiffItem {
    pub path: String,
    pub change: Change,
}

fn classify(a: &Entry, b: &Entry) -> Option<Change> {
    if a.kind != b.kind
        || a.size != b.size
        || a.chunks != b.chunks
        || a.target != b.target
        || a.link != b.link
    {
        return Some(Change::Modified);
    }
    if a.mode != b.mode
        || a.uid != b.uid
        || a.gid != b.gid
        || a.mtime != b.mtime
        || a.xattrs != b.xattrs
    {
        return Some(Change::Metadata);
    }
    None
}

/// Calls `f` for every difference from `a` to `b`, in path order.
pub fn diff(
    vault: &Vault,
    index: &Index,
    a: &Point,
    b: &Point,
    mut f: impl FnMut(DiffItem),
) -> Result<()> {
    let mut ia = entries(vault, index, a).peekable();
    let mut ib = entries(vault, index, b).peekable();
    loop {
        let next_a = match ia.peek() {
            Some(Err(_)) => return ia.next().expect("peeked").map(|_| ()),
            Some(Ok(e)) => Some(e.clone()),
            None => None,
        };
        let next_b = match ib.peek() {
            Some(Err(_)) => return ib.next().expect("peeked").map(|_| ()),
            Some(Ok(e)) => Some(e.clone()),
            None => None,
        };
        match (next_a, next_b) {
            (None, None) => return Ok(()),
            (Some(x), None) => {
                f(DiffItem {
                    path: x.path,
                    change: Change::Removed,
                });
                ia.next();
            }
            (None, Some(y)) => {
                f(DiffItem {
                    path: y.path,
                    change: Change::Added,
                });
                ib.next();
            }
            (Some(x), Some(y)) => match cmp_paths(&x.path, &y.path) {
                std::cmp::Ordering::Less => {
                    f(DiffItem {
                        path: x.path,
                        change: Change::Removed,
                    });
                    ia.next();
                }
                std::cmp::Ordering::Greater => {
                    f(DiffItem {
                        path: y.path,
                        change: Change::Added,
                    });
                    ib.next();
                }
                std::cmp::Ordering::Equal => {
                    if let Some(change) = classify(&x, &y) {
                        f(DiffItem {
                            path: y.path,
                            change,
                        });
                    }
                    ia.next();
                    ib.next();
                }
            },
        }
    }
}
