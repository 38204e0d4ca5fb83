//! The names that go in URL paths and name fields: what each may look
//! like, once. Request types repeat these patterns in their schema
//! attributes (the derive takes literals only); a test checks that they
//! agree. The server checks names with its own code and message (the
//! model's `VaultName`, the API's item, policy, identity and guard
//! checks); the patterns say the same in the OpenAPI document.

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{KnownFormat, RefOr, SchemaFormat};

/// Vault names: 2–50 letters, digits and hyphens, starting with a letter
/// (compared case-insensitively).
pub const VAULT_NAME: &str = "^[A-Za-z][A-Za-z0-9-]{1,49}$";
/// Policy names: 1–150 letters, digits, `-`, `_`, `.`, not starting with `.`.
pub const POLICY_NAME: &str = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,149}$";
/// Item names: 1–100 letters, digits, `-`, `_`, `.`, not starting with `.`.
pub const ITEM_NAME: &str = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$";
/// Identity and token names: 1–64 letters, digits, `.`, `_`, `-`, `@`.
pub const PRINCIPAL_NAME: &str = "^[A-Za-z0-9._@-]{1,64}$";
/// Resource guard names: as vault names.
pub const GUARD_NAME: &str = "^[A-Za-z][A-Za-z0-9-]{1,49}$";
/// Absolute paths on the server's machine.
pub const ABSOLUTE_PATH: &str = "^/";

/// The longest item name.
pub const MAX_ITEM_NAME: usize = 100;
/// The longest policy name.
pub const MAX_POLICY_NAME: usize = 150;
/// The longest identity or token name.
pub const MAX_PRINCIPAL_NAME: usize = 64;

fn string(pattern: &str, min: usize, max: usize, what: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .min_length(Some(min))
        .max_length(Some(max))
        .description(Some(what))
        .into()
}

/// The schema of a path parameter, by its name in the route template
/// (`{vault}`, `{item}`, …); `None` for a name this table does not know.
/// Every route names the same things the same way, so one table serves
/// them all.
pub fn path_parameter(name: &str) -> Option<RefOr<Schema>> {
    Some(match name {
        "vault" => string(VAULT_NAME, 2, 50, "Vault name"),
        "policy" => string(POLICY_NAME, 1, MAX_POLICY_NAME, "Policy name"),
        "item" => string(ITEM_NAME, 1, MAX_ITEM_NAME, "Item name"),
        "identity" => string(PRINCIPAL_NAME, 1, MAX_PRINCIPAL_NAME, "Identity name"),
        "token" => string(PRINCIPAL_NAME, 1, MAX_PRINCIPAL_NAME, "Token name"),
        "guard" => string(GUARD_NAME, 2, 50, "Resource guard name"),
        "point" => ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .description(Some("Recovery point id (the store's)"))
            .into(),
        "id" => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .description(Some("Id"))
            .into(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_name_has_a_schema() {
        for n in [
            "vault", "policy", "item", "identity", "token", "guard", "point", "id",
        ] {
            assert!(path_parameter(n).is_some(), "{n}");
        }
        assert!(path_parameter("nope").is_none());
    }
}
