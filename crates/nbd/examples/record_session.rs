//! Records what a real qemu-nbd says to Lifeboat's client, as a seed for
//! the `nbd_reply` fuzz target (fuzz/README.md): the handshake with the
//! `base:allocation` and `qemu:dirty-bitmap:b` contexts, a read of the
//! first 64 KiB and a block status of each context, in the order the fuzz
//! target asks. Cookies count from 1 in both, so the recording replays.
//!
//!   cargo run -p lifeboat-nbd --example record_session -- IMAGE.qcow2 OUT
//!
//! IMAGE must have a persistent dirty bitmap named `b`
//! (`qemu-img bitmap --add IMAGE b`).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use lifeboat_nbd::client::open_socket;
use lifeboat_nbd::handshake::HandshakeRequest;
use lifeboat_nbd::{ExportOptions, NbdClient, QemuNbdExport};

struct Recorder {
    stream: UnixStream,
    heard: Vec<u8>,
}

impl Read for Recorder {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.stream.read(buf)?;
        self.heard.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.stream.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.stream.flush()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, image, out] = args.as_slice() else {
        return Err("usage: record_session IMAGE OUT".into());
    };
    let export = QemuNbdExport::start(
        image.as_ref(),
        &ExportOptions {
            bitmap: Some("b".into()),
            ..ExportOptions::default()
        },
    )?;
    let stream = open_socket(export.socket(), std::time::Duration::from_secs(5))?;
    let req = HandshakeRequest {
        export: String::new(),
        contexts: vec!["base:allocation".into(), "qemu:dirty-bitmap:b".into()],
    };
    let mut client = NbdClient::new(
        Recorder {
            stream,
            heard: Vec::new(),
        },
        &req,
    )?;
    let size = client.size();
    let mut buf = vec![0u8; size.min(1 << 16) as usize];
    client.read_at(0, &mut buf)?;
    let ids: Vec<u32> = client
        .negotiated()
        .contexts
        .iter()
        .map(|(id, _)| *id)
        .collect();
    for id in ids {
        client.block_status(id, 0, size.min(1 << 24))?;
    }
    let heard = client.into_stream().heard;
    std::fs::write(out, &heard)?;
    println!("{} bytes from qemu-nbd written to {out}", heard.len());
    Ok(())
}
