//! Authorization: roles with Azure Backup's meanings, the operations of the
//! API, the one table that says which role may do which operation, and the
//! map from each route to its operation and the vault it acts on. (Long
//! because the role table and the route map are read side by side; a
//! sixth of the file is their tests.)
//!
//! - A [`Principal`] holds [`Grant`]s: a role at server scope or on one
//!   vault. A server-scope grant reaches every vault; a vault grant only
//!   that vault. Operations that act on no vault (creating a vault,
//!   identities, tokens, metrics) need a server-scope grant.
//! - [`PERMISSIONS`] lists, for every [`Op`], the roles that may do it.
//!   Nothing else grants anything: a role this binary does not know, the
//!   reserved Site Recovery roles, and a route without a rule permit
//!   nothing (tests check that every route has a rule).
//! - [`route_rule`] maps `(method, route template)` to an [`Op`] and to
//!   where the vault comes from ([`At`]). The middleware
//!   (`auth::require_token`) runs the check before any handler, so a
//!   handler never runs for a caller who may not call it.
//!
//! `Agent` (data-plane tokens of a later issue) is append-only: it may
//! start a backup of an item of its vault and nothing else; at server
//! scope it permits nothing.

use std::collections::BTreeSet;
use std::fmt;

use axum::http::Method;
use chrono::{DateTime, Utc};
use lifeboat_catalog::{IdentityId, TokenId, VaultId};

