//! HTTPS end to end: a CA and a server certificate made here with the
//! `openssl` command, a real `lifeboat server --tls-cert --tls-key`
//! process, and the real `lifeboat` client: trusted with --ca-file or
//! LIFEBOAT_CA_FILE, refused (TLS_UNTRUSTED, exit 10) without it or with
//! another CA. Plain HTTP on a non-loopback address is refused
//! (INSECURE_LISTEN). The server's --kek-provider wraps new vault secrets
//! with a customer key file.

use lifeboat_testkit::free_port;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "tls-cli-test-admin-token-0123456789abcdef";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_lifeboat")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command is needed by this test");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`<name>-ca.pem`), and when `server` a certificate for 127.0.0.1
/// and localhost signed by it (`<name>-srv.pem`, `<name>-srv.key`).
fn make_pki(dir: &Path, name: &str, server: bool) {
    let ca_key = format!("{name}-ca.key");
    let ca = format!("{name}-ca.pem");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &ca_key,
            "-out",
            &ca,
            "-days",
            "2",
            "-subj",
            &format!("/CN=Lifeboat test CA {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    if !server {
        return;
    }
    let key = format!("{name}-srv.key");
    let csr = format!("{name}-srv.csr");
    let crt = format!("{name}-srv.pem");
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=localhost",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

struct Server {
    child: Child,
    log: PathBuf,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- server log ----\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

/// Starts `lifeboat server ARGS` and waits for its "listening on" line.
fn start_server(dir: &Path, extra: &[&str]) -> Server {
    for attempt in 0..5 {
        let port = free_port();
        let log = dir.join(format!("server-{port}-{attempt}.log"));
        let f = std::fs::File::create(&log).unwrap();
        let mut child = Command::new(bin())
            .args(["server", "--data", s(&dir.join("data"))])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--time-zone", "UTC", "--max-jobs", "1"])
            .args(extra)
            .env("LIFEBOAT_ADMIN_TOKEN", TOKEN)
            .env_remove("LIFEBOAT_CATALOG")
            .env_remove("LIFEBOAT_KEK_PROVIDER")
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .expect("start lifeboat server");
        // A guard against a hang, not a speed requirement.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(line) = text.lines().find(|l| l.contains("listening on https://")) {
                assert!(line.contains(&port.to_string()), "{line}");
                return Server {
                    child,
                    log,
                    url: format!("https://127.0.0.1:{port}"),
                };
            }
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("server did not start:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.wait();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if !text.contains("Address already in use") {
            panic!("server exited:\n{text}");
        }
    }
    panic!("no free port");
}

fn cli(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("HOME", home)
        .env("LIFEBOAT_TOKEN", TOKEN)
        .env_remove("LIFEBOAT_CA_FILE")
        .env_remove("LIFEBOAT_SERVER")
        .env_remove("LIFEBOAT_OUTPUT")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run lifeboat")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn https_with_a_private_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    make_pki(dir, "good", true);
    make_pki(dir, "other", false);
    let customer = dir.join("customer.kek");
    std::fs::write(&customer, [0x42u8; 32]).unwrap();
    let srv = start_server(
        dir,
        &[
            "--tls-cert",
            s(&dir.join("good-srv.pem")),
            "--tls-key",
            s(&dir.join("good-srv.key")),
            "--kek-provider",
            &format!("file:{}", s(&customer)),
        ],
    );
    let home = dir.join("home");
    let ca = dir.join("good-ca.pem");
    let url = srv.url.as_str();

    // Trusted through --ca-file: works, and the new vault's secret is
    // wrapped by the customer key file.
    let o = cli(
        &home,
        &[
            "backup",
            "vault",
            "create",
            "--name",
            "tls",
            "--server",
            url,
            "--ca-file",
            s(&ca),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let key_file = std::fs::read_dir(dir.join("data/secrets"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vault-"))
        })
        .expect("a vault key file");
    let bytes = std::fs::read(&key_file).unwrap();
    assert!(bytes.starts_with(b"LBVK"));
    assert_eq!(bytes[5], 2, "wrapped by the key file provider");
    assert!(dir.join("data/secrets/platform.kek").exists());

    // Trusted through LIFEBOAT_CA_FILE.
    let o = cli(
        &home,
        &["backup", "vault", "list", "--server", url],
        &[("LIFEBOAT_CA_FILE", s(&ca))],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"tls\""));

    // `lifeboat login` takes --ca-file too.
    let o = cli(
        &home,
        &[
            "login",
            "--server",
            url,
            "--token",
            TOKEN,
            "--ca-file",
            s(&ca),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));

    // No CA: the system roots do not know it.
    let o = cli(&home, &["backup", "vault", "list", "--server", url], &[]);
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    assert!(stderr(&o).contains("(TLS_UNTRUSTED)"), "{}", stderr(&o));
    assert!(stderr(&o).contains("--ca-file"), "{}", stderr(&o));

    // Another CA.
    let o = cli(
        &home,
        &[
            "backup",
            "vault",
            "list",
            "--server",
            url,
            "--ca-file",
            s(&dir.join("other-ca.pem")),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    assert!(stderr(&o).contains("(TLS_UNTRUSTED)"), "{}", stderr(&o));

    // Not a certificate file.
    let o = cli(
        &home,
        &[
            "backup",
            "vault",
            "list",
            "--server",
            url,
            "--ca-file",
            s(&customer),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--ca-file"), "{}", stderr(&o));
}

#[test]
fn plain_http_off_loopback_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let o = Command::new(bin())
        .args(["server", "--data", s(&tmp.path().join("data"))])
        .args(["--listen", &format!("0.0.0.0:{port}")])
        .env("LIFEBOAT_ADMIN_TOKEN", TOKEN)
        .env_remove("LIFEBOAT_CATALOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("INSECURE_LISTEN"), "{}", stderr(&o));
    assert!(stderr(&o).contains("--insecure-http"), "{}", stderr(&o));
}
