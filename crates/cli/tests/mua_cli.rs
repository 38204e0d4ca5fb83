//! Multi-user authorization from the command line, against a real
//! `lifeboat server` process (SQLite catalog): an Owner makes a resource
//! guard for the security admin `sec` and attaches it to `prod`; the
//! vault's Owner `ops` is refused when disabling soft delete (exit 5,
//! MUA_APPROVAL_REQUIRED with the command to run), asks for an approval,
//! `sec` lists and approves it, `ops` disables soft delete once, and a
//! second time is refused again.

mod server_support;

use server_support::{Cli, ServerOpts, ServerProc, TOKEN};

#[test]
fn request_approve_and_use_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = ServerOpts::new(&dir.path().join("data"), &dir.path().join("server.log"));
    let srv = ServerProc::start(opts);
    let cli = Cli::new(&dir.path().join("home"));
    let admin = |args: &[&str]| cli.as_token(&srv, TOKEN, args);

    admin(&["backup", "vault", "create", "--name", "prod"]).ok();
    let mut tokens = Vec::new();
    for name in ["ops", "sec"] {
        admin(&["identity", "create", "--name", name]).ok();
        let t = admin(&[
            "token",
            "create",
            "--identity",
            name,
            "--name",
            name,
            "--query",
            "token",
            "-o",
            "tsv",
        ])
        .ok();
        tokens.push(t.stdout.trim().to_owned());
    }
    admin(&[
        "role",
        "assign",
        "--identity",
        "ops",
        "--role",
        "Owner",
        "--vault",
        "prod",
    ])
    .ok();
    let ops = |args: &[&str]| cli.as_token(&srv, &tokens[0], args);
    let sec = |args: &[&str]| cli.as_token(&srv, &tokens[1], args);

    let g = admin(&[
        "backup",
        "resource-guard",
        "create",
        "--name",
        "g1",
        "--owner",
        "sec",
    ])
    .ok()
    .json();
    assert_eq!(g["owner"], "sec");
    let m = admin(&[
        "backup",
        "vault",
        "resource-guard-mapping",
        "update",
        "--vault",
        "prod",
        "--guard",
        "g1",
    ])
    .ok()
    .json();
    assert_eq!(m["multiUserAuthorization"], "Enabled");
    let shown = ops(&[
        "backup",
        "vault",
        "resource-guard-mapping",
        "show",
        "--vault",
        "prod",
        "--query",
        "guard",
        "-o",
        "tsv",
    ])
    .ok();
    assert_eq!(shown.stdout.trim(), "g1");

    let disable = [
        "backup",
        "vault",
        "update",
        "--name",
        "prod",
        "--soft-delete",
        "Disabled",
    ];
    let refused = ops(&disable);
    assert_eq!(refused.code, 5, "{refused:?}");
    assert!(
        refused.stderr.contains("(MUA_APPROVAL_REQUIRED)"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains(
            "lifeboat backup resource-guard request create --vault prod --operation \
             disable-soft-delete"
        ),
        "{}",
        refused.stderr
    );

    let r = ops(&[
        "backup",
        "resource-guard",
        "request",
        "create",
        "--vault",
        "prod",
        "--operation",
        "disable-soft-delete",
    ])
    .ok()
    .json();
    assert_eq!(r["status"], "Pending");
    let id = r["id"].as_i64().expect("id").to_string();
    // ops holds no guard: it can neither list nor approve.
    let denied = ops(&[
        "backup",
        "resource-guard",
        "request",
        "approve",
        "--guard",
        "g1",
        "--id",
        &id,
    ]);
    assert_eq!(denied.code, 5, "{denied:?}");
    let pending = sec(&[
        "backup",
        "resource-guard",
        "request",
        "list",
        "--guard",
        "g1",
        "--status",
        "Pending",
        "--query",
        "[].id",
    ])
    .ok()
    .json();
    assert_eq!(pending, serde_json::json!([r["id"]]));
    let table = sec(&[
        "backup",
        "resource-guard",
        "request",
        "list",
        "--guard",
        "g1",
        "-o",
        "table",
    ])
    .ok();
    assert!(table.stdout.contains("disable-soft-delete"), "{table:?}");
    let a = sec(&[
        "backup",
        "resource-guard",
        "request",
        "approve",
        "--guard",
        "g1",
        "--id",
        &id,
        "--valid-for-minutes",
        "30",
    ])
    .ok()
    .json();
    assert_eq!(
        (a["status"].as_str(), a["decidedBy"].as_str()),
        (Some("Approved"), Some("sec"))
    );

    let v = ops(&disable).ok().json();
    assert_eq!(
        v["properties"]["securitySettings"]["softDeleteSettings"]["softDeleteState"],
        "Disabled"
    );
    ops(&[
        "backup",
        "vault",
        "update",
        "--name",
        "prod",
        "--soft-delete",
        "Enabled",
    ])
    .ok();
    let again = ops(&disable);
    assert_eq!(again.code, 5, "single use: {again:?}");
    let used = sec(&[
        "backup",
        "resource-guard",
        "request",
        "list",
        "--guard",
        "g1",
        "--query",
        "[0].status",
        "-o",
        "tsv",
    ])
    .ok();
    assert_eq!(used.stdout.trim(), "Used");
}
