//! # lifeboat-api: the REST API's wire types and a typed client
//!
//! Everything that goes over the wire between the Lifeboat server
//! (`lifeboat-server`) and its clients: request bodies, query and path
//! parameters, answers, pagination and the error body `{code, message,
//! target}`, each with its OpenAPI schema (`utoipa`). The server answers
//! with these types and generates `GET /api/v1/openapi.json` from them; the
//! `lifeboat backup` CLI, and later the agent and the web portal, send and
//! read the same types. Domain types (policies, states, job types, sources)
//! are the model's (`lifeboat-model`), reused here, never copied.
//!
//! This crate knows no server, catalog, store or service. Building an
//! answer from catalog rows is the server's business.
//!
//! - [`error`]: [`ErrorBody`], the answer of every refusal.
//! - [`page`]: `limit` / `cursor`, list pages.
//! - [`names`]: the names that go in paths (patterns and lengths).
//! - [`vaults`], [`policies`], [`items`], [`points`], [`jobs`],
//!   [`access`], [`audit`], [`mua`], [`system`]: one module per resource.
//! - [`client`] (feature `client`): a blocking client with one method per
//!   route, typed requests and answers, errors as [`client::ApiError`].
//!
//! Wire compatibility rules: request fields the server checks with a code
//! of its own (`INVALID_ARGUMENT` on `kind`, `mode`, …) stay strings on the
//! wire and carry the model enum as their schema, so the document lists the
//! values while the server keeps its error codes; typed constructors take
//! the model's enums.

pub mod access;
pub mod audit;
#[cfg(feature = "client")]
pub mod client;
pub mod error;
pub mod items;
pub mod jobs;
pub mod mua;
pub mod names;
pub mod page;
pub mod points;
pub mod policies;
pub mod system;
pub mod vaults;

pub use error::ErrorBody;
pub use page::{LIMIT_MAX, LIMIT_MIN, PageParams};

/// The serde name of a unit enum variant (`Protected`, `recovery-services`):
/// what the wire carries for it.
pub fn wire_name<T: serde::Serialize + std::fmt::Debug>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{v:?}"),
    }
}
