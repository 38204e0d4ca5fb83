//! The source scan's two halves: a small Rust lexer that finds the string
//! literals of a file, and the rule that decides which of them break the
//! register (see `source_scan.rs` for the rule in words).

use lifeboat_codes::Code;

/// Where a string literal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Ordinary code: what the program emits.
    Code,
    /// Inside an attribute, `#[…]` or `#![…]` (clap value names, serde
    /// renames, thiserror formats).
    Attribute,
    /// Inside an item under `#[cfg(test)]`, or a file under `#![cfg(test)]`.
    Test,
}

/// A string literal's text (as written, escapes not decoded), its line and
/// where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal<'a> {
    pub text: &'a str,
    pub line: usize,
    pub place: Place,
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The string and raw string literals of `src`. Comments, char literals,
/// lifetimes and byte or C string literals are passed over.
pub fn literals(src: &str) -> Vec<Literal<'_>> {
    Lexer {
        src,
        b: src.as_bytes(),
        i: 0,
        line: 1,
        depth: 0,
        attr: None,
        test: None,
        file_is_test: false,
        out: Vec::new(),
    }
    .run()
}

struct Lexer<'a> {
    src: &'a str,
    b: &'a [u8],
    i: usize,
    line: usize,
    /// Brace depth outside literals and comments.
    depth: usize,
    /// An open attribute: where it starts and its bracket depth.
    attr: Option<(usize, usize)>,
    /// An item under `#[cfg(test)]`: the brace depth it stands at and
    /// whether its body has opened.
    test: Option<(usize, bool)>,
    file_is_test: bool,
    out: Vec<Literal<'a>>,
}

impl<'a> Lexer<'a> {
    fn at(&self, k: usize) -> u8 {
        self.b.get(k).copied().unwrap_or(0)
    }

    fn place(&self) -> Place {
        if self.attr.is_some() {
            Place::Attribute
        } else if self.test.is_some() || self.file_is_test {
            Place::Test
        } else {
            Place::Code
        }
    }

    /// Moves to `to`, counting the lines passed.
    fn skip_to(&mut self, to: usize) {
        let to = to.min(self.b.len());
        self.line += self.b[self.i..to].iter().filter(|&&c| c == b'\n').count();
        self.i = to;
    }

    /// A quoted literal whose opening `"` is at `open` (escapes skip the
    /// next byte); kept as a literal unless it is a byte or C string.
    fn quoted(&mut self, open: usize, keep: bool) {
        let mut k = open + 1;
        while k < self.b.len() && self.b[k] != b'"' {
            k += if self.b[k] == b'\\' { 2 } else { 1 };
        }
        let end = k.min(self.b.len());
        if keep {
            self.push(open + 1, end);
        }
        self.skip_to(end + 1);
    }

    /// A raw literal `r#…"…"#…` whose opening `"` is at `open` after
    /// `hashes` hashes; kept unless it is a raw byte or C string.
    fn raw(&mut self, open: usize, hashes: usize, keep: bool) {
        let mut close = String::from("\"");
        close.push_str(&"#".repeat(hashes));
        let end = self.src[open + 1..]
            .find(&close)
            .map_or(self.b.len(), |p| open + 1 + p);
        if keep {
            self.push(open + 1, end);
        }
        self.skip_to(end + close.len());
    }

    fn push(&mut self, from: usize, to: usize) {
        let line = self.line;
        let place = self.place();
        self.out.push(Literal {
            text: &self.src[from..to],
            line,
            place,
        });
    }

    /// An identifier at `self.i`, or the prefix of a raw, byte or C string.
    fn ident(&mut self) {
        let start = self.i;
        let mut j = start;
        while j < self.b.len() && is_ident(self.b[j]) {
            j += 1;
        }
        let word = &self.src[start..j];
        if matches!(word, "r" | "br" | "cr") {
            let mut k = j;
            while self.at(k) == b'#' {
                k += 1;
            }
            if self.at(k) == b'"' {
                self.i = k;
                return self.raw(k, k - j, word == "r");
            }
        }
        if matches!(word, "b" | "c") && self.at(j) == b'"' {
            self.i = j;
            return self.quoted(j, false);
        }
        self.i = j;
    }

    /// A char literal (`'x'`, `'\n'`, `'"'`) or a lifetime (`'a`).
    fn quote(&mut self) {
        let i = self.i;
        if self.at(i + 1) == b'\\' {
            let mut k = i + 3;
            while k < self.b.len() && self.b[k] != b'\'' {
                k += 1;
            }
            return self.skip_to(k + 1);
        }
        let next = self.src[i + 1..].chars().next().map_or(1, char::len_utf8);
        if self.at(i + 1 + next) == b'\'' {
            return self.skip_to(i + 2 + next);
        }
        self.i += 1;
    }

    fn comment(&mut self) {
        if self.at(self.i + 1) == b'/' {
            let end = self.src[self.i..]
                .find('\n')
                .map_or(self.b.len(), |p| self.i + p);
            return self.skip_to(end);
        }
        let mut nest = 0usize;
        let mut k = self.i;
        while k < self.b.len() {
            if self.b[k] == b'/' && self.at(k + 1) == b'*' {
                nest += 1;
                k += 2;
            } else if self.b[k] == b'*' && self.at(k + 1) == b'/' {
                nest -= 1;
                k += 2;
                if nest == 0 {
                    break;
                }
            } else {
                k += 1;
            }
        }
        self.skip_to(k);
    }

