//! The storage backend interface, re-exported from `lifeboat-backend` so
//! that `lifeboat_store::backend::…` keeps naming it. The store works on
//! `dyn Backend` only; which backend a vault lives on is chosen by URL
//! ([`open`]).

pub use lifeboat_backend::*;
