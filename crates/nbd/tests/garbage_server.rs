//! A server that answers with garbage: over a real unix socket, the client
//! gives a clear protocol error with its stable code, and never hangs or
//! panics. Each fake server writes its bytes, then holds the connection
//! open until the client hangs up, so a client that waited for more than
//! the server said would hang the test rather than pass it.

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::Path;

use lifeboat_nbd::proto::{IHAVEOPT, NBDMAGIC, OLDSTYLE_MAGIC};
use lifeboat_nbd::{Error, NbdBlockSource};

/// Serves `reply` to one client on `socket`, in a thread.
fn serve_once(socket: &Path, reply: Vec<u8>) -> std::thread::JoinHandle<()> {
    let listener = UnixListener::bind(socket).unwrap();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let _ = conn.write_all(&reply);
        // Drain what the client sends until it closes.
        let mut sink = [0u8; 1024];
        while matches!(conn.read(&mut sink), Ok(n) if n > 0) {}
    })
}

fn connect_to(reply: Vec<u8>) -> Error {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nbd.sock");
    let server = serve_once(&socket, reply.clone());
    let err = match NbdBlockSource::connect(&socket, "", None) {
        Ok(_) => panic!("a garbage server was accepted ({} bytes)", reply.len()),
        Err(e) => e,
    };
    server.join().unwrap();
    err
}

fn greeting(flags: u16) -> Vec<u8> {
    let mut v = NBDMAGIC.to_be_bytes().to_vec();
    v.extend(IHAVEOPT.to_be_bytes());
    v.extend(flags.to_be_bytes());
    v
}

#[test]
fn noise_instead_of_a_greeting_is_a_protocol_error() {
    let noise = lifeboat_testkit::noise(9, 4096);
    let e = connect_to(noise);
    assert_eq!(e.code(), "NBD_PROTOCOL", "{e}");
}

#[test]
fn an_oldstyle_server_is_unsupported() {
    let mut v = NBDMAGIC.to_be_bytes().to_vec();
    v.extend(OLDSTYLE_MAGIC.to_be_bytes());
    let e = connect_to(v);
    assert_eq!(e.code(), "NBD_UNSUPPORTED", "{e}");
}

#[test]
fn garbage_after_a_good_greeting_is_a_protocol_error() {
    let mut v = greeting(1);
    v.extend(lifeboat_testkit::noise(10, 256));
    let e = connect_to(v);
    assert_eq!(e.code(), "NBD_PROTOCOL", "{e}");
}

#[test]
fn a_server_that_stops_mid_greeting_is_an_error_not_a_hang() {
    // Eight bytes, then the server closes its side.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nbd.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.write_all(&NBDMAGIC.to_be_bytes()).unwrap();
    });
    let e = match NbdBlockSource::connect(&socket, "", None) {
        Ok(_) => panic!("a cut greeting was accepted"),
        Err(e) => e,
    };
    server.join().unwrap();
    assert!(
        matches!(e.code().as_str(), "NBD_PROTOCOL" | "NBD_IO"),
        "{e}"
    );
    assert!(e.to_string().contains("greeting"), "{e}");
}
