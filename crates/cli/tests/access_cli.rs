//! `lifeboat identity|role|token …` against a real `lifeboat server`
//! process (SQLite catalog): an Owner makes an identity, gives it a role,
//! makes a token shown once; the token works within its role, is refused
//! with FORBIDDEN (exit 5) beyond it, and with TOKEN_REVOKED once revoked.

mod server_support;

use server_support::{Cli, ServerOpts, ServerProc, TOKEN};

#[test]
fn identities_roles_and_tokens_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = ServerOpts::new(&dir.path().join("data"), &dir.path().join("server.log"));
    let srv = ServerProc::start(opts);
    let cli = Cli::new(&dir.path().join("home"));
    let admin = |args: &[&str]| cli.as_token(&srv, TOKEN, args);

    admin(&["backup", "vault", "create", "--name", "prod"]).ok();
    admin(&["backup", "vault", "create", "--name", "lab"]).ok();
    let made = admin(&[
        "identity",
        "create",
        "--name",
        "ci-bot",
        "--kind",
        "ServicePrincipal",
    ])
    .ok()
    .json();
    assert_eq!(made["kind"], "ServicePrincipal");
    let r = admin(&[
        "role",
        "assign",
        "--identity",
        "ci-bot",
        "--role",
        "Backup Reader",
        "--vault",
        "prod",
    ])
    .ok()
    .json();
    assert_eq!(
        (r["scope"].as_str(), r["vault"].as_str()),
        (Some("vault"), Some("prod"))
    );
    let bad = admin(&["role", "assign", "--identity", "ci-bot", "--role", "Root"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("(INVALID_ROLE)"), "{}", bad.stderr);

    // The secret, alone on stdout, once; a warning to save it on stderr.
    let created = admin(&[
        "token",
        "create",
        "--identity",
        "ci-bot",
        "--name",
        "ci-1",
        "--expires-in-days",
        "7",
        "--query",
        "token",
        "-o",
        "tsv",
    ])
    .ok();
    let secret = created.stdout.trim().to_owned();
    assert!(
        secret.starts_with("lb_") && secret.len() == 67,
        "{created:?}"
    );
    assert!(created.stderr.contains("WARNING"), "{}", created.stderr);

    // Within its role and scope: allowed, and the list shows only prod.
    let bot = |args: &[&str]| cli.as_token(&srv, &secret, args);
    let vaults = bot(&["backup", "vault", "list", "--query", "[].name"])
        .ok()
        .json();
    assert_eq!(vaults, serde_json::json!(["prod"]));
    // Beyond it: FORBIDDEN, exit 5, naming the operation.
    let refused = bot(&["backup", "vault", "delete", "--name", "prod", "--yes"]);
    assert_eq!(refused.code, 5, "{refused:?}");
    assert!(refused.stderr.contains("(FORBIDDEN)"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("vault.delete"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains(&secret));
    let refused = bot(&["token", "list", "--identity", "ci-bot"]);
    assert_eq!(refused.code, 5, "{refused:?}");

    // Lists never show a secret.
    let list = admin(&["token", "list", "--identity", "ci-bot", "-o", "table"]).ok();
    assert!(
        list.stdout.contains("ci-1") && list.stdout.contains("Active"),
        "{}",
        list.stdout
    );
    assert!(!list.stdout.contains(&secret));
    let roles = admin(&["role", "list", "--vault", "prod", "-o", "table"]).ok();
    assert!(roles.stdout.contains("Backup Reader"), "{}", roles.stdout);
    let shown = admin(&["identity", "show", "--name", "ci-bot"]).ok().json();
    assert_eq!(shown["roleAssignments"][0]["role"], "Backup Reader");

    // Revoked: refused with its own code.
    admin(&[
        "token",
        "revoke",
        "--identity",
        "ci-bot",
        "--name",
        "ci-1",
        "--yes",
    ])
    .ok();
    let after = bot(&["backup", "vault", "list"]);
    assert_eq!(after.code, 5, "{after:?}");
    assert!(after.stderr.contains("(TOKEN_REVOKED)"), "{}", after.stderr);

    // Removing the role by identity, role and vault.
    admin(&[
        "role",
        "remove",
        "--identity",
        "ci-bot",
        "--role",
        "backup reader",
        "--vault",
        "prod",
        "--yes",
    ])
    .ok();
    let none = admin(&["role", "list", "--identity", "ci-bot"]).ok().json();
    assert_eq!(none, serde_json::json!([]));
    let missing = admin(&[
        "role",
        "remove",
        "--identity",
        "ci-bot",
        "--role",
        "Owner",
        "--yes",
    ]);
    assert_eq!(missing.code, 4, "{missing:?}");

    // Disable, and the admin cannot disable itself.
    let d = admin(&["identity", "disable", "--name", "ci-bot"])
        .ok()
        .json();
    assert_eq!(d["disabled"], true);
    let me = admin(&["identity", "disable", "--name", "admin"]);
    assert_eq!(me.code, 2, "{me:?}");
    assert!(me.stderr.contains("(SELF_LOCKOUT)"), "{}", me.stderr);

    // Every new command has examples in its help.
    for args in [
        ["identity", "create", "--help"],
        ["token", "create", "--help"],
        ["role", "assign", "--help"],
    ] {
        let h = admin(&args).ok();
        assert!(h.stdout.contains("Examples:"), "{args:?}: {}", h.stdout);
    }
}
