//! The NBD client (crates/nbd) on bytes from a hostile server: the
//! handshake (option replies, export info, metadata contexts), then a read
//! and a block-status request of every selected context, through
//! `NbdClient` exactly as a backup drives it. Also the reply-header and
//! option-reply parsers on the raw input.
//!
//! Input: what the server sends, in order; what the client writes is
//! dropped. Properties: nothing panics or allocates past the client's
//! bounds; a block status that succeeds covers the asked range exactly,
//! with consecutive extents.

#![no_main]

use std::io::{Read, Write};

use libfuzzer_sys::fuzz_target;
use lifeboat_nbd::NbdClient;
use lifeboat_nbd::handshake::{HandshakeRequest, read_option_reply};
use lifeboat_nbd::reply::read_reply_header;

/// A server that says `input` and hears nothing.
struct Wire<'a> {
    input: &'a [u8],
}

impl Read for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Wire<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = read_reply_header(&mut &data[..]);
    let _ = read_option_reply(&mut &data[..]);

    let req = HandshakeRequest {
        export: String::new(),
        contexts: vec!["base:allocation".into(), "qemu:dirty-bitmap:b".into()],
    };
    let Ok(mut client) = NbdClient::new(Wire { input: data }, &req) else {
        return;
    };
    let size = client.size();
    let mut buf = vec![0u8; size.min(1 << 16) as usize];
    let _ = client.read_at(0, &mut buf);
    let ids: Vec<u32> = client.negotiated().contexts.iter().map(|(id, _)| *id).collect();
    let len = size.min(1 << 24);
    for id in ids {
        if let Ok(statuses) = client.block_status(id, 0, len) {
            let mut at = 0u64;
            for s in &statuses {
                assert_eq!(s.extent.offset, at, "extents must be consecutive");
                assert!(s.extent.len > 0, "empty extent");
                at += s.extent.len;
            }
            assert_eq!(at, len, "block status must cover the asked range");
        }
    }
});
