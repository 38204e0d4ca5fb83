//! What the OpenAPI document says about every authenticated route besides
//! what its handler declares: the statuses the layers in front of the
//! handler can answer, the bearer scheme, and the schema of each path
//! parameter. Added once here, so each handler's `responses(...)` lists
//! only what is its own, and so no route can forget one.
//!
//! The layers, in the order a request meets them, and what they answer:
//! - the body limit (1 MiB): 413 on a route that reads a body;
//! - authentication (`auth::require_token`): 401; it reads the catalog,
//!   so 503 (catalog unreachable) and 500;
//! - authorization (`authz::route_rule`): 403, on every route whose rule
//!   can refuse (all but `At::Anyone`); a rule that peeks at the body
//!   (`stop`, role assignments) can answer 413 too;
//! - the audit attempt row (fail-closed): 500 when it cannot be written;
//! - the extractors: 400 for a path parameter that does not decode (an id
//!   that is not an integer, bytes that are not UTF-8), a query that does
//!   not parse, a body that is not the request's JSON;
//! - the handler: 404 where the path names a resource that may not exist
//!   ("No such vault or item", from the path's parameters, unless the
//!   handler says otherwise), and whatever its `responses(...)` add (409,
//!   422, 202, …).
//!
//! `tests/openapi_contract.rs` drives every route of the document with
//! valid and invalid requests and fails on a status the document lacks.

use axum::http::Method;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, ResponseBuilder};

use crate::authz::{At, route_rule};

/// Declares, on every operation of `doc` (the authenticated routes), the
/// layers' statuses, the bearer scheme and the path parameters' schemas.
pub fn declare_common_statuses(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let missing = no_such(path);
        for (method, op) in [
            (Method::GET, &mut item.get),
            (Method::PUT, &mut item.put),
            (Method::POST, &mut item.post),
            (Method::DELETE, &mut item.delete),
            (Method::PATCH, &mut item.patch),
        ] {
            if let Some(op) = op {
                let refuses = route_rule(&method, path).is_none_or(|r| r.at != At::Anyone);
                declare(op, &missing, refuses);
            }
        }
    }
}

/// The 404 of a path that names resources: "No such vault, item or
/// point"; an `{id}` is named by the segment before it (`jobs/{id}`: a
/// job, `roleAssignments/{id}`: an assignment). `None` for a path that
/// names none.
fn no_such(path: &str) -> Option<String> {
    let mut names = Vec::new();
    let mut before = "";
    for segment in path.split('/') {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            names.push(match name {
                "id" => {
                    let one = before.strip_suffix('s').unwrap_or(before);
                    let word = one.rfind(char::is_uppercase).map_or(one, |i| &one[i..]);
                    word.to_lowercase()
                }
                _ => name.to_owned(),
            });
        }
        before = segment;
    }
    let (last, rest) = names.split_last()?;
    Some(match rest {
        [] => format!("No such {last}"),
        _ => format!("No such {} or {last}", rest.join(", ")),
    })
}

fn declare(op: &mut Operation, missing: &Option<String>, refuses: bool) {
    let names_resource = missing.is_some();
    op.security = Some(vec![SecurityRequirement::new(
        "bearer",
        Vec::<String>::new(),
    )]);
    let has_body = op.request_body.is_some();
    let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    if let Some(params) = op.parameters.as_mut() {
        for p in params.iter_mut() {
            if let RefOr::T(p) = p
                && p.parameter_in == ParameterIn::Path
                && let Some(schema) = lifeboat_api::names::path_parameter(&p.name)
            {
                p.schema = Some(schema);
            }
        }
    }
    add(op, "401", "No token, or an unknown, expired or revoked one");
    if refuses {
        add(op, "403", "The token's roles do not allow this");
    }
    if has_body || has_params || names_resource {
        add(op, "400", "Malformed path, query or body");
    }
    if let Some(missing) = missing {
        add(op, "404", missing);
    }
    if has_body {
        add(op, "413", "Body larger than 1 MiB");
    }
    add(
        op,
        "500",
        "A failure of the server (the log has the details)",
    );
    add(
        op,
        "503",
        "The catalog cannot be reached, or the server is stopping",
    );
}

fn add(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                    )
                    .build(),
            )
        });
}

#[cfg(test)]
mod tests {
    #[test]
    fn not_found_names_the_path_parameters() {
        let no_such = |p| super::no_such(p).unwrap_or_default();
        assert_eq!(no_such("/api/v1/vaults"), "");
        assert_eq!(no_such("/api/v1/vaults/{vault}"), "No such vault");
        assert_eq!(
            no_such("/api/v1/vaults/{vault}/items/{item}/points/{point}/restore"),
            "No such vault, item or point"
        );
        assert_eq!(no_such("/api/v1/jobs/{id}/cancel"), "No such job");
        assert_eq!(
            no_such("/api/v1/roleAssignments/{id}"),
            "No such assignment"
        );
        assert_eq!(
            no_such("/api/v1/resourceGuards/{guard}/requests/{id}/approve"),
            "No such guard or request"
        );
    }

    #[test]
    fn every_protected_operation_declares_auth_and_failures() {
        let doc = serde_json::to_value(super::super::openapi()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let r = &op["responses"];
                if path == "/healthz" {
                    assert!(r.get("401").is_none(), "{method} {path}");
                    continue;
                }
                for s in ["401", "500", "503"] {
                    assert!(r.get(s).is_some(), "{method} {path} lacks {s}");
                }
                assert!(op["security"].is_array(), "{method} {path}");
            }
        }
    }
}
