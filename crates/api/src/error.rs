//! The error body every refused or failed request answers with.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The JSON body of every error answer (Azure's `error` object shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Stable code, e.g. `INVALID_POLICY` (docs/errors.md lists them all,
    /// each with its status and what to do).
    pub code: String,
    /// What went wrong and what to do next.
    pub message: String,
    /// The field (JSON path) or resource the error is about; `null` when
    /// none applies.
    pub target: Option<String>,
}