/// A role this binary knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Everything, role assignments, identities and tokens included.
    Owner,
    /// All backup management (policies, stopping protection with delete,
    /// deleting points, creating vaults), but not deleting a vault and not
    /// granting access.
    BackupContributor,
    /// Protect, back up now, stop protection keeping data, resume, restore,
    /// cancel jobs, view — no deleting backups, no policy management, no
    /// vault create/delete.
    BackupOperator,
    /// View only.
    BackupReader,
    /// Reserved for Site Recovery: parsed, permits nothing yet.
    SiteRecoveryContributor,
    /// Reserved for Site Recovery: parsed, permits nothing yet.
    SiteRecoveryOperator,
    /// Reserved for Site Recovery: parsed, permits nothing yet.
    SiteRecoveryReader,
    /// Data-plane agent (append-only): back up now on its vault only.
    Agent,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Owner,
        Role::BackupContributor,
        Role::BackupOperator,
        Role::BackupReader,
        Role::SiteRecoveryContributor,
        Role::SiteRecoveryOperator,
        Role::SiteRecoveryReader,
        Role::Agent,
    ];

    /// The name stored in the catalog and shown to users (Azure's).
    pub fn name(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::BackupContributor => "Backup Contributor",
            Role::BackupOperator => "Backup Operator",
            Role::BackupReader => "Backup Reader",
            Role::SiteRecoveryContributor => "Site Recovery Contributor",
            Role::SiteRecoveryOperator => "Site Recovery Operator",
            Role::SiteRecoveryReader => "Site Recovery Reader",
            Role::Agent => "Agent",
        }
    }

    /// Parses a role name: Azure's spelling, case and spaces ignored
    /// (`Backup Operator`, `BackupOperator`, `backup-operator`).
    /// `Administrator`, the only role before identities, is `Owner`.
    pub fn parse(name: &str) -> Option<Role> {
        let key: String = name
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-' && *c != '_')
            .flat_map(char::to_lowercase)
            .collect();
        if key == "administrator" {
            return Some(Role::Owner);
        }
        Role::ALL.into_iter().find(|r| {
            r.name()
                .chars()
                .filter(|c| !c.is_whitespace())
                .flat_map(char::to_lowercase)
                .eq(key.chars())
        })
    }

    /// Whether a grant of this role is only meaningful on one vault.
    pub fn vault_scope_only(self) -> bool {
        self == Role::Agent
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every operation of the API, named as in docs/access.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    SystemMetrics,
    ApiDescribe,
    VaultCreate,
    VaultRead,
    VaultDelete,
    VaultUpdate,
    VaultUndelete,
    PolicyRead,
    PolicyWrite,
    PolicyDelete,
    ItemRead,
    ItemProtect,
    ItemBackupNow,
    ItemStop,
    ItemStopDelete,
    ItemResume,
    ItemChangePolicy,
    ItemUndelete,
    PointRead,
    PointDelete,
    Restore,
    JobRead,
    JobCancel,
    IdentityCreate,
    IdentityRead,
    IdentityDisable,
    TokenCreate,
    TokenRead,
    TokenRevoke,
    RoleAssign,
    RoleRead,
    RoleRemove,
    /// Read and verify the audit log.
    AuditRead,
    /// Create a resource guard (multi-user authorization).
    GuardCreate,
    /// See a resource guard: its holders, and server-scope Owners.
    GuardRead,
    /// Delete a guard, add or remove holders: its holders only.
    GuardManage,
    /// List, approve and reject a guard's requests: its holders only.
    GuardApprove,
    /// Attach a resource guard to a vault.
    VaultGuardAttach,
    /// Detach a vault's resource guard (a critical operation).
    VaultGuardDetach,
    /// Ask a vault's guard holders to approve a critical operation.
    MuaRequest,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::SystemMetrics => "system.metrics",
            Op::ApiDescribe => "api.describe",
            Op::VaultCreate => "vault.create",
            Op::VaultRead => "vault.read",
            Op::VaultDelete => "vault.delete",
            Op::VaultUpdate => "vault.update",
            Op::VaultUndelete => "vault.undelete",
            Op::PolicyRead => "policy.read",
            Op::PolicyWrite => "policy.write",
            Op::PolicyDelete => "policy.delete",
            Op::ItemRead => "item.read",
            Op::ItemProtect => "item.protect",
            Op::ItemBackupNow => "item.backup_now",
            Op::ItemStop => "item.stop",
            Op::ItemStopDelete => "item.stop_delete",
            Op::ItemResume => "item.resume",
            Op::ItemChangePolicy => "item.change_policy",
            Op::ItemUndelete => "item.undelete",
            Op::PointRead => "point.read",
            Op::PointDelete => "point.delete",
            Op::Restore => "restore",
            Op::JobRead => "job.read",
            Op::JobCancel => "job.cancel",
            Op::IdentityCreate => "identity.create",
            Op::IdentityRead => "identity.read",
            Op::IdentityDisable => "identity.disable",
            Op::TokenCreate => "token.create",
            Op::TokenRead => "token.read",
            Op::TokenRevoke => "token.revoke",
            Op::RoleAssign => "role.assign",
            Op::RoleRead => "role.read",
            Op::RoleRemove => "role.remove",
            Op::AuditRead => "audit.read",
            Op::GuardCreate => "guard.create",
            Op::GuardRead => "guard.read",
            Op::GuardManage => "guard.manage",
            Op::GuardApprove => "guard.approve",
            Op::VaultGuardAttach => "vault.guard_attach",
            Op::VaultGuardDetach => "vault.guard_detach",
            Op::MuaRequest => "mua.request",
        }
    }

    /// The roles that may do this operation (from [`PERMISSIONS`]).
    pub fn roles(self) -> &'static [Role] {
        PERMISSIONS
            .iter()
            .find(|(op, _)| *op == self)
            .map(|(_, roles)| *roles)
            .unwrap_or(&[])
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

use Role::{Agent, BackupContributor, BackupOperator, BackupReader, Owner};

const READERS: &[Role] = &[Owner, BackupContributor, BackupOperator, BackupReader];
const OPERATORS: &[Role] = &[Owner, BackupContributor, BackupOperator];
const CONTRIBUTORS: &[Role] = &[Owner, BackupContributor];
const OWNERS: &[Role] = &[Owner];

