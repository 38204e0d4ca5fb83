//! The routes. Each handler carries a `#[utoipa::path]` and is registered
//! once, through `utoipa_axum::routes!`, which adds it both to the axum
//! router and to the OpenAPI document: the document cannot list a route
//! the server lacks, nor miss one it serves (tests/openapi.rs checks this
//! over HTTP as well). The request and answer types are `lifeboat-api`'s;
//! [`contract`] adds what every authenticated route can answer, and
//! tests/openapi_contract.rs holds the server to the document.

pub mod access;
pub mod audit;
pub mod contract;
pub mod items;
pub mod jobs;
pub mod mua;
pub mod paths;
pub mod points;
pub mod policies;
pub mod security;
pub mod system;
pub mod vaults;

use std::sync::OnceLock;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::from_fn_with_state;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit as audit_log;
use crate::auth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::MAX_BODY;
use crate::metrics;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lifeboat API",
        description = "Vaults, backup policies, protected items, recovery points and jobs of a \
                       Lifeboat server. Every call except GET /healthz needs \
                       `Authorization: Bearer <token>`. Errors are `{code, message, target}`; \
                       docs/errors.md lists the codes.",
    ),
    modifiers(&BearerAuth),
    components(schemas(ErrorBody)),
    tags(
        (name = "vaults", description = "Vaults: one store each"),
        (name = "policies", description = "Backup policies (Azure VM policy JSON)"),
        (name = "items", description = "Protected items and their protection"),
        (name = "points", description = "Recovery points and restores"),
        (name = "jobs", description = "Backups, restores, deletions, sweeps"),
        (name = "access", description = "Identities, tokens and role assignments"),
        (name = "audit", description = "The hash-chained audit log of every mutating request"),
        (name = "security", description = "Multi-user authorization: resource guards and approvals"),
        (name = "system", description = "Health, metrics, this document"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Routes that need a token.
fn protected() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(vaults::create_vault, vaults::list_vaults))
        .routes(routes!(
            vaults::show_vault,
            vaults::delete_vault,
            security::update_vault
        ))
        .routes(routes!(security::list_alerts))
        .routes(routes!(security::list_deleted_vaults))
        .routes(routes!(security::show_deleted_vault))
        .routes(routes!(security::undelete_vault))
        .routes(routes!(security::undelete_item))
        .routes(routes!(policies::create_policy, policies::list_policies))
        .routes(routes!(
            policies::show_policy,
            policies::replace_policy,
            policies::delete_policy
        ))
        .routes(routes!(items::enable_protection, items::list_items))
        .routes(routes!(items::show_item))
        .routes(routes!(items::backup_now))
        .routes(routes!(items::stop_protection))
        .routes(routes!(items::resume_protection))
        .routes(routes!(items::change_policy))
        .routes(routes!(points::list_points))
        .routes(routes!(points::show_point))
        .routes(routes!(points::restore))
        .routes(routes!(jobs::list_jobs))
        .routes(routes!(jobs::show_job))
        .routes(routes!(jobs::cancel_job))
        .routes(routes!(
            access::identities::create_identity,
            access::identities::list_identities
        ))
        .routes(routes!(access::identities::show_identity))
        .routes(routes!(access::identities::disable_identity))
        .routes(routes!(access::identities::enable_identity))
        .routes(routes!(
            access::tokens::create_token,
            access::tokens::list_tokens
        ))
        .routes(routes!(access::tokens::revoke_token))
        .routes(routes!(
            access::roles::create_role_assignment,
            access::roles::list_role_assignments
        ))
        .routes(routes!(access::roles::delete_role_assignment))
        .routes(routes!(audit::list_audit))
        .routes(routes!(audit::verify_audit))
        .routes(routes!(mua::guards::create_guard, mua::guards::list_guards))
        .routes(routes!(mua::guards::show_guard, mua::guards::delete_guard))
        .routes(routes!(mua::guards::add_member))
        .routes(routes!(mua::guards::remove_member))
        .routes(routes!(mua::requests::list_requests))
        .routes(routes!(mua::requests::approve_request))
        .routes(routes!(mua::requests::reject_request))
        .routes(routes!(
            mua::mapping::show_mapping,
            mua::mapping::attach_guard,
            mua::mapping::detach_guard
        ))
        .routes(routes!(mua::requests::create_request))
        .routes(routes!(system::metrics))
        .routes(routes!(system::openapi_json))
}

/// Routes open to anyone.
fn public() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(system::healthz))
}

/// The OpenAPI document, built once from the same registrations as the router.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        let (_, mut doc) = protected().split_for_parts();
        contract::declare_common_statuses(&mut doc);
        let (_, public_doc) = public().split_for_parts();
        doc.merge(public_doc);
        doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
        doc
    })
}

async fn route_not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        lifeboat_codes::ROUTE_NOT_FOUND,
        Some(uri.path()),
        format!(
            "there is no API route {}; see /api/v1/openapi.json",
            uri.path()
        ),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        lifeboat_codes::METHOD_NOT_ALLOWED,
        Some(uri.path()),
        format!(
            "{method} is not allowed on {}; see /api/v1/openapi.json",
            uri.path()
        ),
    )
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let (protected, _) = protected().split_for_parts();
    let (public, _) = public().split_for_parts();
    // Route layers run last-added first: authentication and authorization,
    // then the audit attempt row, then the handler.
    let protected = protected
        .route_layer(from_fn_with_state(state.clone(), audit_log::attempt))
        .route_layer(from_fn_with_state(state.clone(), auth::require_token));
    Router::new()
        .merge(protected)
        .merge(public)
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Every mutating request, also those refused above, to the audit log.
        .layer(from_fn_with_state(state.clone(), audit_log::record))
        .layer(from_fn_with_state(state.clone(), metrics::count_requests))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    // The path, never headers: the token lives in one.
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        path = %req.uri().path(),
                        principal = tracing::field::Empty,
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}
