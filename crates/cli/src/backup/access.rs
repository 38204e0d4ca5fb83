//! `lifeboat identity|token|role …`: identities, their API tokens and
//! role assignments on a Lifeboat server (docs/access.md). Same options,
//! output formats and errors as `lifeboat backup`.

use clap::{Args, Subcommand};
use lifeboat_api::access::{
    CreateIdentity, CreateRoleAssignment, CreateToken, RoleAssignmentQuery,
};

use super::error::{CliError, Result, exit};
use super::output::TableView;
use super::{Ctx, GlobalOpts, TopArg, finish};

const IDENTITY_VIEW: TableView = &[
    ("Name", "name"),
    ("Kind", "kind"),
    ("Disabled", "disabled"),
    ("Created", "created"),
];

const TOKEN_VIEW: TableView = &[
    ("Name", "name"),
    ("Identity", "identity"),
    ("Status", "status"),
    ("Expires", "expires"),
    ("LastUsed", "lastUsed"),
];

const NEW_TOKEN_VIEW: TableView = &[
    ("Name", "name"),
    ("Identity", "identity"),
    ("Expires", "expires"),
    ("Token", "token"),
];

const ROLE_VIEW: TableView = &[
    ("Id", "id"),
    ("Identity", "identity"),
    ("Role", "role"),
    ("Scope", "scope"),
    ("Vault", "vault"),
];

#[derive(Args)]
#[command(after_help = "Examples:
  lifeboat identity create --name ci-bot --kind ServicePrincipal
  lifeboat identity list -o table
  lifeboat identity show --name alice
  lifeboat identity disable --name alice

Needs a token of a server-scope Owner.")]
pub struct IdentityArgs {
    #[command(flatten)]
    global: GlobalOpts,
    #[command(subcommand)]
    cmd: IdentityCmd,
}

#[derive(Subcommand)]
enum IdentityCmd {
    /// Create a user or service principal (no roles, no tokens yet).
    #[command(after_help = "Examples:
  lifeboat identity create --name alice
  lifeboat identity create --name ci-bot --kind ServicePrincipal -o table")]
    Create {
        /// 1-64 letters, digits, '.', '_', '-', '@'.
        #[arg(long, short = 'n')]
        name: String,
        /// User or ServicePrincipal.
        #[arg(long, default_value = "User")]
        kind: String,
    },
    /// List identities with their roles.
    #[command(after_help = "Examples:
  lifeboat identity list -o table
  lifeboat identity list --query \"[?disabled].name\" -o tsv")]
    List,
    /// Show an identity with its role assignments.
    #[command(after_help = "Examples:
  lifeboat identity show --name alice --query roleAssignments -o table")]
    Show {
        #[arg(long, short = 'n')]
        name: String,
    },
    /// Disable an identity: its tokens stop working (at once on the server
    /// asked, within 10 seconds on others sharing the catalog).
    #[command(after_help = "Examples:
  lifeboat identity disable --name alice")]
    Disable {
        #[arg(long, short = 'n')]
        name: String,
    },
    /// Enable a disabled identity again.
    #[command(after_help = "Examples:
  lifeboat identity enable --name alice")]
    Enable {
        #[arg(long, short = 'n')]
        name: String,
    },
}

#[derive(Args)]
#[command(after_help = "Examples:
  lifeboat token create --identity ci-bot --name ci-2026 --expires-in-days 30
  lifeboat token list --identity ci-bot -o table
  lifeboat token revoke --identity ci-bot --name ci-2026 --yes

