//! `/api/v1/vaults/{vault}/policies`: Azure VM policies, validated by the
//! model; a replaced policy re-tags the points of every item on it.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use lifeboat_catalog::Vault;
use lifeboat_model::policy::Policy;

use crate::api::paths::{VaultPath, VaultPolicyPath};
use crate::api::vaults;
use crate::dto::{CreatePolicy, PolicyDto, PolicyDtoExt, PolicyList, ReplacePolicy};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, P, PageQuery, Q, from_value, next_link, page_by_name};
use crate::ops;
use crate::state::AppState;

/// Policy names go in URL paths: 1–150 letters, digits, `-`, `_`, `.`.
pub fn check_policy_name(name: &str) -> ApiResult<()> {
    let ok = (1..=150).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_argument(
            "name",
            format!(
                "policy name {name:?} is invalid: use 1 to 150 letters, digits, '-', '_' or '.', \
                 not starting with '.'"
            ),
        ))
    }
}

/// Parses and validates a policy document; errors name the field
/// (`retentionPolicy.dailySchedule.retentionDuration.count`) and the range.
pub fn parse_policy(properties: serde_json::Value) -> ApiResult<(Policy, serde_json::Value)> {
    if !properties.is_object() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            lifeboat_codes::INVALID_POLICY,
            Some("properties"),
            "properties must be the policy object (policyType, schedulePolicy, retentionPolicy, …)",
        ));
    }
    let policy: Policy = from_value(properties, lifeboat_codes::INVALID_POLICY, "")?;
    policy.validate()?;
    let doc = serde_json::to_value(&policy).map_err(|e| {
        ApiError::internal(lifeboat_codes::INTERNAL, format!("policy document: {e}"))
    })?;
    Ok((policy, doc))
}

/// How many items of `vault` are on the policy `name`.
async fn item_count(state: &AppState, vault: &Vault, name: &str) -> ApiResult<i64> {
    let counts = state.catalog.policy_item_counts(vault.id).await?;
    Ok(counts.get(name).copied().unwrap_or(0))
}

/// Create a policy.
#[utoipa::path(
    post, path = "/api/v1/vaults/{vault}/policies", tag = "policies",
    params(VaultPath),
    request_body = CreatePolicy,
    responses(
        (status = 201, description = "The new policy", body = PolicyDto),
        (status = 400, description = "Invalid policy; `target` names the field", body = ErrorBody),
        (status = 409, description = "A policy of that name exists", body = ErrorBody),
    ),
)]
pub async fn create_policy(
    State(state): State<AppState>,
    P(vault): P<String>,
    Body(req): Body<CreatePolicy>,
) -> ApiResult<(StatusCode, Json<PolicyDto>)> {
    let vault = vaults::find(&state, &vault).await?;
    check_policy_name(&req.name)?;
    let (_, doc) = parse_policy(req.properties)?;
    let p = state
        .catalog
        .create_policy(vault.id, &req.name, &doc, state.now())
        .await?;
    tracing::info!(vault = %vault.name, policy = %p.name, "policy created");
    Ok((
        StatusCode::CREATED,
        Json(PolicyDto::new(p, &vault.name, 0)?),
    ))
}

/// List a vault's policies, by name.
#[utoipa::path(
    get, path = "/api/v1/vaults/{vault}/policies", tag = "policies",
    params(VaultPath, PageQuery),
    responses((status = 200, description = "A page of policies", body = PolicyList)),
)]
pub async fn list_policies(
    State(state): State<AppState>,
    uri: Uri,
    P(vault): P<String>,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<PolicyList>> {
    let vault = vaults::find(&state, &vault).await?;
    let policies = state.catalog.list_policies(vault.id).await?;
    let (page, next) = page_by_name(policies, |p| p.name.as_str(), &q, b'P')?;
    let counts = state.catalog.policy_item_counts(vault.id).await?;
    let value = page
        .into_iter()
        .map(|p| {
            let n = counts.get(&p.name).copied().unwrap_or(0);
            PolicyDto::new(p, &vault.name, n)
        })
        .collect::<ApiResult<_>>()?;
    Ok(Json(PolicyList {
        value,
        next_link: next_link(&uri, next),
    }))
}

/// Show a policy.
#[utoipa::path(
    get, path = "/api/v1/vaults/{vault}/policies/{policy}", tag = "policies",
    params(VaultPolicyPath),
    responses((status = 200, description = "The policy", body = PolicyDto)),
)]
pub async fn show_policy(
    State(state): State<AppState>,
    P((vault, policy)): P<(String, String)>,
) -> ApiResult<Json<PolicyDto>> {
    let vault = vaults::find(&state, &vault).await?;
    let p = state.catalog.get_policy(vault.id, &policy).await?;
    let n = item_count(&state, &vault, &p.name).await?;
    Ok(Json(PolicyDto::new(p, &vault.name, n)?))
}

