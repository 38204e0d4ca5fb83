//! A synchronous NBD client: one connection, one request in flight.
//! Generic over the stream so that tests and the fuzzer can drive it with
//! bytes instead of a server.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use lifeboat_store::blocks::Extent;

use crate::error::{Error, Result};
use crate::handshake::{HandshakeRequest, Negotiated, handshake};
use crate::proto::*;
use crate::reply::{Request, encode_request, read_block_status_reply, read_read_reply};

/// How long a reply may take before the client gives up.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// Status of one extent in one metadata context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub extent: Extent,
    pub flags: u32,
}

pub struct NbdClient<S: Read + Write> {
    stream: S,
    info: Negotiated,
    cookie: u64,
    /// Set after a protocol violation or a cut stream: the stream may be
    /// in the middle of a message, so nothing more is sent or read.
    broken: bool,
    max_read: u32,
}

/// Connects to a server's unix socket, with [`DEFAULT_TIMEOUT`] on reads
/// and writes. While the socket exists but refuses (a server still
/// starting), it tries again for up to `wait`.
pub fn open_socket(path: &Path, wait: Duration) -> Result<UnixStream> {
    let started = Instant::now();
    let s = loop {
        match UnixStream::connect(path) {
            Ok(s) => break s,
            Err(e)
                if e.kind() == std::io::ErrorKind::ConnectionRefused
                    && started.elapsed() < wait =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(Error::io(format!("connecting to {}", path.display()), e)),
        }
    };
    s.set_read_timeout(Some(DEFAULT_TIMEOUT))
        .and_then(|()| s.set_write_timeout(Some(DEFAULT_TIMEOUT)))
        .map_err(|e| Error::io("setting the NBD socket's timeouts", e))?;
    Ok(s)
}

impl NbdClient<UnixStream> {
    /// Connects to a server on a unix socket and runs the handshake.
    pub fn connect_unix(path: &Path, req: &HandshakeRequest) -> Result<Self> {
        NbdClient::new(open_socket(path, Duration::ZERO)?, req)
    }
}

impl<S: Read + Write> NbdClient<S> {
    /// Runs the handshake on an open stream.
    pub fn new(mut stream: S, req: &HandshakeRequest) -> Result<Self> {
        let info = handshake(&mut stream, req)?;
        let max_read = match info.block_size {
            Some((_, _, max)) => max.clamp(4096, MAX_READ_REQUEST),
            None => MAX_READ_REQUEST,
        };
        Ok(NbdClient {
            stream,
            info,
            cookie: 0,
            broken: false,
            max_read,
        })
    }

    pub fn size(&self) -> u64 {
        self.info.size
    }

    pub fn negotiated(&self) -> &Negotiated {
        &self.info
    }

    /// The id the server gave a selected context.
    pub fn context_id(&self, name: &str) -> Option<u32> {
        self.info.context_id(name)
    }

    fn check_range(&self, offset: u64, len: u64) -> Result<()> {
        match offset.checked_add(len) {
            Some(end) if end <= self.info.size => Ok(()),
            _ => Err(Error::Range(format!(
                "range {offset}+{len} is past the end of the export ({} bytes)",
                self.info.size
            ))),
        }
    }

    fn send(&mut self, cmd: u16, command: &'static str, offset: u64, len: u32) -> Result<Request> {
        if self.broken {
            return Err(Error::Protocol(
                "the connection was dropped after an earlier protocol error".into(),
            ));
        }
        self.cookie += 1;
        let req = Request {
            command,
            cookie: self.cookie,
            offset,
            len,
        };
        let msg = encode_request(cmd, 0, req.cookie, offset, len);
        self.guard(|s| write_all(&mut s.stream, &msg, command))?;
        Ok(req)
    }

    /// Runs `f`; a failure that may leave the stream mid-message marks the
    /// connection broken. Command errors (the server's own) do not.
    fn guard<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let r = f(self);
        if let Err(e) = &r
            && !matches!(e, Error::Command { .. })
        {
            self.broken = true;
        }
        r
    }

    /// Reads `buf.len()` bytes at `offset`, in requests of at most the
    /// server's maximum block size.
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.check_range(offset, buf.len() as u64)?;
        let mut done = 0usize;
        while done < buf.len() {
            let n = (buf.len() - done).min(self.max_read as usize);
            let at = offset + done as u64;
            let req = self.send(CMD_READ, "read", at, n as u32)?;
            let piece = &mut buf[done..done + n];
            self.guard(|s| read_read_reply(&mut s.stream, &req, piece))?;
            done += n;
        }
        Ok(())
    }

    /// Status of `offset..offset+len` in the context `context`, as
    /// consecutive extents covering the whole range.
    pub fn block_status(&mut self, context: u32, offset: u64, len: u64) -> Result<Vec<Status>> {
        self.check_range(offset, len)?;
        let ids: Vec<u32> = self.info.contexts.iter().map(|(id, _)| *id).collect();
        if !ids.contains(&context) {
            return Err(Error::Range(format!(
                "metadata context {context} was not selected"
            )));
        }
        let end = offset + len;
        let mut out: Vec<Status> = Vec::new();
        let mut at = offset;
        while at < end {
            // Lengths are u32; stay block-aligned so qemu answers whole clusters.
            let n = (end - at).min(0xffff_0000) as u32;
            let req = self.send(CMD_BLOCK_STATUS, "block status", at, n)?;
            let replies = self.guard(|s| read_block_status_reply(&mut s.stream, &req, &ids))?;
            let descs = replies
                .into_iter()
                .find(|(id, _)| *id == context)
                .map(|(_, d)| d)
                .ok_or_else(|| {
                    self.broken = true;
                    Error::Protocol(format!("no block status for context {context}"))
                })?;
            for d in descs {
                // A server may describe more than was asked; the rest is
                // not ours to record (and would be empty extents).
                if at == end {
                    break;
                }
                let l = (d.len as u64).min(end - at);
                match out.last_mut() {
                    Some(last) if last.flags == d.flags => last.extent.len += l,
                    _ => out.push(Status {
                        extent: Extent { offset: at, len: l },
                        flags: d.flags,
                    }),
                }
                at += l;
            }
        }
        Ok(out)
    }

    /// The stream, without ending the session (for recordings and tests).
    pub fn into_stream(self) -> S {
        self.stream
    }

    /// Ends the session politely (`NBD_CMD_DISC`); the server replies
    /// nothing and closes.
    pub fn disconnect(mut self) -> Result<()> {
        if self.broken {
            return Ok(());
        }
        let msg = encode_request(CMD_DISC, 0, self.cookie + 1, 0, 0);
        write_all(&mut self.stream, &msg, "the disconnect")
    }
}
