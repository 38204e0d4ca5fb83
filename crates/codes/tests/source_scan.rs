//! The source scan: no crate writes a code as a string literal, and no
//! crate emits a code-shaped string that the register does not have.
//!
//! The rule. A string is *code-shaped* when it matches `[A-Z][A-Z0-9_]{3,}`
//! (an upper-case ASCII letter, then three or more upper-case letters,
//! digits or underscores). The scan lexes every `crates/*/src/**/*.rs`
//! except those of `crates/codes`, reads their string and raw string
//! literals (comments, char literals, byte and C strings are passed over),
//! and leaves out literals inside attributes (`#[arg(value_name = "DAYS")]`,
//! `#[error("…")]`) and inside items under `#[cfg(test)]`, including unit
//! test files declared as `#[cfg(test)] mod tests;` (unit tests assert the
//! wire strings). It fails on
//!
//! 1. a literal that is wholly code-shaped and is a registered code: the
//!    crate must name the constant (`lifeboat_codes::NOT_FOUND`), so that
//!    a code is written once, in the register;
//! 2. a literal that is wholly code-shaped, not registered, and not in the
//!    non-code vocabulary: an unregistered code (register it and document
//!    it in docs/errors.md);
//! 3. in any other literal (a message), a word shaped like a multi-part
//!    code, `[A-Z][A-Z0-9]*(_[A-Z0-9]+)+`, that is neither registered nor
//!    vocabulary, and is not a format placeholder (`{MAX_PAGE}`): a message
//!    that names a code which does not exist. Messages may name registered
//!    codes in their prose.
//!
//! The non-code vocabulary (`scan::not_a_code`) is: environment variables
//! (`LIFEBOAT_*`, `XDG_*`, `CARGO_*`, `RUST_LOG`, `HOME`, `USER`, `LOGNAME`,
//! `NO_COLOR`), HTTP methods, POSIX errno names and NBD protocol names
//! (`NBD_OPT_*`, `NBD_REP_*`, `NBD_INFO_*`, `NBD_FLAG_*`, `NBD_CMD_*`). No
//! registered code may fall in it, so it cannot hide one.

mod scan;

use std::path::{Path, PathBuf};

use lifeboat_codes::ALL;
use scan::{Literal, Place, code_shaped, literals, not_a_code, problems};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") && !is_unit_test_file(&p) {
            out.push(p);
        }
    }
}

/// `foo/tests.rs` where `foo.rs` (or `foo/mod.rs`) declares it as
/// `#[cfg(test)] mod tests;`: unit tests moved beside their file, left out
/// like inline `#[cfg(test)]` items.
fn is_unit_test_file(p: &Path) -> bool {
    if p.file_name().is_none_or(|n| n != "tests.rs") {
        return false;
    }
    let Some(dir) = p.parent() else {
        return false;
    };
    let parents = [dir.with_extension("rs"), dir.join("mod.rs")];
    parents.iter().any(|parent| {
        std::fs::read_to_string(parent).is_ok_and(|t| t.contains("#[cfg(test)]\nmod tests;"))
    })
}

/// Every problem of one file's text, as `path:line: what`.
fn scan_text(path: &str, text: &str) -> Vec<String> {
    literals(text)
        .iter()
        .flat_map(|lit| {
            problems(lit)
                .into_iter()
                .map(move |p| format!("{path}:{}: {p}", lit.line))
        })
        .collect()
}

#[test]
fn sources_emit_codes_only_through_the_register() {
    let mut files = Vec::new();
    let crates = std::fs::read_dir(workspace().join("crates")).expect("crates/ is readable");
    for krate in crates.flatten() {
        if krate.file_name() != "codes" {
            rust_files(&krate.path().join("src"), &mut files);
        }
    }
    files.sort();
    assert!(files.len() > 50, "found only {} source files", files.len());
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a source file is readable");
        let shown = file.strip_prefix(workspace()).unwrap_or(file).display();
        found.extend(scan_text(&shown.to_string(), &text));
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn no_code_hides_in_the_vocabulary() {
    for c in ALL {
        assert!(code_shaped(c.as_str()), "{c} is not shaped like a code");
        assert!(
            !not_a_code(c.as_str()),
            "{c} falls in the non-code vocabulary"
        );
    }
}

/// The scan fails where it should: a stray code in ordinary code, a
/// registered code written as text, a message naming a code that does not
/// exist; and only there.
#[test]
fn the_rule_catches_strays_and_nothing_else() {
    let src = r##"
//! Module docs naming "NOT_FOUND" are comments.
use x::Y;
#[arg(long, value_name = "DAYS", env = "LIFEBOAT_DAYS")]
struct A;
fn emit() -> Detail {
    let _lt: &'static str = "ok";
    let _c = '"';
    let _b = b"LBPK";
    let _raw = r#"a "quoted" text"#;
    let _env = std::env::var("LIFEBOAT_TOKEN");
    let _m = ("POST", "/api/v1/vaults");
    let _p = format!("limit is {MAX_PAGE}; see AUDIT_KEY_MISSING");
    Detail::new("NOT_FOUND", "stray registered")
}
fn stray() -> &'static str {
    /* "BLOCK_COMMENT_CODE" */
    if x { "BRAND_NEW_CODE" } else { r"RAW_STRAY" }
}
fn message() -> String {
    format!("failed (NO_SUCH_THING); retry")
}
#[cfg(test)]
mod tests {
    #[test]
    fn t() {
        assert_eq!(code(), "SOURCE_MISSING");
    }
}
fn after_tests() -> &'static str {
    "AFTER_TESTS_CODE"
}
"##;
    let found = scan_text("x.rs", src);
    let lines: Vec<&str> = found
        .iter()
        .map(|f| f.split(": ").next().unwrap_or(""))
        .collect();
    assert_eq!(
        lines,
        ["x.rs:14", "x.rs:18", "x.rs:18", "x.rs:21", "x.rs:31"],
        "{found:#?}"
    );
    assert!(found[0].contains("write lifeboat_codes::NOT_FOUND"));
    assert!(found[1].contains("\"BRAND_NEW_CODE\" looks like a code"));
    assert!(found[2].contains("\"RAW_STRAY\""));
    assert!(found[3].contains("names NO_SUCH_THING"));
}

#[test]
fn the_lexer_knows_where_literals_stand() {
    let src = "#![allow(x)]\n#[cfg(test)]\nuse a::B;\nfn f() { g(\"X\", '\\'', b'\"') }\n\
               #[cfg(test)]\nfn t() { \"T\" }\nconst Y: &str = \"Y\";\n";
    let got: Vec<Literal<'_>> = literals(src);
    let want = [
        ("X", 4, Place::Code),
        ("T", 6, Place::Test),
        ("Y", 7, Place::Code),
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (g, (text, line, place)) in got.iter().zip(want) {
        assert_eq!((g.text, g.line, g.place), (text, line, place));
    }
}
