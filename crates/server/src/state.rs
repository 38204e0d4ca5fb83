//! What every handler shares: the catalog, the clock, the vault storage,
//! the running service, the server's time zone and the request counters.

use std::ops::Deref;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use lifeboat_catalog::Catalog;
use lifeboat_service::{Clock, ServiceHandle, VaultStorage};

use crate::auth::{TokenCache, TouchThrottle};
use crate::metrics::HttpCounters;

/// Cheap to clone: handlers get a reference-counted handle.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub catalog: Catalog,
    pub clock: Arc<dyn Clock>,
    pub storage: VaultStorage,
    pub service: ServiceHandle,
    /// IANA name of the server's zone, for `DefaultPolicy`.
    pub time_zone: String,
    pub http: HttpCounters,
    pub touch: TouchThrottle,
    pub tokens: TokenCache,
    /// The audit key (crate::audit).
    pub audit: crate::audit::Audit,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }

    /// The service's notion of now (a test clock in tests).
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