/// The permission table: every operation and the roles that may do it.
/// Nothing outside this table grants anything.
pub const PERMISSIONS: &[(Op, &[Role])] = &[
    (Op::SystemMetrics, READERS),
    (Op::ApiDescribe, READERS),
    (Op::VaultCreate, CONTRIBUTORS),
    (Op::VaultRead, READERS),
    // Azure: a Backup Contributor cannot delete the vault.
    (Op::VaultDelete, OWNERS),
    // Vault settings (soft delete, immutability): backup management.
    (Op::VaultUpdate, CONTRIBUTORS),
    (Op::VaultUndelete, CONTRIBUTORS),
    (Op::PolicyRead, READERS),
    (Op::PolicyWrite, CONTRIBUTORS),
    (Op::PolicyDelete, CONTRIBUTORS),
    (Op::ItemRead, READERS),
    (Op::ItemProtect, OPERATORS),
    (
        Op::ItemBackupNow,
        &[Owner, BackupContributor, BackupOperator, Agent],
    ),
    (Op::ItemStop, OPERATORS),
    (Op::ItemStopDelete, CONTRIBUTORS),
    (Op::ItemResume, OPERATORS),
    // Swapping the policy can shorten retention: policy management.
    (Op::ItemChangePolicy, CONTRIBUTORS),
    (Op::ItemUndelete, CONTRIBUTORS),
    (Op::PointRead, READERS),
    (Op::PointDelete, CONTRIBUTORS),
    (Op::Restore, OPERATORS),
    (Op::JobRead, READERS),
    (Op::JobCancel, OPERATORS),
    (Op::IdentityCreate, OWNERS),
    (Op::IdentityRead, OWNERS),
    (Op::IdentityDisable, OWNERS),
    (Op::TokenCreate, OWNERS),
    (Op::TokenRead, OWNERS),
    (Op::TokenRevoke, OWNERS),
    (Op::RoleAssign, OWNERS),
    (Op::RoleRead, OWNERS),
    (Op::RoleRemove, OWNERS),
    // Who did what, server-wide: owners only.
    (Op::AuditRead, OWNERS),
    // Multi-user authorization. A guard's own routes are checked against
    // its holders (At::Guard); the roles here only add server-scope
    // Owners for reading it. Managing a guard and deciding its requests
    // belong to its holders alone: no role grants them.
    (Op::GuardCreate, OWNERS),
    (Op::GuardRead, OWNERS),
    (Op::GuardManage, &[]),
    (Op::GuardApprove, &[]),
    (Op::VaultGuardAttach, OWNERS),
    (Op::VaultGuardDetach, OWNERS),
    // Whoever may do some critical operation on the vault may ask.
    (Op::MuaRequest, CONTRIBUTORS),
];

/// Operations that no role grants: only a guard's holders may do them.
pub const HOLDERS_ONLY: [Op; 2] = [Op::GuardManage, Op::GuardApprove];

/// Where a grant applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Server,
    Vault { id: VaultId, name: String },
}

/// A role held at a scope. `role` is `Err(name)` for a role name this
/// binary does not know: kept for messages, permits nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub role: Result<Role, String>,
    pub scope: Scope,
}

impl Grant {
    /// Whether this grant allows `op`, ignoring where.
    fn allows(&self, op: Op) -> bool {
        match self.role {
            Ok(role) => {
                if role.vault_scope_only() && self.scope == Scope::Server {
                    return false;
                }
                op.roles().contains(&role)
            }
            Err(_) => false,
        }
    }

    fn describe(&self) -> String {
        let role = match &self.role {
            Ok(r) => r.name().to_owned(),
            Err(n) => format!("unknown role '{n}'"),
        };
        match &self.scope {
            Scope::Server => format!("{role} at server scope"),
            Scope::Vault { name, .. } => format!("{role} on vault '{name}'"),
        }
    }
}

/// What a check is about: the whole server, or one vault (by name, as the
/// route names it; `id` when known).
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Server,
    Vault(&'a str),
    VaultId(VaultId),
}

