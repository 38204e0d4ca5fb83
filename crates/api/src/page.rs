//! Pagination of list answers: `?limit=` (1–1000) and an opaque `?cursor=`
//! in, `{value: [...], nextLink}` out.

use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

/// The smallest `limit` a list accepts.
pub const LIMIT_MIN: u32 = 1;
/// The largest `limit` a list accepts; bigger values are refused, not capped.
pub const LIMIT_MAX: u32 = 1000;
/// Rows per page when the request gives no `limit`.
pub const LIMIT_DEFAULT: u32 = 100;

/// `?limit=&cursor=` of every paged list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Rows per page, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The `cursor` of the previous page's `nextLink`: opaque, valid only
    /// as the server gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// Declares a page type `{value: [T], nextLink}`.
macro_rules! list_type {
    ($name:ident, $item:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(
            Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
        )]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            pub value: Vec<$item>,
            /// The next page (path and query), `null` on the last page.
            pub next_link: Option<String>,
        }

        impl $crate::page::Listed for $name {
            type Item = $item;
            fn into_parts(self) -> (Vec<$item>, Option<String>) {
                (self.value, self.next_link)
            }
        }
    };
}
pub(crate) use list_type;

/// `page()` for a list query with filters of its own beside `limit` and
/// `cursor`: those two as [`PageParams`].
macro_rules! paged_query {
    ($name:ident) => {
        impl $name {
            /// Its `limit` and `cursor`.
            pub fn page(&self) -> $crate::page::PageParams {
                $crate::page::PageParams {
                    limit: self.limit,
                    cursor: self.cursor.clone(),
                }
            }
        }
    };
}
pub(crate) use paged_query;

/// A page of a list: its rows and the link to the next page.
pub trait Listed {
    type Item;
    fn into_parts(self) -> (Vec<Self::Item>, Option<String>);
}
