//! The path parameters of the routes, one type per shape of path, for the
//! handlers' `params(...)`: each route that names a vault, an item, … says
//! so with the same words. Their schemas (patterns, lengths) are added by
//! [`super::contract`] from `lifeboat_api::names`; the handlers extract
//! the values themselves (`P<(String, String)>`, …).

use utoipa::IntoParams;

/// `{vault}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VaultPath {
    /// Vault name
    pub vault: String,
}

/// `{vault}` and `{item}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VaultItemPath {
    /// Vault name
    pub vault: String,
    /// Item name
    pub item: String,
}

/// `{vault}`, `{item}` and `{point}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VaultItemPointPath {
    /// Vault name
    pub vault: String,
    /// Item name
    pub item: String,
    /// Recovery point id (the store's)
    pub point: String,
}

/// `{vault}` and `{policy}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VaultPolicyPath {
    /// Vault name
    pub vault: String,
    /// Policy name
    pub policy: String,
}

/// `{guard}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct GuardPath {
    /// Guard name
    pub guard: String,
}

/// `{identity}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IdentityPath {
    /// Identity name
    pub identity: String,
}

/// `{guard}` and a request's `{id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct GuardRequestPath {
    /// Guard name
    pub guard: String,
    /// Request id
    pub id: i64,
}

/// A job's `{id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct JobPath {
    /// Job id
    pub id: i64,
}
