//! `GET /healthz`: whether the server and its catalog are up.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `ok`, or `unavailable` when the catalog cannot be reached.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub catalog: String,
    pub schema_version: Option<i64>,
}