/// The vaults a principal may do an operation on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visible {
    All,
    Only(BTreeSet<VaultId>),
}

impl Visible {
    pub fn contains(&self, id: VaultId) -> bool {
        match self {
            Visible::All => true,
            Visible::Only(s) => s.contains(&id),
        }
    }
}

/// Who is calling: the token, its identity and the identity's grants.
#[derive(Debug, Clone)]
pub struct Principal {
    pub token_id: TokenId,
    /// The token's name (logged instead of the token).
    pub token_name: String,
    /// The identity the token belongs to (`None` for a token made before
    /// identities, which carries its own server-scope role).
    pub identity: Option<(IdentityId, String)>,
    /// When the token stops working.
    pub expires: Option<DateTime<Utc>>,
    pub grants: Vec<Grant>,
}

impl Principal {
    /// A name for logs and messages: the identity's, else the token's.
    pub fn display_name(&self) -> &str {
        match &self.identity {
            Some((_, n)) => n,
            None => &self.token_name,
        }
    }

    pub fn identity_id(&self) -> Option<IdentityId> {
        self.identity.as_ref().map(|(id, _)| *id)
    }

    /// Whether the principal may do `op` on `target`.
    pub fn may(&self, op: Op, target: Target<'_>) -> bool {
        self.grants.iter().any(|g| {
            g.allows(op)
                && match (&g.scope, target) {
                    (Scope::Server, _) => true,
                    (Scope::Vault { .. }, Target::Server) => false,
                    (Scope::Vault { name, .. }, Target::Vault(v)) => name == v,
                    (Scope::Vault { id, .. }, Target::VaultId(v)) => *id == v,
                }
        })
    }

    /// Whether some grant allows `op` somewhere (for lists, which then
    /// show only [`Principal::visible`]).
    pub fn may_somewhere(&self, op: Op) -> bool {
        self.grants.iter().any(|g| g.allows(op))
    }

    /// The vaults on which the principal may do `op`.
    pub fn visible(&self, op: Op) -> Visible {
        let mut out = BTreeSet::new();
        for g in self.grants.iter().filter(|g| g.allows(op)) {
            match &g.scope {
                Scope::Server => return Visible::All,
                Scope::Vault { id, .. } => {
                    out.insert(*id);
                }
            }
        }
        Visible::Only(out)
    }

    /// The `FORBIDDEN` message: the operation, where, the roles that would
    /// allow it and the roles the caller has. Never a secret.
    pub fn denial(&self, op: Op, target: Target<'_>) -> String {
        let roles: Vec<&str> = op.roles().iter().map(|r| r.name()).collect();
        let needed = if roles.is_empty() {
            "no role allows it".to_owned()
        } else {
            let scope = match target {
                Target::Server => "at server scope".to_owned(),
                Target::Vault(v) => format!("at server scope or on vault '{v}'"),
                Target::VaultId(_) => "at server scope or on its vault".to_owned(),
            };
            format!("it needs {} {scope}", roles.join(" or "))
        };
        let has = if self.grants.is_empty() {
            "no role".to_owned()
        } else {
            self.grants
                .iter()
                .map(Grant::describe)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let on = match target {
            Target::Server => String::new(),
            Target::Vault(v) => format!(" on vault '{v}'"),
            Target::VaultId(_) => String::new(),
        };
        format!(
            "'{}' may not do {op}{on}: {needed}; it has {has}",
            self.display_name()
        )
    }
}

/// Where the vault of a route's check comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// No vault: needs a server-scope grant.
    Server,
    /// A list: allowed with a grant anywhere; the handler shows only the
    /// vaults the caller may see.
    Listing,
    /// The `{vault}` path parameter.
    PathVault,
    /// `…/items/{item}/stop`: the `{vault}` parameter, and the operation
    /// is `item.stop_delete` when the body's `mode` is `delete-data`.
    PathVaultStopMode,
    /// The vault of the job `{id}`.
    Job,
    /// The optional `vault` field of the JSON body (none: server scope).
    BodyVault,
    /// The vault of the role assignment `{id}`.
    Assignment,
    /// Any authenticated caller: the handler shows only what the caller
    /// holds (the resource guard list).
    Anyone,
    /// The resource guard `{guard}`: its holders (its owner and the
    /// members added), or a role that allows the operation at server
    /// scope.
    Guard,
}

