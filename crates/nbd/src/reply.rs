//! Transmission-phase replies: request encoding, the reply header parser,
//! and the reassembly of one read or one block-status reply from its
//! structured chunks. Works on any `Read`, so it can be fuzzed.

use std::io::Read;

use crate::error::{Error, Result, errno_name};
use crate::proto::*;

/// Encodes one request (28 bytes).
pub fn encode_request(cmd: u16, flags: u16, cookie: u64, offset: u64, len: u32) -> [u8; 28] {
    let mut b = [0u8; 28];
    b[0..4].copy_from_slice(&REQUEST_MAGIC.to_be_bytes());
    b[4..6].copy_from_slice(&flags.to_be_bytes());
    b[6..8].copy_from_slice(&cmd.to_be_bytes());
    b[8..16].copy_from_slice(&cookie.to_be_bytes());
    b[16..24].copy_from_slice(&offset.to_be_bytes());
    b[24..28].copy_from_slice(&len.to_be_bytes());
    b
}

/// The header of a reply message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyHeader {
    Simple {
        error: u32,
        cookie: u64,
    },
    Chunk {
        flags: u16,
        kind: u16,
        cookie: u64,
        len: u32,
    },
}

pub fn read_reply_header(r: &mut impl Read) -> Result<ReplyHeader> {
    match read_u32(r, "a reply")? {
        SIMPLE_REPLY_MAGIC => {
            let error = read_u32(r, "a simple reply")?;
            let cookie = read_u64(r, "a simple reply")?;
            Ok(ReplyHeader::Simple { error, cookie })
        }
        STRUCTURED_REPLY_MAGIC => {
            let flags = read_u16(r, "a reply chunk")?;
            let kind = read_u16(r, "a reply chunk")?;
            let cookie = read_u64(r, "a reply chunk")?;
            let len = read_u32(r, "a reply chunk")?;
            Ok(ReplyHeader::Chunk {
                flags,
                kind,
                cookie,
                len,
            })
        }
        m => Err(Error::Protocol(format!(
            "reply magic {m:#x} is not an NBD reply's"
        ))),
    }
}

/// A command and the range it asked about, for checks and messages.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub command: &'static str,
    pub cookie: u64,
    pub offset: u64,
    pub len: u32,
}

impl Request {
    fn failed(&self, errno: u32, message: String) -> Error {
        Error::Command {
            command: self.command,
            offset: self.offset,
            len: self.len as u64,
            errno,
            errno_name: errno_name(errno),
            message,
        }
    }
    fn end(&self) -> u64 {
        self.offset + self.len as u64
    }
}

/// Reads an error chunk's payload (`len` bytes, header already read).
fn read_error_chunk(r: &mut impl Read, req: &Request, kind: u16, len: u32) -> Result<Error> {
    if len < 6 || len > 6 + MAX_STRING as u32 + 8 {
        return Err(Error::Protocol(format!("error chunk of {len} bytes")));
    }
    let mut payload = vec![0u8; len as usize];
    read_exact(r, &mut payload, "an error chunk")?;
    let mut c = Cursor::new(&payload, "an error chunk");
    let errno = c.u32()?;
    let mlen = c.u16()? as usize;
    let msg = c.bytes(mlen)?;
    let mut text = server_text(msg).trim().to_string();
    if kind == REPLY_TYPE_ERROR_OFFSET {
        let at = c.u64()?;
        if at < req.offset || at >= req.end() {
            return Err(Error::Protocol(format!(
                "error offset {at} outside the request"
            )));
        }
        text = format!("at {at}{}{text}", if text.is_empty() { "" } else { ": " });
    }
    if errno == 0 {
        return Err(Error::Protocol("error chunk with error value 0".into()));
    }
    let message = if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    };
    Ok(req.failed(errno, message))
}

fn check_cookie(req: &Request, cookie: u64) -> Result<()> {
    if cookie != req.cookie {
        return Err(Error::Protocol(format!(
            "reply for request {cookie} while request {} is the only one in flight",
            req.cookie
        )));
    }
    Ok(())
}

