//! Reading paged lists: the first page with `?limit=`, then every
//! `nextLink` (on the same server only), until the list ends or `top`
//! rows are read.

use std::collections::HashSet;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Client, ClientError, Result};
use crate::page::{LIMIT_MAX, Listed};

/// How much of a paged list to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Take {
    /// At most this many rows (default: all of them).
    pub top: Option<usize>,
    /// Rows per request, 1–1000 (default 1000, the most the API serves).
    pub page_size: u32,
}

impl Default for Take {
    fn default() -> Self {
        Take {
            top: None,
            page_size: LIMIT_MAX,
        }
    }
}

impl Take {
    /// The first `top` rows, or all when `None`.
    pub fn top(top: Option<usize>) -> Take {
        Take {
            top,
            ..Take::default()
        }
    }

    /// The `limit` of each request.
    fn limit(&self) -> u32 {
        let size = self.page_size.clamp(1, LIMIT_MAX);
        match self.top {
            Some(t) => u32::try_from(t).unwrap_or(LIMIT_MAX).clamp(1, size),
            None => size,
        }
    }
}

/// The filters of a list that has none.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct NoFilters {}

/// A list's own filters plus `limit`.
#[derive(Serialize)]
struct WithLimit<'a, Q: Serialize> {
    #[serde(flatten)]
    filters: &'a Q,
    limit: u32,
}

impl Client {
    /// Every row of the list at `path` (with `filters`), following
    /// `nextLink`, or the first `take.top`.
    pub(crate) fn list<L, Q>(&self, path: &str, filters: &Q, take: Take) -> Result<Vec<L::Item>>
    where
        L: Listed + DeserializeOwned,
        Q: Serialize,
    {
        let first = WithLimit {
            filters,
            limit: take.limit(),
        };
        let mut url = self.with_query(path, &first)?;
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        loop {
            if !seen.insert(url.clone()) {
                return Err(ClientError::Protocol {
                    url,
                    detail: "nextLink repeats a page already read".into(),
                });
            }
            let page: L = self.get_url(&url)?;
            let (rows, next) = page.into_parts();
            out.extend(rows);
            if let Some(t) = take.top
                && out.len() >= t
            {
                out.truncate(t);
                break;
            }
            match next.filter(|n| !n.is_empty()) {
                Some(link) => url = self.resolve_link(&link)?,
                None => break,
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_top_and_page_size() {
        assert_eq!(Take::default().limit(), 1000);
        assert_eq!(Take::top(Some(1)).limit(), 1);
        assert_eq!(Take::top(Some(5000)).limit(), 1000);
        let small = Take {
            top: Some(50),
            page_size: 7,
        };
        assert_eq!(small.limit(), 7);
    }
}
