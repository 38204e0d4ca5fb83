//! Names as a manifest writes them (docs/format.md §8): a Linux name is
//! bytes, a manifest name is a UTF-8 string. Valid UTF-8 stands as itself;
//! each byte of an invalid sequence becomes U+0000 and two lower-case hex
//! digits. U+0000 never occurs in a Linux name, so no written name can
//! stand for two different names.

use std::borrow::Cow;

/// The written form of a name, a path or a symlink target.
pub fn encode(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                // `good` is valid UTF-8: `valid_up_to` says so.
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                let n = e.error_len().unwrap_or(bad.len());
                for b in &bad[..n] {
                    out.push('\0');
                    out.push_str(&format!("{b:02x}"));
                }
                rest = &bad[n..];
            }
        }
    }
    Cow::Owned(out)
}

/// The bytes a written name stands for; `None` when an escape is not
/// U+0000 and two lower-case hex digits of a byte of 0x80 or more (so an
/// escape can never make a `/`, a NUL or plain ASCII).
pub fn decode(s: &str) -> Option<Cow<'_, [u8]>> {
    if !s.contains('\0') {
        return Some(Cow::Borrowed(s.as_bytes()));
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != 0 {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = bytes.get(i + 1..i + 3)?;
        if !hex.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let b = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
        if b < 0x80 {
            return None;
        }
        out.push(b);
        i += 3;
    }
    Some(Cow::Owned(out))
}

/// A written name for people: each escape shown as `\xHH`.
pub fn display(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\\x"))
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_stands_as_itself() {
        for s in ["", "a", "srv/data/ä ö.txt", "日本", "a\\xff", "%ff"] {
            assert_eq!(encode(s.as_bytes()), s);
            assert_eq!(decode(s).unwrap(), s.as_bytes());
        }
    }

    #[test]
    fn invalid_bytes_round_trip() {
        let cases: [&[u8]; 6] = [
            b"\xff",
            b"a\xffb",
            b"caf\xe9",
            b"\xc3",
            b"ok/\xfe\xfd/x",
            b"\xe6\x97\xa5\xff\xe6\x97\xa5",
        ];
        for raw in cases {
            let w = encode(raw);
            assert!(w.contains('\0'), "{w:?}");
            assert_eq!(decode(&w).unwrap(), raw, "{w:?}");
        }
        assert_eq!(encode(b"a\xffb"), "a\u{0}ffb");
        assert_eq!(display("a\u{0}ffb"), "a\\xffb");
    }

    #[test]
    fn every_byte_string_of_two_round_trips() {
        for a in 0..=255u8 {
            for b in [0x2f, 0x41, 0x80, 0xc3, 0xff] {
                let raw = [a, b];
                if raw.contains(&0) {
                    continue;
                }
                assert_eq!(decode(&encode(&raw)).unwrap(), &raw[..], "{raw:?}");
            }
        }
    }

    #[test]
    fn escapes_cannot_make_separators_nul_or_ascii() {
        for bad in [
            "\u{0}2f", "\u{0}00", "\u{0}41", "\u{0}FF", "\u{0}f", "\u{0}", "a\u{0}zz",
        ] {
            assert!(decode(bad).is_none(), "{bad:?}");
        }
    }
}