/// Byte ranges of a read that chunks have filled, kept merged; bounded by
/// [`MAX_READ_FRAGMENTS`].
struct Coverage(Vec<(u64, u64)>);

impl Coverage {
    fn add(&mut self, start: u64, end: u64) -> Result<()> {
        let i = self.0.partition_point(|&(_, e)| e <= start);
        if let Some(&(s, _)) = self.0.get(i)
            && s < end
        {
            return Err(Error::Protocol(format!(
                "read chunk {start}..{end} overlaps an earlier one"
            )));
        }
        let joins_prev = i > 0 && self.0[i - 1].1 == start;
        let joins_next = self.0.get(i).is_some_and(|&(s, _)| s == end);
        match (joins_prev, joins_next) {
            (true, true) => {
                self.0[i - 1].1 = self.0[i].1;
                self.0.remove(i);
            }
            (true, false) => self.0[i - 1].1 = end,
            (false, true) => self.0[i].0 = start,
            (false, false) => {
                if self.0.len() >= MAX_READ_FRAGMENTS {
                    return Err(Error::Protocol(format!(
                        "read reply in more than {MAX_READ_FRAGMENTS} separate pieces"
                    )));
                }
                self.0.insert(i, (start, end));
            }
        }
        Ok(())
    }
    fn covers(&self, start: u64, end: u64) -> bool {
        start == end || self.0 == [(start, end)]
    }
}

