//! The client side of the fixed-newstyle handshake: structured replies,
//! metadata contexts, then `NBD_OPT_GO`. Works on any `Read + Write`, so
//! the parsers can be fuzzed on a byte slice.

use std::io::{Read, Write};

use crate::error::{Error, Result};
use crate::proto::*;

/// What the client asks for.
#[derive(Debug, Clone, Default)]
pub struct HandshakeRequest {
    /// Export name; qemu-nbd's default export is the empty name.
    pub export: String,
    /// Metadata contexts to select (`base:allocation`,
    /// `qemu:dirty-bitmap:NAME`). Empty: none.
    pub contexts: Vec<String>,
}

/// What the server agreed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub size: u64,
    pub transmission_flags: u16,
    /// Selected contexts: (id, name), as the server numbered them.
    pub contexts: Vec<(u32, String)>,
    /// (minimum, preferred, maximum) block sizes, when the server said.
    pub block_size: Option<(u32, u32, u32)>,
}

impl Negotiated {
    pub fn read_only(&self) -> bool {
        self.transmission_flags & TFLAG_READ_ONLY != 0
    }
    pub fn context_id(&self, name: &str) -> Option<u32> {
        self.contexts
            .iter()
            .find(|(_, n)| n == name)
            .map(|(id, _)| *id)
    }
}

/// One option reply as it came off the wire (payload bounded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionReply {
    pub option: u32,
    pub kind: u32,
    pub payload: Vec<u8>,
}

/// Reads one option reply; refuses a wrong magic or an oversized payload.
pub fn read_option_reply(r: &mut impl Read) -> Result<OptionReply> {
    let magic = read_u64(r, "an option reply")?;
    if magic != OPTION_REPLY_MAGIC {
        return Err(Error::Protocol(format!(
            "option reply magic {magic:#x}, expected {OPTION_REPLY_MAGIC:#x}"
        )));
    }
    let option = read_u32(r, "an option reply")?;
    let kind = read_u32(r, "an option reply")?;
    let len = read_u32(r, "an option reply")?;
    if len > MAX_OPTION_REPLY {
        return Err(Error::Protocol(format!(
            "option reply of {len} bytes (at most {MAX_OPTION_REPLY} accepted)"
        )));
    }
    let mut payload = vec![0u8; len as usize];
    read_exact(r, &mut payload, "an option reply")?;
    Ok(OptionReply {
        option,
        kind,
        payload,
    })
}

fn option_name(option: u32) -> &'static str {
    match option {
        OPT_GO => "NBD_OPT_GO",
        OPT_STRUCTURED_REPLY => "NBD_OPT_STRUCTURED_REPLY",
        OPT_SET_META_CONTEXT => "NBD_OPT_SET_META_CONTEXT",
        _ => "an option",
    }
}

fn rep_error_name(kind: u32) -> &'static str {
    match kind & !REP_ERR_BIT {
        1 => "unsupported",
        2 => "forbidden by policy",
        3 => "invalid",
        4 => "not supported on this platform",
        5 => "TLS required",
        6 => "no such export",
        7 => "the server is shutting down",
        8 => "block size negotiation required",
        9 => "request too big",
        10 => "extended headers required",
        _ => "refused",
    }
}

fn refusal(reply: &OptionReply) -> Error {
    let text = server_text(&reply.payload);
    let reason = if text.trim().is_empty() {
        rep_error_name(reply.kind).to_string()
    } else {
        format!("{} ({})", rep_error_name(reply.kind), text.trim())
    };
    Error::ExportFailed {
        option: option_name(reply.option),
        reason,
    }
}

fn send_option(w: &mut impl Write, option: u32, data: &[u8]) -> Result<()> {
    let len = u32::try_from(data.len())
        .map_err(|_| Error::Range("option data longer than 4 GiB".into()))?;
    let mut msg = Vec::with_capacity(16 + data.len());
    msg.extend_from_slice(&IHAVEOPT.to_be_bytes());
    msg.extend_from_slice(&option.to_be_bytes());
    msg.extend_from_slice(&len.to_be_bytes());
    msg.extend_from_slice(data);
    write_all(w, &msg, option_name(option))
}

/// The next reply to `option`; one for another option is a violation.
fn reply_to(r: &mut impl Read, option: u32) -> Result<OptionReply> {
    let reply = read_option_reply(r)?;
    if reply.option != option {
        return Err(Error::Protocol(format!(
            "reply for option {} while waiting for {}",
            reply.option,
            option_name(option)
        )));
    }
    Ok(reply)
}

