//! Replays a session recorded from a real qemu-nbd (the seed of the
//! `nbd_reply` fuzz target, made by `examples/record_session.rs`) through
//! the client: the handshake, the read and both block statuses succeed and
//! say what the image holds. This keeps the seed meaningful: if the client
//! asked differently, the recording would no longer replay.

use std::io::{Read, Write};

use lifeboat_nbd::NbdClient;
use lifeboat_nbd::handshake::HandshakeRequest;

struct Replay<'a>(&'a [u8]);

impl Read for Replay<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Replay<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_recorded_qemu_nbd_session_replays() {
    let seed = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/nbd_reply/seed-qemu-nbd-session"
    ))
    .unwrap();
    let req = HandshakeRequest {
        export: String::new(),
        contexts: vec!["base:allocation".into(), "qemu:dirty-bitmap:b".into()],
    };
    let mut c = NbdClient::new(Replay(&seed), &req).unwrap();
    // The image: 4 MiB; 0x5a in the first 64 KiB; 0x33 at 1 MiB, written
    // after the bitmap `b` was added.
    assert_eq!(c.size(), 4 << 20);
    let mut buf = vec![0u8; 1 << 16];
    c.read_at(0, &mut buf).unwrap();
    assert!(buf.iter().all(|&b| b == 0x5a));
    let alloc = c.context_id("base:allocation").unwrap();
    let dirty = c.context_id("qemu:dirty-bitmap:b").unwrap();
    let a = c.block_status(alloc, 0, 4 << 20).unwrap();
    assert_eq!(
        a.first().map(|s| (s.extent.offset, s.flags)),
        Some((0, 0)),
        "{a:?}"
    );
    let d = c.block_status(dirty, 0, 4 << 20).unwrap();
    let dirty_extents: Vec<_> = d
        .iter()
        .filter(|s| s.flags & 1 != 0)
        .map(|s| (s.extent.offset, s.extent.len))
        .collect();
    assert_eq!(dirty_extents, vec![(1 << 20, 1 << 16)], "{d:?}");
}