/// Reads the whole reply to the read `req` into `buf` (`buf.len() ==
/// req.len`). Holes are zero-filled; every byte must be covered exactly
/// once before the server says it is done.
pub fn read_read_reply(r: &mut impl Read, req: &Request, buf: &mut [u8]) -> Result<()> {
    debug_assert_eq!(buf.len(), req.len as usize);
    let mut cov = Coverage(Vec::new());
    let mut failure: Option<Error> = None;
    loop {
        let (flags, kind, len) = match read_reply_header(r)? {
            ReplyHeader::Simple { .. } => {
                return Err(Error::Protocol(
                    "simple reply to a read after structured replies were negotiated".into(),
                ));
            }
            ReplyHeader::Chunk {
                flags,
                kind,
                cookie,
                len,
            } => {
                check_cookie(req, cookie)?;
                (flags, kind, len)
            }
        };
        match kind {
            REPLY_TYPE_NONE => {
                if len != 0 {
                    return Err(Error::Protocol(format!("NONE chunk with {len} bytes")));
                }
                if flags & REPLY_FLAG_DONE == 0 {
                    return Err(Error::Protocol("NONE chunk not marked as the last".into()));
                }
            }
            REPLY_TYPE_OFFSET_DATA => {
                if len < 9 || len - 8 > req.len {
                    return Err(Error::Protocol(format!(
                        "data chunk of {len} bytes for a read of {}",
                        req.len
                    )));
                }
                let at = read_u64(r, "a data chunk")?;
                let n = (len - 8) as u64;
                let end = at.saturating_add(n);
                if at < req.offset || end > req.end() {
                    return Err(Error::Protocol(format!(
                        "data chunk {at}..{end} outside the read {}..{}",
                        req.offset,
                        req.end()
                    )));
                }
                cov.add(at, end)?;
                let s = (at - req.offset) as usize;
                read_exact(r, &mut buf[s..s + n as usize], "a data chunk")?;
            }
            REPLY_TYPE_OFFSET_HOLE => {
                if len != 12 {
                    return Err(Error::Protocol(format!("hole chunk of {len} bytes")));
                }
                let at = read_u64(r, "a hole chunk")?;
                let n = read_u32(r, "a hole chunk")? as u64;
                let end = at.saturating_add(n);
                if n == 0 || at < req.offset || end > req.end() {
                    return Err(Error::Protocol(format!(
                        "hole chunk {at}+{n} outside the read {}..{}",
                        req.offset,
                        req.end()
                    )));
                }
                cov.add(at, end)?;
                let s = (at - req.offset) as usize;
                buf[s..s + n as usize].fill(0);
            }
            k if k & REPLY_TYPE_ERR_BIT != 0 => {
                let e = read_error_chunk(r, req, k, len)?;
                failure.get_or_insert(e);
            }
            k => {
                return Err(Error::Protocol(format!(
                    "chunk type {k} in the reply to a read"
                )));
            }
        }
        if flags & REPLY_FLAG_DONE != 0 {
            break;
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if !cov.covers(req.offset, req.end()) {
        return Err(Error::Protocol(format!(
            "the server ended the read {}..{} without sending all of it",
            req.offset,
            req.end()
        )));
    }
    Ok(())
}

/// One block-status descriptor: `len` bytes with `flags`, consecutive from
/// the request's offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Descriptor {
    pub len: u32,
    pub flags: u32,
}

/// Reads the whole reply to the block-status `req`; returns the
/// descriptors of each context that answered, (context id, descriptors).
/// `contexts` are the ids selected at the handshake.
pub fn read_block_status_reply(
    r: &mut impl Read,
    req: &Request,
    contexts: &[u32],
) -> Result<Vec<(u32, Vec<Descriptor>)>> {
    let mut out: Vec<(u32, Vec<Descriptor>)> = Vec::new();
    let mut failure: Option<Error> = None;
    loop {
        let (flags, kind, len) = match read_reply_header(r)? {
            ReplyHeader::Simple { error, cookie } => {
                check_cookie(req, cookie)?;
                if error == 0 {
                    return Err(Error::Protocol(
                        "simple reply without status to a block-status request".into(),
                    ));
                }
                return Err(req.failed(error, String::new()));
            }
            ReplyHeader::Chunk {
                flags,
                kind,
                cookie,
                len,
            } => {
                check_cookie(req, cookie)?;
                (flags, kind, len)
            }
        };
        match kind {
            REPLY_TYPE_NONE => {
                if len != 0 || flags & REPLY_FLAG_DONE == 0 {
                    return Err(Error::Protocol("malformed NONE chunk".into()));
                }
            }
            REPLY_TYPE_BLOCK_STATUS => {
                if len < 12 || (len - 4) % 8 != 0 || len > MAX_BLOCK_STATUS_PAYLOAD {
                    return Err(Error::Protocol(format!(
                        "block-status chunk of {len} bytes"
                    )));
                }
                let mut payload = vec![0u8; len as usize];
                read_exact(r, &mut payload, "a block-status chunk")?;
                let mut c = Cursor::new(&payload, "a block-status chunk");
                let id = c.u32()?;
                if !contexts.contains(&id) {
                    return Err(Error::Protocol(format!(
                        "block status for context {id}, which was not selected"
                    )));
                }
                if out.iter().any(|(i, _)| *i == id) {
                    return Err(Error::Protocol(format!(
                        "block status for context {id} twice in one reply"
                    )));
                }
                let mut total = 0u64;
                let mut descs = Vec::with_capacity(((len - 4) / 8) as usize);
                while !c.is_empty() {
                    let d = Descriptor {
                        len: c.u32()?,
                        flags: c.u32()?,
                    };
                    if d.len == 0 {
                        return Err(Error::Protocol("block-status extent of length 0".into()));
                    }
                    total += d.len as u64;
                    descs.push(d);
                }
                if total > req.len as u64 {
                    return Err(Error::Protocol(format!(
                        "block status for {total} bytes, {} were asked for",
                        req.len
                    )));
                }
                out.push((id, descs));
            }
            k if k & REPLY_TYPE_ERR_BIT != 0 => {
                let e = read_error_chunk(r, req, k, len)?;
                failure.get_or_insert(e);
            }
            k => {
                return Err(Error::Protocol(format!(
                    "chunk type {k} in the reply to a block-status request"
                )));
            }
        }
        if flags & REPLY_FLAG_DONE != 0 {
            break;
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if out.is_empty() {
        return Err(Error::Protocol(
            "block-status reply without any block status".into(),
        ));
    }
    Ok(out)
}
