//! Health, metrics and the OpenAPI document.

use super::paging::NoFilters;
use super::{ApiError, Client, ClientError, Result};
use crate::system::Health;

impl Client {
    /// `GET /healthz` (no token needed). A server whose catalog is down
    /// answers 503 with the same shape (`status: unavailable`): that is an
    /// answer here too, not an error.
    pub fn healthz(&self) -> Result<Health> {
        let url = self.url("/healthz");
        let resp = self
            .http
            .get(&url)
            .send()
            .map_err(|e| self.transport_error(&url, e))?;
        let status = resp.status();
        let text = resp.text().map_err(|e| ClientError::Protocol {
            url: url.clone(),
            detail: format!("cannot read the answer: {e}"),
        })?;
        if status.is_success() || status.as_u16() == 503 {
            return self.parse(&text, &url);
        }
        Err(ApiError::from_answer(status.as_u16(), status.canonical_reason(), &text).into())
    }

    /// `GET /metrics`: Prometheus text.
    pub fn metrics(&self) -> Result<String> {
        let url = self.url("/metrics");
        self.send(self.http.get(&url), &url)
    }

    /// `GET /api/v1/openapi.json`: the document itself, as JSON.
    pub fn openapi(&self) -> Result<serde_json::Value> {
        self.get("/api/v1/openapi.json", &NoFilters {})
    }
}