Needs a token of a server-scope Owner.")]
pub struct TokenArgs {
    #[command(flatten)]
    global: GlobalOpts,
    #[command(subcommand)]
    cmd: TokenCmd,
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create a token for an identity. The secret is printed once: only
    /// its hash is kept on the server.
    #[command(after_help = "Examples:
  lifeboat token create --identity ci-bot --name ci-2026
  lifeboat token create --identity alice --name laptop --expires-in-days 7 --query token -o tsv
  lifeboat token create --identity alice --name q3 --expires 2026-09-30T00:00:00Z")]
    Create {
        /// The identity the token acts as.
        #[arg(long)]
        identity: String,
        /// Token name, unique on the server.
        #[arg(long, short = 'n')]
        name: String,
        /// Lifetime in days, 1-3650 [default: 90].
        #[arg(long, value_name = "DAYS", conflicts_with = "expires",
              value_parser = clap::value_parser!(u32).range(1..=3650))]
        expires_in_days: Option<u32>,
        /// Exact expiry time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        expires: Option<String>,
    },
    /// List an identity's tokens (never their secrets).
    #[command(after_help = "Examples:
  lifeboat token list --identity ci-bot -o table
  lifeboat token list --identity ci-bot --query \"[?status=='Active'].name\" -o tsv")]
    List {
        #[arg(long)]
        identity: String,
        #[command(flatten)]
        top: TopArg,
    },
    /// Revoke a token: it stops working at once on the server asked, within
    /// 10 seconds on others sharing the catalog.
    #[command(after_help = "Examples:
  lifeboat token revoke --identity ci-bot --name ci-2026 --yes")]
    Revoke {
        #[arg(long)]
        identity: String,
        #[arg(long, short = 'n')]
        name: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

#[derive(Args)]
#[command(after_help = "Examples:
  lifeboat role assign --identity alice --role \"Backup Operator\" --vault prod
  lifeboat role assign --identity bob --role \"Backup Reader\"
  lifeboat role list --vault prod -o table
  lifeboat role remove --identity alice --role \"Backup Operator\" --vault prod --yes

Roles: Owner, Backup Contributor, Backup Operator, Backup Reader,
Site Recovery Contributor/Operator/Reader (reserved: permit nothing yet),
Agent (one vault only: backup-now). Without --vault a role applies to the
whole server. docs/access.md lists what each role may do.")]
pub struct RoleArgs {
    #[command(flatten)]
    global: GlobalOpts,
    #[command(subcommand)]
    cmd: RoleCmd,
}

#[derive(Subcommand)]
enum RoleCmd {
    /// Give an identity a role on the whole server or on one vault.
    #[command(after_help = "Examples:
  lifeboat role assign --identity alice --role \"Backup Operator\" --vault prod
  lifeboat role assign --identity ops --role BackupContributor")]
    Assign {
        #[arg(long)]
        identity: String,
        #[arg(long)]
        role: String,
        /// The vault; without it, the whole server.
        #[arg(long)]
        vault: Option<String>,
    },
    /// List role assignments.
    #[command(after_help = "Examples:
  lifeboat role list -o table
  lifeboat role list --identity alice
  lifeboat role list --vault prod --query \"[].{who:identity, role:role}\" -o table")]
    List {
        #[arg(long)]
        identity: Option<String>,
        #[arg(long)]
        vault: Option<String>,
    },
    /// Remove a role assignment, by id or by identity, role and scope.
    #[command(after_help = "Examples:
  lifeboat role remove --id 7 --yes
  lifeboat role remove --identity alice --role \"Backup Operator\" --vault prod --yes")]
    Remove {
        /// The assignment's id (`lifeboat role list`).
        #[arg(long, conflicts_with_all = ["identity", "role", "vault"])]
        id: Option<i64>,
        #[arg(long, requires = "role")]
        identity: Option<String>,
        #[arg(long, requires = "identity")]
        role: Option<String>,
        /// The vault of the assignment; without it, the server-scope one.
        #[arg(long, requires = "identity")]
        vault: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// Runs `lifeboat identity …`; returns the exit code.
pub fn run_identity(a: IdentityArgs) -> u8 {
    finish(Ctx::new(&a.global).and_then(|ctx| identity(&ctx, a.cmd)))
}

fn identity(ctx: &Ctx, cmd: IdentityCmd) -> Result<u8> {
    match cmd {
        IdentityCmd::Create { name, kind } => {
            let v = ctx.client.create_identity(&CreateIdentity {
                name,
                kind: Some(kind),
            })?;
            ctx.show(&v, Some(IDENTITY_VIEW))?;
        }
        IdentityCmd::List => ctx.show(&ctx.client.list_identities()?, Some(IDENTITY_VIEW))?,
        IdentityCmd::Show { name } => {
            ctx.show(&ctx.client.show_identity(&name)?, Some(IDENTITY_VIEW))?
        }
        IdentityCmd::Disable { name } => {
            ctx.show(&ctx.client.disable_identity(&name)?, Some(IDENTITY_VIEW))?
        }
        IdentityCmd::Enable { name } => {
            ctx.show(&ctx.client.enable_identity(&name)?, Some(IDENTITY_VIEW))?
        }
    }
    Ok(exit::OK)
}

/// Runs `lifeboat token …`; returns the exit code.
pub fn run_token(a: TokenArgs) -> u8 {
    finish(Ctx::new(&a.global).and_then(|ctx| token(&ctx, a.cmd)))
}

fn token(ctx: &Ctx, cmd: TokenCmd) -> Result<u8> {
    match cmd {
        TokenCmd::Create {
            identity,
            name,
            expires_in_days,
            expires,
        } => {
            let req = CreateToken {
                name,
                expires_in_days,
                expires: expires
                    .as_deref()
                    .map(|t| super::time_arg(t, "--expires"))
                    .transpose()?,
            };
            let v = ctx.client.create_token(&identity, &req)?;
            ctx.warn("save the token now: the server keeps only its hash and cannot show it again");
            ctx.show(&v, Some(NEW_TOKEN_VIEW))?;
        }
        TokenCmd::List { identity, top } => {
            let list = top.cut(ctx.client.list_tokens(&identity)?);
            ctx.show(&list, Some(TOKEN_VIEW))?;
        }
        TokenCmd::Revoke {
            identity,
            name,
            yes,
        } => {
            if !yes {
                super::protection::confirm(&format!(
                    "Revoke token '{name}' of '{identity}'? Clients using it will be refused."
                ))?;
            }
            let v = ctx.client.revoke_token(&identity, &name)?;
            ctx.show(&v, Some(TOKEN_VIEW))?;
        }
    }
    Ok(exit::OK)
}

/// Runs `lifeboat role …`; returns the exit code.
pub fn run_role(a: RoleArgs) -> u8 {
    finish(Ctx::new(&a.global).and_then(|ctx| role(&ctx, a.cmd)))
}

/// Role names compare as the server parses them: case, spaces and dashes
/// ignored.
fn role_key(r: &str) -> String {
    r.chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

fn role(ctx: &Ctx, cmd: RoleCmd) -> Result<u8> {
    match cmd {
        RoleCmd::Assign {
            identity,
            role,
            vault,
        } => {
            let v = ctx.client.create_role_assignment(&CreateRoleAssignment {
                identity,
                role,
                vault,
            })?;
            ctx.show(&v, Some(ROLE_VIEW))?;
        }
        RoleCmd::List { identity, vault } => {
            let list = ctx
                .client
                .list_role_assignments(&RoleAssignmentQuery { identity, vault })?;
            ctx.show(&list, Some(ROLE_VIEW))?;
        }
        RoleCmd::Remove {
            id,
            identity,
            role,
            vault,
            yes,
        } => {
            let id = match (id, identity, role) {
                (Some(id), _, _) => id,
                (None, Some(identity), Some(role)) => {
                    let list = ctx.client.list_role_assignments(&RoleAssignmentQuery {
                        identity: Some(identity.clone()),
                        vault: None,
                    })?;
                    let want = role_key(&role);
                    list.iter()
                        .find(|a| role_key(&a.role) == want && a.vault == vault)
                        .map(|a| a.id)
                        .ok_or_else(|| CliError::Api {
                            status: 404,
                            code: lifeboat_codes::NOT_FOUND.into(),
                            message: format!(
                                "identity '{identity}' has no role '{role}' {}",
                                match &vault {
                                    Some(v) => format!("on vault '{v}'"),
                                    None => "at server scope".into(),
                                }
                            ),
                            target: Some("role".into()),
                        })?
                }
                _ => {
                    return Err(CliError::Usage(
                        "give --id, or --identity and --role (and --vault for a vault role)".into(),
                    ));
                }
            };
            if !yes {
                super::protection::confirm(&format!("Remove role assignment {id}?"))?;
            }
            ctx.client.delete_role_assignment(id)?;
        }
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Parser)]
    struct Test {
        #[command(subcommand)]
        cmd: Top,
    }

    #[derive(Subcommand)]
    enum Top {
        Identity(IdentityArgs),
        Token(TokenArgs),
        Role(RoleArgs),
    }

    fn parses(args: &[&str]) -> bool {
        let mut full = vec!["lifeboat"];
        full.extend_from_slice(args);
        Test::try_parse_from(full).is_ok()
    }

    #[test]
    fn clap_tree_is_consistent() {
        Test::command().debug_assert();
    }

    #[test]
    fn flags_are_checked() {
        assert!(parses(&[
            "token",
            "create",
            "--identity",
            "a",
            "--name",
            "t"
        ]));
        assert!(parses(&[
            "token",
            "create",
            "--identity",
            "a",
            "--name",
            "t",
            "--expires-in-days",
            "30"
        ]));
        assert!(!parses(&[
            "token",
            "create",
            "--identity",
            "a",
            "--name",
            "t",
            "--expires-in-days",
            "0"
        ]));
        assert!(!parses(&[
            "token",
            "create",
            "--identity",
            "a",
            "--name",
            "t",
            "--expires-in-days",
            "3",
            "--expires",
            "2030-01-01T00:00:00Z"
        ]));
        assert!(parses(&["role", "remove", "--id", "3", "--yes"]));
        assert!(parses(&[
            "role",
            "remove",
            "--identity",
            "a",
            "--role",
            "Owner",
            "--vault",
            "v"
        ]));
        assert!(!parses(&["role", "remove", "--id", "3", "--identity", "a"]));
        assert!(!parses(&["role", "remove", "--identity", "a"]));
        assert!(!parses(&["role", "remove", "--vault", "v"]));
        assert!(parses(&["identity", "list", "-o", "table"]));
    }

    #[test]
    fn role_keys_ignore_case_and_spaces() {
        assert_eq!(role_key("Backup Operator"), role_key("backup-operator"));
        assert_ne!(role_key("Backup Operator"), role_key("Backup Reader"));
    }
}
