//! `…/items/{item}/points`: recovery points newest first, one point, and
//! restores (a job each).

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use lifeboat_catalog::{Point, PointFilter};

use crate::api::items::{self, accepted};
use crate::api::paths::{VaultItemPath, VaultItemPointPath};
use crate::dto::{JobDto, PointDto, PointDtoExt, PointList, PointQuery, RestoreRequest};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, P, PageExt, Q, next_link};
use crate::ops;
use crate::state::AppState;

/// The point of an item with the store id `point`, or `NOT_FOUND`.
pub async fn find_point(
    state: &AppState,
    vault: &lifeboat_catalog::Vault,
    item: &lifeboat_catalog::Item,
    point: &str,
) -> ApiResult<Point> {
    match state.catalog.find_point(vault.id, point).await? {
        Some(p) if p.item_id == item.id => Ok(p),
        _ => Err(ApiError::not_found(
            "point",
            format!(
                "recovery point '{point}' not found for item '{}'; list them with GET …/items/{}/points",
                item.name, item.name
            ),
        )),
    }
}

/// List an item's recovery points, newest first.
#[utoipa::path(
    get, path = "/api/v1/vaults/{vault}/items/{item}/points", tag = "points",
    params(VaultItemPath, PointQuery),
    responses((status = 200, description = "A page of recovery points", body = PointList)),
)]
pub async fn list_points(
    State(state): State<AppState>,
    uri: Uri,
    P((vault, item)): P<(String, String)>,
    Q(q): Q<PointQuery>,
) -> ApiResult<Json<PointList>> {
    let (v, i) = items::find(&state, &vault, &item).await?;
    let page = q.page().page()?;
    let filter = PointFilter {
        from: q.from,
        to: q.to,
    };
    let got = state
        .catalog
        .list_points_ext(i.id, &filter, &page, q.include_deleted.unwrap_or(false))
        .await?;
    Ok(Json(PointList {
        value: got
            .items
            .into_iter()
            .map(|p| PointDto::new(p, &v.name, &i.name))
            .collect(),
        next_link: next_link(&uri, got.next_cursor),
    }))
}

/// Show a recovery point.
#[utoipa::path(
    get, path = "/api/v1/vaults/{vault}/items/{item}/points/{point}", tag = "points",
    params(VaultItemPointPath),
    responses((status = 200, description = "The recovery point", body = PointDto)),
)]
pub async fn show_point(
    State(state): State<AppState>,
    P((vault, item, point)): P<(String, String, String)>,
) -> ApiResult<Json<PointDto>> {
    let (v, i) = items::find(&state, &vault, &item).await?;
    let p = find_point(&state, &v, &i, &point).await?;
    Ok(Json(PointDto::new(p, &v.name, &i.name)))
}

/// Restore a recovery point.
///
/// A path item restores to its original location (`"target": "original"`)
/// or into another folder, with `conflict` deciding what happens to files
/// that exist, optionally only the `include`d paths; a disk item restores to
/// a new image file (`raw` or `qcow2`).
#[utoipa::path(
    post, path = "/api/v1/vaults/{vault}/items/{item}/points/{point}/restore", tag = "points",
    params(VaultItemPointPath),
    request_body = RestoreRequest,
    responses(
        (status = 202, description = "The queued restore job", body = JobDto),
        (status = 400, description = "Invalid target, conflict, include or format", body = ErrorBody),
        (status = 409, description = "The item's state does not allow restores", body = ErrorBody),
    ),
)]
pub async fn restore(
    State(state): State<AppState>,
    P((vault, item, point)): P<(String, String, String)>,
    Body(req): Body<RestoreRequest>,
) -> ApiResult<Response> {
    let (v, i) = items::find(&state, &vault, &item).await?;
    let p = find_point(&state, &v, &i, &point).await?;
    let job = ops::restore(&state, &v, &i, &p, req).await?;
    Ok(accepted(job))
}
