//! Identities, their API tokens and role assignments:
//! `/api/v1/identities`, `/api/v1/identities/{identity}/tokens`,
//! `/api/v1/roleAssignments`, one file each. Who may call each is decided
//! before the handler runs (`authz::route_rule`); a token's secret is in
//! exactly one answer, the one that creates it. The request and answer
//! types are `lifeboat_api::access`'s.

pub mod identities;
pub mod roles;
pub mod tokens;

use axum::http::StatusCode;
use lifeboat_catalog::{AssignmentFilter, RoleAssignment};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub use lifeboat_api::access::{DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS};

/// Checks an identity or token name.
pub(crate) fn check_name(target: &str, name: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_argument(
            target,
            format!(
                "{target} must be 1-64 characters: letters, digits, '.', '_', '-', '@' (got {name:?})"
            ),
        ))
    }
}

pub(crate) fn self_lockout(message: String) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        lifeboat_codes::SELF_LOCKOUT,
        None,
        message,
    )
}

pub(crate) async fn all_assignments(state: &AppState) -> ApiResult<Vec<RoleAssignment>> {
    Ok(state
        .catalog
        .list_role_assignments(&AssignmentFilter::default())
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("name", "ci-bot@example.org").is_ok());
        assert!(check_name("name", "").is_err());
        assert!(check_name("name", "a b").is_err());
        assert!(check_name("name", &"x".repeat(65)).is_err());
    }

    #[test]
    fn role_names_are_the_documented_ones() {
        let documented: Vec<String> = lifeboat_api::access::RoleName::ALL
            .iter()
            .map(lifeboat_api::wire_name)
            .collect();
        let served: Vec<String> = crate::authz::Role::ALL
            .iter()
            .map(|r| r.name().to_owned())
            .collect();
        assert_eq!(documented, served);
    }
}