/// Replace a policy.
///
/// The points of every item on the policy are re-tagged as Azure does:
/// longer retention extends them, shorter marks them for the next cleanup.
#[utoipa::path(
    put, path = "/api/v1/vaults/{vault}/policies/{policy}", tag = "policies",
    params(VaultPolicyPath),
    request_body = ReplacePolicy,
    responses(
        (status = 200, description = "The policy as replaced", body = PolicyDto),
        (status = 400, description = "Invalid policy, or a body name other than the path's; `target` names the field", body = ErrorBody),
        (status = 403, description = "A retention cut on a guarded vault without an approval", body = ErrorBody),
        (status = 409, description = "An immutable vault refuses a retention cut", body = ErrorBody),
    ),
)]
pub async fn replace_policy(
    State(state): State<AppState>,
    axum::Extension(who): axum::Extension<crate::authz::Principal>,
    P((vault, policy)): P<(String, String)>,
    Body(req): Body<ReplacePolicy>,
) -> ApiResult<Json<PolicyDto>> {
    let vault = vaults::find(&state, &vault).await?;
    if let Some(n) = &req.name
        && n != &policy
    {
        return Err(ApiError::invalid_argument(
            "name",
            format!(
                "the body names policy '{n}' but the path names '{policy}'; a policy cannot be renamed"
            ),
        ));
    }
    let (_, doc) = parse_policy(req.properties)?;
    let old = state.catalog.get_policy(vault.id, &policy).await?;
    // An immutable vault refuses a retention cut (IMMUTABLE_RETENTION_REDUCTION).
    let new_valid = lifeboat_service::ops::resolve_policy(&doc)?;
    lifeboat_service::protect::check_policy_edit(&vault, &policy, &old.document, &new_valid)?;
    // A retention cut on a guarded vault uses an approval.
    if lifeboat_service::mua::policy_edit_reduces(&old.document, &new_valid) {
        crate::api::mua::authorize_critical(
            &state,
            &who,
            &vault,
            lifeboat_model::mua::CriticalOp::ReduceRetention,
            &policy,
        )
        .await?;
    }
    let now = state.now();
    let p = state
        .catalog
        .update_policy(vault.id, &policy, &doc, now)
        .await?;
    ops::policy_replaced(&state, &vault, &old.document, &p).await?;
    let n = item_count(&state, &vault, &p.name).await?;
    tracing::info!(vault = %vault.name, policy = %p.name, items = n, "policy replaced");
    Ok(Json(PolicyDto::new(p, &vault.name, n)?))
}

/// Delete a policy; refused with `POLICY_IN_USE` while items use it.
#[utoipa::path(
    delete, path = "/api/v1/vaults/{vault}/policies/{policy}", tag = "policies",
    params(VaultPolicyPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "Items use the policy", body = ErrorBody),
    ),
)]
pub async fn delete_policy(
    State(state): State<AppState>,
    P((vault, policy)): P<(String, String)>,
) -> ApiResult<StatusCode> {
    let vault = vaults::find(&state, &vault).await?;
    state.catalog.delete_policy(vault.id, &policy).await?;
    tracing::info!(vault = %vault.name, %policy, "policy deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names() {
        for good in ["DefaultPolicy", "daily-30", "a", "x.y_z"] {
            assert!(check_policy_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".hidden", "a/b", "sp ace", &"x".repeat(151)] {
            assert!(check_policy_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn invalid_policies_name_the_field() {
        let mut doc = serde_json::to_value(Policy::default_policy("UTC")).unwrap();
        assert!(parse_policy(doc.clone()).is_ok());
        doc["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"] = 3.into();
        let e = parse_policy(doc.clone()).unwrap_err();
        assert_eq!(e.code, "INVALID_POLICY");
        assert_eq!(
            e.target.as_deref(),
            Some("retentionPolicy.dailySchedule.retentionDuration.count")
        );
        doc["schedulePolicy"]["scheduleRunFrequency"] = "Fortnightly".into();
        let e = parse_policy(doc).unwrap_err();
        assert_eq!(e.code, "INVALID_POLICY");
        assert_eq!(
            e.target.as_deref(),
            Some("schedulePolicy.scheduleRunFrequency")
        );
    }
}