/// One route's authorization rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub op: Op,
    pub at: At,
}

/// The rule of a route (`path` is the route template, as in the OpenAPI
/// document). `None`: no rule, and the middleware refuses the call.
pub fn route_rule(method: &Method, path: &str) -> Option<Rule> {
    let rule = |op, at| Some(Rule { op, at });
    let m = method.as_str();
    match (m, path) {
        ("GET", "/metrics") => rule(Op::SystemMetrics, At::Server),
        ("GET", "/api/v1/openapi.json") => rule(Op::ApiDescribe, At::Listing),
        ("POST", "/api/v1/vaults") => rule(Op::VaultCreate, At::Server),
        ("GET", "/api/v1/vaults") => rule(Op::VaultRead, At::Listing),
        ("GET", "/api/v1/vaults/{vault}") => rule(Op::VaultRead, At::PathVault),
        ("DELETE", "/api/v1/vaults/{vault}") => rule(Op::VaultDelete, At::PathVault),
        ("PATCH", "/api/v1/vaults/{vault}") => rule(Op::VaultUpdate, At::PathVault),
        ("GET", "/api/v1/vaults/{vault}/alerts") => rule(Op::VaultRead, At::PathVault),
        // Soft-deleted vaults: server scope (their names may be taken again).
        ("GET", "/api/v1/deleted-vaults") | ("GET", "/api/v1/deleted-vaults/{vault}") => {
            rule(Op::VaultRead, At::Server)
        }
        ("POST", "/api/v1/deleted-vaults/{vault}/undelete") => rule(Op::VaultUndelete, At::Server),
        ("GET", "/api/v1/vaults/{vault}/policies") => rule(Op::PolicyRead, At::PathVault),
        ("POST", "/api/v1/vaults/{vault}/policies") => rule(Op::PolicyWrite, At::PathVault),
        ("GET", "/api/v1/vaults/{vault}/policies/{policy}") => rule(Op::PolicyRead, At::PathVault),
        ("PUT", "/api/v1/vaults/{vault}/policies/{policy}") => rule(Op::PolicyWrite, At::PathVault),
        ("DELETE", "/api/v1/vaults/{vault}/policies/{policy}") => {
            rule(Op::PolicyDelete, At::PathVault)
        }
        ("GET", "/api/v1/vaults/{vault}/items") => rule(Op::ItemRead, At::PathVault),
        ("POST", "/api/v1/vaults/{vault}/items") => rule(Op::ItemProtect, At::PathVault),
        ("GET", "/api/v1/vaults/{vault}/items/{item}") => rule(Op::ItemRead, At::PathVault),
        ("POST", "/api/v1/vaults/{vault}/items/{item}/backup") => {
            rule(Op::ItemBackupNow, At::PathVault)
        }
        ("POST", "/api/v1/vaults/{vault}/items/{item}/stop") => {
            rule(Op::ItemStop, At::PathVaultStopMode)
        }
        ("POST", "/api/v1/vaults/{vault}/items/{item}/resume") => {
            rule(Op::ItemResume, At::PathVault)
        }
        ("POST", "/api/v1/vaults/{vault}/items/{item}/policy") => {
            rule(Op::ItemChangePolicy, At::PathVault)
        }
        ("POST", "/api/v1/vaults/{vault}/items/{item}/undelete") => {
            rule(Op::ItemUndelete, At::PathVault)
        }
        ("GET", "/api/v1/vaults/{vault}/items/{item}/points") => rule(Op::PointRead, At::PathVault),
        ("GET", "/api/v1/vaults/{vault}/items/{item}/points/{point}") => {
            rule(Op::PointRead, At::PathVault)
        }
        ("DELETE", "/api/v1/vaults/{vault}/items/{item}/points/{point}") => {
            rule(Op::PointDelete, At::PathVault)
        }
        ("POST", "/api/v1/vaults/{vault}/items/{item}/points/{point}/restore") => {
            rule(Op::Restore, At::PathVault)
        }
        ("GET", "/api/v1/jobs") => rule(Op::JobRead, At::Listing),
        ("GET", "/api/v1/jobs/{id}") => rule(Op::JobRead, At::Job),
        ("POST", "/api/v1/jobs/{id}/cancel") => rule(Op::JobCancel, At::Job),
        ("POST", "/api/v1/identities") => rule(Op::IdentityCreate, At::Server),
        ("GET", "/api/v1/identities") => rule(Op::IdentityRead, At::Server),
        ("GET", "/api/v1/identities/{identity}") => rule(Op::IdentityRead, At::Server),
        ("POST", "/api/v1/identities/{identity}/disable")
        | ("POST", "/api/v1/identities/{identity}/enable") => rule(Op::IdentityDisable, At::Server),
        ("POST", "/api/v1/identities/{identity}/tokens") => rule(Op::TokenCreate, At::Server),
        ("GET", "/api/v1/identities/{identity}/tokens") => rule(Op::TokenRead, At::Server),
        ("POST", "/api/v1/identities/{identity}/tokens/{token}/revoke") => {
            rule(Op::TokenRevoke, At::Server)
        }
        ("POST", "/api/v1/roleAssignments") => rule(Op::RoleAssign, At::BodyVault),
        ("GET", "/api/v1/roleAssignments") => rule(Op::RoleRead, At::Listing),
        ("DELETE", "/api/v1/roleAssignments/{id}") => rule(Op::RoleRemove, At::Assignment),
        ("GET", "/api/v1/audit") | ("GET", "/api/v1/audit/verify") => {
            rule(Op::AuditRead, At::Server)
        }
        ("POST", "/api/v1/resourceGuards") => rule(Op::GuardCreate, At::Server),
        ("GET", "/api/v1/resourceGuards") => rule(Op::GuardRead, At::Anyone),
        ("GET", "/api/v1/resourceGuards/{guard}") => rule(Op::GuardRead, At::Guard),
        ("DELETE", "/api/v1/resourceGuards/{guard}")
        | ("POST", "/api/v1/resourceGuards/{guard}/members")
        | ("DELETE", "/api/v1/resourceGuards/{guard}/members/{identity}") => {
            rule(Op::GuardManage, At::Guard)
        }
        ("GET", "/api/v1/resourceGuards/{guard}/requests")
        | ("POST", "/api/v1/resourceGuards/{guard}/requests/{id}/approve")
        | ("POST", "/api/v1/resourceGuards/{guard}/requests/{id}/reject") => {
            rule(Op::GuardApprove, At::Guard)
        }
        ("GET", "/api/v1/vaults/{vault}/resourceGuard") => rule(Op::VaultRead, At::PathVault),
        ("PUT", "/api/v1/vaults/{vault}/resourceGuard") => {
            rule(Op::VaultGuardAttach, At::PathVault)
        }
        ("DELETE", "/api/v1/vaults/{vault}/resourceGuard") => {
            rule(Op::VaultGuardDetach, At::PathVault)
        }
        ("POST", "/api/v1/vaults/{vault}/resourceGuard/requests") => {
            rule(Op::MuaRequest, At::PathVault)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestGrant<'a> = (Result<Role, String>, Option<(i64, &'a str)>);

    fn principal(grants: Vec<TestGrant<'_>>) -> Principal {
        Principal {
            token_id: TokenId(1),
            token_name: "t".into(),
            identity: Some((IdentityId(1), "alice".into())),
            expires: None,
            grants: grants
                .into_iter()
                .map(|(role, v)| Grant {
                    role,
                    scope: match v {
                        None => Scope::Server,
                        Some((id, n)) => Scope::Vault {
                            id: VaultId(id),
                            name: n.into(),
                        },
                    },
                })
                .collect(),
        }
    }

    #[test]
    fn every_op_has_a_row() {
        let ops: BTreeSet<Op> = PERMISSIONS.iter().map(|(o, _)| *o).collect();
        assert_eq!(ops.len(), PERMISSIONS.len(), "one row per operation");
        for (op, roles) in PERMISSIONS {
            if HOLDERS_ONLY.contains(op) {
                assert!(roles.is_empty(), "{op}: only guard holders");
                continue;
            }
            assert!(
                roles.contains(&Role::Owner),
                "{op}: Owner may do everything"
            );
            for r in [
                Role::SiteRecoveryContributor,
                Role::SiteRecoveryOperator,
                Role::SiteRecoveryReader,
            ] {
                assert!(!roles.contains(&r), "{op}: {r} is reserved");
            }
        }
    }

    #[test]
    fn role_names_parse() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.name()), Some(r));
        }
        assert_eq!(Role::parse("backupoperator"), Some(Role::BackupOperator));
        assert_eq!(Role::parse("backup-reader"), Some(Role::BackupReader));
        assert_eq!(Role::parse("Administrator"), Some(Role::Owner));
        assert_eq!(Role::parse("Backup"), None);
        assert_eq!(Role::parse(""), None);
    }

    #[test]
    fn scopes_and_unknown_roles() {
        let p = principal(vec![(Ok(Role::BackupOperator), Some((1, "a")))]);
        assert!(p.may(Op::ItemBackupNow, Target::Vault("a")));
        assert!(!p.may(Op::ItemBackupNow, Target::Vault("b")));
        assert!(!p.may(Op::ItemStopDelete, Target::Vault("a")));
        assert!(!p.may(Op::VaultCreate, Target::Server));
        assert_eq!(p.visible(Op::VaultRead), Visible::Only([VaultId(1)].into()));
        let msg = p.denial(Op::ItemStopDelete, Target::Vault("a"));
        assert!(msg.contains("item.stop_delete"), "{msg}");
        assert!(msg.contains("Backup Contributor"), "{msg}");
        assert!(msg.contains("Backup Operator on vault 'a'"), "{msg}");

        let u = principal(vec![(Err("Frobnicator".into()), None)]);
        for (op, _) in PERMISSIONS {
            assert!(!u.may(*op, Target::Server));
            assert!(!u.may_somewhere(*op));
        }
        let agent = principal(vec![(Ok(Role::Agent), None)]);
        assert!(
            !agent.may_somewhere(Op::ItemBackupNow),
            "Agent at server scope"
        );
        let agent = principal(vec![(Ok(Role::Agent), Some((2, "b")))]);
        assert!(agent.may(Op::ItemBackupNow, Target::Vault("b")));
        for (op, _) in PERMISSIONS {
            if *op != Op::ItemBackupNow {
                assert!(!agent.may(*op, Target::Vault("b")), "Agent {op}");
            }
        }
        let owner = principal(vec![(Ok(Role::Owner), None)]);
        assert_eq!(owner.visible(Op::JobRead), Visible::All);
        assert!(owner.may(Op::RoleAssign, Target::Server));
    }

    #[test]
    fn every_documented_route_has_a_rule() {
        let doc = serde_json::to_value(crate::api::openapi()).expect("doc");
        let mut missing = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for m in ["get", "post", "put", "delete", "patch"] {
                if item.get(m).is_none() || path == "/healthz" {
                    continue;
                }
                let method = Method::from_bytes(m.to_uppercase().as_bytes()).expect("method");
                if route_rule(&method, path).is_none() {
                    missing.push(format!("{m} {path}"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "routes without an authorization rule in authz::route_rule: {missing:?}"
        );
    }
}
