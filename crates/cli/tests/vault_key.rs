//! `lifeboat vault-key`: with the server stopped and its catalog deleted,
//! the data folder and the platform key still give back every backup
//! through `lifeboat store`; without the key nothing opens, and putting
//! the key back brings it all back.

mod server_support;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use server_support::*;

fn vault_key(args: &[&str]) -> Run {
    let mut cmd = Command::new(bin());
    cmd.arg("vault-key")
        .args(args)
        .env_remove("LIFEBOAT_KEK_PROVIDER");
    run_bounded(cmd, &format!("lifeboat vault-key {args:?}"))
}

#[test]
fn a_lost_catalog_leaves_every_backup_reachable_with_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let src = dir.path().join("src");
    make_tree(&src, 5, 3, 200 * 1024);
    let mut srv = ServerProc::start(ServerOpts::new(&data, &dir.path().join("server.log")));
    let cli = Cli::new(&dir.path().join("client"));
    cli.backup(&srv, &["vault", "create", "--name", "prod"])
        .ok();
    cli.protect_path(&srv, &src, "files");
    let job = cli
        .backup(
            &srv,
            &[
                "protection",
                "backup-now",
                "--vault",
                "prod",
                "--item",
                "files",
                "--wait",
            ],
        )
        .ok()
        .json();
    assert_eq!(job["status"], "Completed", "{job}");
    let vault_id = cli
        .backup(&srv, &["vault", "show", "--name", "prod"])
        .ok()
        .json()["id"]
        .as_i64()
        .map(|i| i.to_string());

    // The day everything breaks: the server is gone, and so is its catalog.
    srv.kill();
    std::fs::remove_file(data.join("catalog.db")).expect("delete the catalog");
    let data_arg = s(&data);

    let listed = vault_key(&["list", "--data", data_arg, "-o", "json"])
        .ok()
        .json();
    let vaults = listed["vaults"].as_array().expect("vaults").clone();
    assert_eq!(vaults.len(), 1, "{listed}");
    assert_eq!(vaults[0]["points"], 1, "{listed}");
    assert_eq!(vaults[0]["latest"]["paths"][0], s(&src), "{listed}");
    let id = vaults[0]["vaultId"].as_i64().expect("vault id").to_string();
    if let Some(shown) = vault_id {
        assert_eq!(shown, id, "the listed id is the vault's id");
    }

    let pass = dir.path().join("prod.passphrase");
    let exported = vault_key(&[
        "export",
        "--data",
        data_arg,
        "--vault-id",
        &id,
        "--passphrase-file",
        s(&pass),
        "-o",
        "json",
    ])
    .ok()
    .json();
    let store = data.join("vaults").join(&id);
    assert_eq!(exported["store"], s(&store), "{exported}");
    let mode = std::fs::metadata(&pass)
        .expect("passphrase file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "only the owner reads the passphrase");
    let secret = std::fs::read(&pass).expect("read passphrase");

    // An existing file is never overwritten.
    let again = vault_key(&[
        "export",
        "--data",
        data_arg,
        "--vault-id",
        &id,
        "--passphrase-file",
        s(&pass),
    ]);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(
        again.stderr.contains("INVALID_ARGUMENT"),
        "{}",
        again.stderr
    );
    assert_eq!(std::fs::read(&pass).expect("read passphrase"), secret);
    // A vault id that has no store says so.
    let missing = vault_key(&[
        "export",
        "--data",
        data_arg,
        "--vault-id",
        "999",
        "--passphrase-file",
        s(&dir.path().join("x")),
    ]);
    assert_eq!(missing.code, 4, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("VAULT_STORAGE"),
        "{}",
        missing.stderr
    );

    // `lifeboat store` restores the backup without any server.
    let out = dir.path().join("out");
    cli.store(&[
        "restore",
        "--vault",
        s(&store),
        "--passphrase-file",
        s(&pass),
        "latest",
        "--target",
        s(&out),
    ])
    .ok();
    assert_eq!(tree(&restored_root(&out, &src)), tree(&src));

    // Without the platform key nothing opens, and nothing is damaged…
    let kek = data.join("secrets").join("platform.kek");
    let aside = dir.path().join("platform.kek.aside");
    std::fs::rename(&kek, &aside).expect("move the key away");
    let blind = vault_key(&["list", "--data", data_arg, "-o", "json"]);
    assert_eq!(blind.code, 3, "{}", blind.stderr);
    let row = &blind.json()["vaults"][0];
    assert_eq!(row["error"]["code"], "KEY_UNAVAILABLE", "{row}");
    let no_key = vault_key(&[
        "export",
        "--data",
        data_arg,
        "--vault-id",
        &id,
        "--passphrase-file",
        s(&dir.path().join("y")),
    ]);
    assert_eq!(no_key.code, 1, "{}", no_key.stderr);
    assert!(
        no_key.stderr.contains("KEY_UNAVAILABLE"),
        "{}",
        no_key.stderr
    );
    assert!(!dir.path().join("y").exists());

    // …and putting the key back brings the vault back.
    std::fs::rename(&aside, &kek).expect("put the key back");
    let back = vault_key(&["list", "--data", data_arg, "-o", "json"])
        .ok()
        .json();
    assert_eq!(back["vaults"][0]["points"], 1, "{back}");
    cli.store(&[
        "verify",
        "--vault",
        s(&store),
        "--passphrase-file",
        s(&pass),
        "--read-data",
    ])
    .ok();
}
