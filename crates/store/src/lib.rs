//! # lifeboat-store: the vault store
//!
//! This crate owns everything about how Lifeboat keeps data: chunking,
//! keyed chunk ids, compression, encryption, packs, the index, recovery-point
//! manifests, the point writer every workload writes through ([`writer`]),
//! block sources ([`blocks`]), backups of files and disk images, restore, verify, retention
//! (`forget`) and garbage collection. It knows nothing about policies,
//! schedules or users; the service builds those on top.
//!
//! ## Design notes
//!
//! - **The format is the contract.** `docs/format.md` describes every byte;
//!   [`format`] holds every constant, and a test keeps the two in step.
//! - **Objects are immutable and content-named.** A backend needs only
//!   put-if-absent, get, get-range, list and delete ([`backend::Backend`]), so
//!   the same vault works on a folder or an object store.
//! - **One commit point per backup.** Packs, then index segments, then the
//!   point manifest; a kill at any moment leaves a vault that verifies.
//! - **No global lock.** Writers hold leases ([`lease`]); the garbage
//!   collector deletes in two phases and waits only for leases that predate
//!   its condemnation ([`gc`], docs/format.md §10). Backups never wait.
//! - **Memory follows configuration.** The index lives in sorted segments
//!   cached on local disk with a Bloom filter in RAM ([`index`]); pipelines
//!   use bounded channels ([`upload`]).
//! - **Plan, then execute.** `forget` and `gc` compute a plan that can be
//!   shown (`--dry-run`) before anything is deleted; execution consumes that
//!   same plan ([`forget`], [`gc::plan`], [`gc::execute`]).
//! - **Backends by URL.** The store works on `dyn Backend` only; the
//!   backends themselves live in `lifeboat-backend` ([`backend`]).

pub mod backend;
pub mod backup;
pub mod blob;
pub mod blocks;
pub mod browse;
pub mod chunker;
pub mod config;
pub mod crypto;
pub mod error;
pub mod forget;
pub mod format;
pub mod gc;
pub mod id;
pub mod immutable;
pub mod index;
pub mod keyfile;
pub mod lease;
pub mod manifest;
pub mod names;
mod open_packs;
pub mod pack;
pub mod prefetch;
pub mod queue;
pub mod restore;
pub mod retention;
pub mod throttle;
pub mod tree;
pub mod upload;
pub mod util;
pub mod vault;
pub mod verify;
pub mod writer;

pub use error::{Error, Result};
pub use vault::Vault;