    /// Brackets of an open attribute; at its end, notes `cfg(test)`.
    fn attribute_byte(&mut self, c: u8) {
        let Some((start, depth)) = self.attr else {
            return;
        };
        match c {
            b'[' => self.attr = Some((start, depth + 1)),
            b']' if depth > 1 => self.attr = Some((start, depth - 1)),
            b']' => {
                self.attr = None;
                let text: String = self.src[start..=self.i]
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                match text.as_str() {
                    "#[cfg(test)]" if self.test.is_none() => {
                        self.test = Some((self.depth, false));
                    }
                    "#![cfg(test)]" => self.file_is_test = true,
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// Braces and semicolons: where a `#[cfg(test)]` item ends.
    fn structure_byte(&mut self, c: u8) {
        match (c, self.test) {
            (b'{', Some((at, false))) if self.depth == at => self.test = Some((at, true)),
            (b';', Some((at, false))) if self.depth == at => self.test = None,
            _ => {}
        }
        match c {
            b'{' => self.depth += 1,
            b'}' => {
                self.depth = self.depth.saturating_sub(1);
                if let Some((at, true)) = self.test
                    && self.depth == at
                {
                    self.test = None;
                }
            }
            _ => {}
        }
    }

    fn run(mut self) -> Vec<Literal<'a>> {
        while self.i < self.b.len() {
            let c = self.b[self.i];
            match c {
                b'\n' => {
                    self.line += 1;
                    self.i += 1;
                }
                b'/' if matches!(self.at(self.i + 1), b'/' | b'*') => self.comment(),
                b'"' => self.quoted(self.i, true),
                b'\'' => self.quote(),
                c if c.is_ascii_alphabetic() || c == b'_' => self.ident(),
                b'#' if self.attr.is_none()
                    && (self.at(self.i + 1) == b'['
                        || (self.at(self.i + 1) == b'!' && self.at(self.i + 2) == b'[')) =>
                {
                    self.attr = Some((self.i, 0));
                    self.i += 1;
                }
                _ => {
                    if self.attr.is_some() {
                        self.attribute_byte(c);
                    } else {
                        self.structure_byte(c);
                    }
                    self.i += 1;
                }
            }
        }
        self.out
    }
}

/// `[A-Z][A-Z0-9_]{3,}`: the shape of every code.
pub fn code_shaped(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 4
        && b[0].is_ascii_uppercase()
        && b.iter()
            .all(|&c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
}

/// Environment variables Lifeboat reads or sets, and those of the system.
const ENV_PREFIXES: &[&str] = &["LIFEBOAT_", "XDG_", "CARGO_"];
const ENV_NAMES: &[&str] = &["RUST_LOG", "HOME", "USER", "LOGNAME", "NO_COLOR"];
/// HTTP methods (the authorization table matches on them).
const HTTP_METHODS: &[&str] = &["HEAD", "POST", "PATCH", "DELETE", "OPTIONS"];
/// POSIX errno names (the NBD client names the server's errors with them).
const ERRNO_NAMES: &[&str] = &[
    "EPERM",
    "ENOMEM",
    "EINVAL",
    "ENOSPC",
    "EOVERFLOW",
    "ENOTSUP",
    "ESHUTDOWN",
];
/// Names from the NBD protocol specification (options, replies, flags).
const NBD_PREFIXES: &[&str] = &["NBD_OPT_", "NBD_REP_", "NBD_INFO_", "NBD_FLAG_", "NBD_CMD_"];

/// Code-shaped words that are not codes: environment variables, HTTP
/// methods, errno names and NBD protocol names. No registered code may be
/// one of them (`source_scan.rs` checks), so this list cannot hide a code.
pub fn not_a_code(s: &str) -> bool {
    ENV_PREFIXES
        .iter()
        .chain(NBD_PREFIXES)
        .any(|p| s.starts_with(p))
        || ENV_NAMES.contains(&s)
        || HTTP_METHODS.contains(&s)
        || ERRNO_NAMES.contains(&s)
}

/// Words of a longer literal shaped like a multi-part code,
/// `[A-Z][A-Z0-9]*(_[A-Z0-9]+)+`, that are not a format placeholder
/// (`{MAX_PAGE}`).
pub fn code_words(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !is_ident(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_ident(b[i]) {
            i += 1;
        }
        let word = &text[start..i];
        let placeholder = start > 0 && b[start - 1] == b'{';
        let parts_ok = word.split('_').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        });
        if !placeholder && word.contains('_') && parts_ok && code_shaped(word) {
            out.push(word);
        }
    }
    out
}

/// What is wrong with one literal of ordinary code, if anything.
pub fn problems(lit: &Literal<'_>) -> Vec<String> {
    if lit.place != Place::Code {
        return Vec::new();
    }
    if code_shaped(lit.text) {
        return match Code::parse(lit.text) {
            Some(c) => vec![format!(
                "\"{c}\" is a registered code: write lifeboat_codes::{c}"
            )],
            None if not_a_code(lit.text) => Vec::new(),
            None => vec![format!(
                "\"{}\" looks like a code but is not registered: add it to crates/codes and \
                 docs/errors.md (or, if it is not a code, to the vocabulary in tests/scan)",
                lit.text
            )],
        };
    }
    code_words(lit.text)
        .into_iter()
        .filter(|w| Code::parse(w).is_none() && !not_a_code(w))
        .map(|w| {
            format!(
                "the text names {w}, which is not a registered code: register it, or name the right one"
            )
        })
        .collect()
}
