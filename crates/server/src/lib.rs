//! # lifeboat-server: the HTTP API and `lifeboat server`
//!
//! This crate owns the service's front door: the REST API under `/api/v1`
//! (docs/service.md, "API — the contract"), bearer-token authentication,
//! the OpenAPI document generated from the handlers, `/healthz`,
//! `/metrics`, and the `lifeboat server` command that opens the catalog,
//! starts the service (`lifeboat-service`: scheduler, job runner) and
//! serves until SIGINT / SIGTERM. It decides nothing about the domain: the
//! model says what is valid, the service does the work, the catalog keeps
//! the rows; handlers look rows up by name, call one of those, and shape
//! the answer.
//!
//! ## Design notes
//!
//! - **One registration per route.** Each handler has a `#[utoipa::path]`
//!   and is added with `utoipa_axum::routes!`, which feeds both the axum
//!   router and the OpenAPI document ([`api`]), so the two cannot drift;
//!   `tests/openapi.rs` probes every documented route over HTTP.
//! - **Errors** are one type, [`error::ApiError`], answered as `{code,
//!   message, target}`. Model, catalog, service and store errors keep
//!   their stable codes; docs/errors.md lists every code with its status.
//!   Even refused JSON bodies, query strings and unknown routes answer in
//!   that shape ([`extract`]).
//! - **Auth** ([`auth`]): tokens are looked up by hash; the principal
//!   (token name and role) rides in the request's extensions and a role
//!   check per operation is where scoped roles will plug in. The first
//!   start prints one administrator token to stderr, once.
//! - **Audit** ([`audit`]): every mutating request is recorded in the
//!   catalog's hash-chained audit log (an `attempt` row before the handler,
//!   fail-closed, and a `result` row after) and in the structured log.
//! - **Pagination** is keyset everywhere: the catalog's cursors for items,
//!   points and jobs; a name cursor for vaults and policies, which the
//!   catalog returns whole. `nextLink` repeats the request's filters.
//! - **Time** comes from the service's clock, so a test clock moves the
//!   API's "now" (job durations, default retain-until) with the scheduler.
//! - **Metrics** are rendered by hand at scrape time from the catalog
//!   (cluster-wide values) and this process's counters ([`metrics`]).

pub mod api;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod dto;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod ops;
pub mod server;
pub mod state;
pub mod tls;

pub use server::{LogFormat, RunningServer, ServerArgs, ServerConfig, init_tracing, run, start};
