//! The register against docs/errors.md: every registered code is listed
//! there, and every code listed there is registered. "Listed" means named,
//! in backquotes, in the first column of one of the page's tables.

use std::collections::BTreeSet;
use std::path::Path;

use lifeboat_codes::{ALL, Code};

/// `[A-Z][A-Z0-9_]{3,}`.
fn code_shaped(s: &str) -> bool {
    s.len() >= 4
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The codes named in the first column of docs/errors.md's tables.
fn documented(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let Some(row) = line.trim().strip_prefix('|') else {
            continue;
        };
        let first = row.split('|').next().unwrap_or("");
        for (i, part) in first.split('`').enumerate() {
            if i % 2 == 1 && code_shaped(part) {
                out.insert(part.to_owned());
            }
        }
    }
    out
}

fn docs() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/errors.md");
    std::fs::read_to_string(&path).expect("docs/errors.md is readable")
}

#[test]
fn each_code_is_registered_once_with_a_meaning() {
    let set: BTreeSet<Code> = ALL.iter().copied().collect();
    assert_eq!(set.len(), ALL.len(), "a code appears twice in ALL");
    for c in ALL {
        assert_eq!(Code::parse(c.as_str()), Some(*c));
        assert!(!c.meaning().is_empty(), "{c} has no meaning");
    }
}

#[test]
fn docs_list_exactly_the_registered_codes() {
    let docs = documented(&docs());
    let registered: BTreeSet<String> = ALL.iter().map(|c| c.to_string()).collect();
    let undocumented: Vec<_> = registered.difference(&docs).collect();
    let unregistered: Vec<_> = docs.difference(&registered).collect();
    assert!(
        undocumented.is_empty() && unregistered.is_empty(),
        "registered in crates/codes but missing from docs/errors.md: {undocumented:?}; \
         listed in docs/errors.md but not registered in crates/codes: {unregistered:?}"
    );
}

/// The drift test fails where it should: a code only one side has.
#[test]
fn the_docs_reader_takes_first_columns_only() {
    let page = "| Code | HTTP | Meaning |\n|---|---|---|\n\
                | `NOT_FOUND`, `CONFLICT` | 404 | As `IN_USE` above. |\n\
                Prose naming `PROSE_ONLY` is not a listing.\n";
    let got: Vec<String> = documented(page).into_iter().collect();
    assert_eq!(got, ["CONFLICT", "NOT_FOUND"]);
}