fn push_string(out: &mut Vec<u8>, s: &str) -> Result<()> {
    if s.len() > MAX_STRING {
        return Err(Error::Range(format!(
            "NBD string of {} bytes (at most {MAX_STRING})",
            s.len()
        )));
    }
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// Runs the whole handshake. On success the stream is in the transmission
/// phase with structured replies on.
pub fn handshake<S: Read + Write>(s: &mut S, req: &HandshakeRequest) -> Result<Negotiated> {
    let magic = read_u64(s, "the server greeting")?;
    if magic != NBDMAGIC {
        return Err(Error::Protocol(format!(
            "greeting {magic:#x} is not an NBD server's"
        )));
    }
    let style = read_u64(s, "the server greeting")?;
    if style == OLDSTYLE_MAGIC {
        return Err(Error::Unsupported("oldstyle negotiation only".into()));
    }
    if style != IHAVEOPT {
        return Err(Error::Protocol(format!(
            "greeting magic {style:#x}, expected IHAVEOPT"
        )));
    }
    let hflags = read_u16(s, "the handshake flags")?;
    if hflags & FLAG_FIXED_NEWSTYLE == 0 {
        return Err(Error::Unsupported("fixed newstyle negotiation".into()));
    }
    let mut cflags = FLAG_C_FIXED_NEWSTYLE;
    if hflags & FLAG_NO_ZEROES != 0 {
        cflags |= FLAG_C_NO_ZEROES;
    }
    write_all(s, &cflags.to_be_bytes(), "the client flags")?;

    // Structured replies: needed for holes in reads, errors with text, and
    // block status.
    send_option(s, OPT_STRUCTURED_REPLY, &[])?;
    let reply = reply_to(s, OPT_STRUCTURED_REPLY)?;
    match reply.kind {
        REP_ACK => {}
        k if k & REP_ERR_BIT != 0 => {
            return Err(Error::Unsupported(format!(
                "structured replies ({})",
                rep_error_name(k)
            )));
        }
        k => {
            return Err(Error::Protocol(format!(
                "reply type {k} to NBD_OPT_STRUCTURED_REPLY"
            )));
        }
    }

    let contexts = if req.contexts.is_empty() {
        Vec::new()
    } else {
        set_meta_context(s, req)?
    };
    let (size, transmission_flags, block_size) = go(s, &req.export)?;
    Ok(Negotiated {
        size,
        transmission_flags,
        contexts,
        block_size,
    })
}

fn set_meta_context<S: Read + Write>(
    s: &mut S,
    req: &HandshakeRequest,
) -> Result<Vec<(u32, String)>> {
    let mut data = Vec::new();
    push_string(&mut data, &req.export)?;
    data.extend_from_slice(&(req.contexts.len() as u32).to_be_bytes());
    for c in &req.contexts {
        push_string(&mut data, c)?;
    }
    send_option(s, OPT_SET_META_CONTEXT, &data)?;
    let mut selected: Vec<(u32, String)> = Vec::new();
    for _ in 0..MAX_OPTION_REPLIES {
        let reply = reply_to(s, OPT_SET_META_CONTEXT)?;
        match reply.kind {
            REP_ACK => return Ok(selected),
            REP_META_CONTEXT => {
                let mut c = Cursor::new(&reply.payload, "a metadata context reply");
                let id = c.u32()?;
                let name = std::str::from_utf8(c.rest())
                    .map_err(|_| Error::Protocol("metadata context name is not UTF-8".into()))?;
                if !req.contexts.iter().any(|q| q == name) {
                    return Err(Error::Protocol(format!(
                        "the server selected context {:?}, which was not asked for",
                        server_text(name.as_bytes())
                    )));
                }
                if selected.iter().any(|(i, n)| *i == id || n == name) {
                    return Err(Error::Protocol(format!(
                        "metadata context id {id} or name selected twice"
                    )));
                }
                selected.push((id, name.to_string()));
            }
            k if k & REP_ERR_BIT != 0 => return Err(refusal(&reply)),
            k => {
                return Err(Error::Protocol(format!(
                    "reply type {k} to NBD_OPT_SET_META_CONTEXT"
                )));
            }
        }
    }
    Err(Error::Protocol(format!(
        "more than {MAX_OPTION_REPLIES} replies to NBD_OPT_SET_META_CONTEXT"
    )))
}

type GoResult = (u64, u16, Option<(u32, u32, u32)>);

fn go<S: Read + Write>(s: &mut S, export: &str) -> Result<GoResult> {
    let mut data = Vec::new();
    push_string(&mut data, export)?;
    data.extend_from_slice(&1u16.to_be_bytes());
    data.extend_from_slice(&INFO_BLOCK_SIZE.to_be_bytes());
    send_option(s, OPT_GO, &data)?;
    let mut export_info: Option<(u64, u16)> = None;
    let mut block_size = None;
    for _ in 0..MAX_OPTION_REPLIES {
        let reply = reply_to(s, OPT_GO)?;
        match reply.kind {
            REP_ACK => {
                let (size, flags) = export_info.ok_or_else(|| {
                    Error::Protocol("NBD_OPT_GO acknowledged without the export's size".into())
                })?;
                return Ok((size, flags, block_size));
            }
            REP_INFO => {
                let mut c = Cursor::new(&reply.payload, "an NBD_REP_INFO reply");
                match c.u16()? {
                    INFO_EXPORT => {
                        let size = c.u64()?;
                        let flags = c.u16()?;
                        if !c.is_empty() {
                            return Err(Error::Protocol("NBD_INFO_EXPORT is too long".into()));
                        }
                        if flags & TFLAG_HAS_FLAGS == 0 {
                            return Err(Error::Protocol(
                                "transmission flags without NBD_FLAG_HAS_FLAGS".into(),
                            ));
                        }
                        if size > i64::MAX as u64 {
                            return Err(Error::Protocol(format!(
                                "export size {size} is too large"
                            )));
                        }
                        export_info = Some((size, flags));
                    }
                    INFO_BLOCK_SIZE => {
                        let (min, pref, max) = (c.u32()?, c.u32()?, c.u32()?);
                        if !c.is_empty()
                            || !min.is_power_of_two()
                            || min > 64 * 1024
                            || !pref.is_power_of_two()
                            || pref < min
                            || max < min
                        {
                            return Err(Error::Protocol(format!(
                                "block sizes {min}/{pref}/{max} are not valid"
                            )));
                        }
                        block_size = Some((min, pref, max));
                    }
                    // Names, descriptions, future items: not needed.
                    _ => {}
                }
            }
            k if k & REP_ERR_BIT != 0 => return Err(refusal(&reply)),
            k => return Err(Error::Protocol(format!("reply type {k} to NBD_OPT_GO"))),
        }
    }
    Err(Error::Protocol(format!(
        "more than {MAX_OPTION_REPLIES} replies to NBD_OPT_GO"
    )))
}
