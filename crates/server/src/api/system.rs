//! `GET /healthz` (no token), `GET /metrics`, `GET /api/v1/openapi.json`.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use lifeboat_catalog::Dialect;

use crate::dto::Health;
use crate::error::{ApiResult, ErrorBody};
use crate::state::AppState;

/// Liveness and catalog reachability (no token needed).
#[utoipa::path(
    get, path = "/healthz", tag = "system",
    responses(
        (status = 200, description = "The server and its catalog are up", body = Health),
        (status = 503, description = "The catalog cannot be reached", body = Health),
    )
)]
pub async fn healthz(State(state): State<AppState>) -> Response {
    let catalog = match state.catalog.dialect() {
        Dialect::Sqlite => "sqlite",
        Dialect::Postgres => "postgres",
    };
    match state.catalog.schema_version().await {
        Ok(v) => Json(Health {
            status: "ok".into(),
            catalog: catalog.into(),
            schema_version: Some(v),
        })
        .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: catalog unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "unavailable".into(),
                    catalog: catalog.into(),
                    schema_version: None,
                }),
            )
                .into_response()
        }
    }
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(
    get, path = "/metrics", tag = "system",
    responses(
        (status = 200, description = "Metrics in Prometheus text format", body = String, content_type = "text/plain"),
        (status = 401, description = "No or bad token", body = ErrorBody),
    ),
)]
pub async fn metrics(State(state): State<AppState>) -> ApiResult<Response> {
    let text = crate::metrics::render(&state).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// This document: the OpenAPI 3 description of the API, generated from the code.
#[utoipa::path(
    get, path = "/api/v1/openapi.json", tag = "system",
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json"),
        (status = 401, description = "No or bad token", body = ErrorBody),
    ),
)]
pub async fn openapi_json() -> Response {
    Json(crate::api::openapi()).into_response()
}
