//! `lifeboat audit list|verify` against a real `lifeboat server` process on
//! a PostgreSQL catalog of the test's own: mutating commands show up in the
//! list and in the server's JSON log (target `lifeboat::audit`); a row
//! edited with SQL makes `lifeboat audit verify` exit 6 naming its seq.

mod server_support;

use serde_json::Value;
use server_support::{Cli, PgDb, Run, ServerOpts, ServerProc, TOKEN, prepend};

fn audit(cli: &Cli, srv: &ServerProc, args: &[&str]) -> Run {
    cli.as_token(srv, TOKEN, &prepend("audit", args))
}

fn pg_exec(url: &str, sql: &str) {
    use sqlx::Connection;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut c)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        });
}

#[test]
fn audit_list_and_verify_find_an_edited_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pg = PgDb::create_blocking("lifeboat_test_audit_cli");
    let mut opts = ServerOpts::new(&dir.path().join("data"), &dir.path().join("server.log"));
    opts.catalog = Some(pg.url.clone());
    let srv = ServerProc::start(opts);
    let home = dir.path().join("home");
    let cli = Cli::new(&home);

    cli.backup(&srv, &["vault", "create", "--name", "prod"])
        .ok();
    let refused = cli.backup(&srv, &["vault", "delete", "--name", "nope", "--yes"]);
    assert_eq!(refused.code, 4, "{refused:?}");
    cli.backup(&srv, &["vault", "list"]).ok();

    // Four rows: attempt and result of each write; the list is a read.
    let rows = audit(&cli, &srv, &["list"]).ok().json();
    let rows = rows.as_array().expect("a list").clone();
    let seqs: Vec<i64> = rows.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![4, 3, 2, 1], "{rows:#?}");
    assert_eq!(rows[0]["operation"], "vault.delete");
    assert_eq!(rows[0]["status"], 404);
    assert_eq!(rows[0]["errorCode"], "NOT_FOUND");
    let failed = audit(&cli, &srv, &["list", "--failed", "--query", "[].seq"])
        .ok()
        .json();
    assert_eq!(failed, serde_json::json!([4]));
    let table = audit(
        &cli,
        &srv,
        &["list", "--operation", "vault.create", "-o", "table"],
    )
    .ok();
    assert!(table.stdout.starts_with("Seq"), "{}", table.stdout);
    assert_eq!(
        table.stdout.lines().count(),
        4,
        "header, rule, two rows:\n{}",
        table.stdout
    );

    let ok = audit(&cli, &srv, &["verify"]).ok().json();
    assert_eq!(ok["valid"], true, "{ok}");

    // Every row also went to the structured log.
    let log = srv.log();
    let events: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "lifeboat::audit")
        .collect();
    assert_eq!(events.len(), 4, "{log}");
    assert!(
        events
            .iter()
            .any(|e| e["fields"]["operation"] == "vault.create" && e["fields"]["seq"] == 2),
        "{events:#?}"
    );
    assert!(!log.contains(TOKEN), "the token never reaches the log");

    // The refusal turned into a success behind the server's back.
    pg_exec(
        &pg.url,
        "UPDATE audit_log SET status = 204, error_code = NULL WHERE seq = 4",
    );
    let broken = audit(&cli, &srv, &["verify"]);
    assert_eq!(broken.code, 6, "{broken:?}");
    assert!(
        broken.stderr.contains("ERROR: (AUDIT_CHAIN_BROKEN) seq 4"),
        "{}",
        broken.stderr
    );
    assert_eq!(broken.json()["problem"], "edited");

    // Put back, then the newest row deleted: the head gives it away.
    pg_exec(
        &pg.url,
        "UPDATE audit_log SET status = 404, error_code = 'NOT_FOUND' WHERE seq = 4",
    );
    audit(&cli, &srv, &["verify"]).ok();
    pg_exec(&pg.url, "DELETE FROM audit_log WHERE seq = 4");
    let broken = audit(&cli, &srv, &["verify", "-o", "none"]);
    assert_eq!(broken.code, 6, "{broken:?}");
    assert!(broken.stdout.is_empty());
    assert!(broken.stderr.contains("seq 4"), "{}", broken.stderr);
    drop(srv);
}
