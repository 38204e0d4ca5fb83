//! Output as az prints it: `--query` (JMESPath) first, then one of the
//! formats json, jsonc, yaml, tsv, table or none.
//!
//! Pure functions from a JSON value to text, so every format is unit-tested.
//! Object keys come out sorted (serde_json's map is ordered by key, and az
//! sorts keys too); a `--query` that builds objects (`{Name:name, …}`) sets
//! the column order of table and tsv output, as in az.

use jmespath::ast::Ast;
use serde_json::Value;

use super::error::{CliError, Result};

/// `-o/--output`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    /// Pretty JSON, two-space indent (the default, as in az).
    #[default]
    Json,
    /// JSON, coloured when stdout is a terminal.
    Jsonc,
    /// Aligned columns with a header.
    Table,
    /// Tab-separated values, one line per list element, no header.
    Tsv,
    /// YAML.
    Yaml,
    /// Nothing on stdout (errors still go to stderr).
    None,
}

/// A resource's default table: a column header and the JMESPath expression
/// that fills it, evaluated on each element. Used only without `--query`.
pub type TableView = &'static [(&'static str, &'static str)];

/// Everything that decides how a result is printed.
#[derive(Clone, Debug, Default)]
pub struct Style {
    pub format: Format,
    pub query: Option<String>,
    /// Colour for `jsonc` (stdout is a terminal and NO_COLOR is unset).
    pub color: bool,
}

/// Applies `--query` and renders `value`. The result ends with a newline
/// unless it is empty.
pub fn render(value: &Value, style: &Style, view: Option<TableView>) -> Result<String> {
    let (value, key_order) = match &style.query {
        Some(q) => {
            let (v, order) = query(value, q)?;
            (v, order)
        }
        None => (value.clone(), None),
    };
    let text = match style.format {
        Format::Json => pretty_json(&value),
        Format::Jsonc if style.color => color_json(&value),
        Format::Jsonc => pretty_json(&value),
        Format::Yaml => yaml(&value),
        Format::Tsv => tsv(&value, key_order.as_deref()),
        Format::Table => match (&style.query, view) {
            (None, Some(view)) => table_from_view(&value, view)?,
            _ => table(&value, key_order.as_deref()),
        },
        Format::None => String::new(),
    };
    Ok(text)
}

/// Runs a JMESPath expression. Also returns the keys of the object the
/// expression builds last (`[].{Name:name, Kind:kind}` → `Name, Kind`), so
/// columns keep the order the user wrote.
pub fn query(value: &Value, expr: &str) -> Result<(Value, Option<Vec<String>>)> {
    let compiled = jmespath::compile(expr)
        .map_err(|e| CliError::Usage(format!("argument --query: invalid JMESPath query: {e}")))?;
    let found = compiled
        .search(value)
        .map_err(|e| CliError::Usage(format!("argument --query: {e}")))?;
    let out = serde_json::to_value(&*found)
        .map_err(|e| CliError::Usage(format!("argument --query: {e}")))?;
    Ok((out, result_keys(compiled.as_ast())))
}

/// The keys of the multi-select hash that produces the expression's result.
fn result_keys(ast: &Ast) -> Option<Vec<String>> {
    match ast {
        Ast::MultiHash { elements, .. } => Some(elements.iter().map(|kv| kv.key.clone()).collect()),
        Ast::Projection { rhs, .. } | Ast::Subexpr { rhs, .. } => result_keys(rhs),
        Ast::Condition { then, .. } => result_keys(then),
        Ast::Flatten { node, .. } => result_keys(node),
        _ => None,
    }
}

pub fn pretty_json(value: &Value) -> String {
    // Serializing a Value cannot fail; fall back to the compact form anyway.
    let mut s = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    s.push('\n');
    s
}

// ------------------------------------------------------------------ jsonc

const KEY: &str = "\x1b[94m";
const STRING: &str = "\x1b[32m";
const NUMBER: &str = "\x1b[36m";
const LITERAL: &str = "\x1b[95m";
const RESET: &str = "\x1b[0m";

/// Pretty JSON with ANSI colours: keys blue, strings green, numbers cyan,
/// `true`/`false`/`null` magenta.
pub fn color_json(value: &Value) -> String {
    let mut out = String::new();
    color_value(value, 0, &mut out);
    out.push('\n');
    out
}

fn json_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

fn color_value(value: &Value, indent: usize, out: &mut String) {
    let pad = |n: usize| "  ".repeat(n);
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (i, (k, v)) in map.iter().enumerate() {
                out.push_str(&pad(indent + 1));
                out.push_str(KEY);
                out.push_str(&json_string(k));
                out.push_str(RESET);
                out.push_str(": ");
                color_value(v, indent + 1, out);
                if i + 1 < map.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(indent));
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, v) in items.iter().enumerate() {
                out.push_str(&pad(indent + 1));
                color_value(v, indent + 1, out);
                if i + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(indent));
            out.push(']');
        }
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
        Value::String(s) => {
            out.push_str(STRING);
            out.push_str(&json_string(s));
            out.push_str(RESET);
        }
        Value::Number(n) => {
            out.push_str(NUMBER);
            out.push_str(&n.to_string());
            out.push_str(RESET);
        }
        Value::Bool(_) | Value::Null => {
            out.push_str(LITERAL);
            out.push_str(&value.to_string());
            out.push_str(RESET);
        }
    }
}

// ------------------------------------------------------------------- yaml

/// Block-style YAML. Strings that a YAML reader could take for something
/// else (numbers, booleans, null, times, or text with YAML syntax in it) are
/// double-quoted with JSON escapes, which YAML reads the same way.
pub fn yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => yaml_map(m, 0, &mut out),
        Value::Array(a) if !a.is_empty() => yaml_seq(a, 0, &mut out),
        scalar => {
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
    out
}

fn yaml_map(map: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for (k, v) in map {
        out.push_str(&pad);
        out.push_str(&yaml_str(k));
        out.push(':');
        match v {
            Value::Object(m) if !m.is_empty() => {
                out.push('\n');
                yaml_map(m, indent + 2, out);
            }
            // Sequences under a key are not indented, as PyYAML (and so az) writes them.
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                yaml_seq(a, indent, out);
            }
            scalar => {
                out.push(' ');
                out.push_str(&yaml_scalar(scalar));
                out.push('\n');
            }
        }
    }
}

fn yaml_seq(items: &[Value], indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for v in items {
        out.push_str(&pad);
        out.push_str("- ");
        match v {
            Value::Object(m) if !m.is_empty() => {
                // The first key goes on the dash line, the rest line up under it.
                let mut inner = String::new();
                yaml_map(m, indent + 2, &mut inner);
                out.push_str(inner.trim_start_matches(' '));
            }
            Value::Array(a) if !a.is_empty() => {
                let mut inner = String::new();
                yaml_seq(a, indent + 2, &mut inner);
                out.push_str(inner.trim_start_matches(' '));
            }
            scalar => {
                out.push_str(&yaml_scalar(scalar));
                out.push('\n');
            }
        }
    }
}

fn yaml_scalar(v: &Value) -> String {
    match v {
        Value::String(s) => yaml_str(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        other => other.to_string(),
    }
}

fn yaml_str(s: &str) -> String {
    if yaml_plain_ok(s) {
        s.to_owned()
    } else {
        json_string(s)
    }
}

/// Whether `s` reads back as the same string when written without quotes.
/// Conservative: anything doubtful is quoted.
fn yaml_plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.trim() != s {
        return false;
    }
    // Numbers, dates and times (YAML 1.1 readers take them for non-strings).
    if first.is_ascii_digit() || matches!(first, '+' | '.') {
        return false;
    }
    const INDICATORS: &str = "-?:,[]{}#&*!|>'\"%@`~=<";
    if INDICATORS.contains(first) {
        return false;
    }
    const RESERVED: [&str; 14] = [
        "true", "false", "yes", "no", "on", "off", "null", "y", "n", ".inf", ".nan", "-", "~", "<<",
    ];
    if RESERVED.contains(&s.to_ascii_lowercase().as_str()) {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    !s.chars()
        .any(|c| c.is_control() || c == '\u{feff}' || c == '\u{2028}' || c == '\u{2029}')
}

// -------------------------------------------------------------------- tsv

/// Tab-separated values, az-style: a list prints one line per element, an
/// object one line with the values of its keys (sorted, or in `--query`
/// order), a scalar on its own. Nested objects and lists print as empty
/// fields so the columns stay in place; tabs and newlines inside a value
/// are written as `\t` and `\n`.
pub fn tsv(value: &Value, key_order: Option<&[String]>) -> String {
    let mut out = String::new();
    match value {
        Value::Array(items) => {
            for item in items {
                tsv_row(item, key_order, &mut out);
            }
        }
        other => tsv_row(other, key_order, &mut out),
    }
    out
}

fn tsv_row(value: &Value, key_order: Option<&[String]>, out: &mut String) {
    let fields: Vec<String> = match value {
        Value::Object(map) => ordered_entries(map, key_order)
            .into_iter()
            .map(|(_, v)| tsv_field(v))
            .collect(),
        Value::Array(items) => items.iter().map(tsv_field).collect(),
        scalar => vec![tsv_field(scalar)],
    };
    out.push_str(&fields.join("\t"));
    out.push('\n');
}

fn tsv_field(v: &Value) -> String {
    match v {
        Value::Object(_) | Value::Array(_) => String::new(),
        other => scalar_text(other)
            .replace('\\', "\\\\")
            .replace('\t', "\\t")
            .replace('\n', "\\n")
            .replace('\r', "\\r"),
    }
}

/// A scalar as a cell: strings unquoted, null empty.
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Object(_) | Value::Array(_) => String::new(),
        other => other.to_string(),
    }
}

/// A map's entries, the keys named in `order` first (in that order), then
/// the rest sorted.
fn ordered_entries<'a>(
    map: &'a serde_json::Map<String, Value>,
    order: Option<&[String]>,
) -> Vec<(&'a str, &'a Value)> {
    let mut out: Vec<(&str, &Value)> = Vec::with_capacity(map.len());
    if let Some(order) = order {
        for k in order {
            if let Some((key, v)) = map.get_key_value(k.as_str()) {
                out.push((key.as_str(), v));
            }
        }
    }
    for (k, v) in map {
        if !out.iter().any(|(seen, _)| *seen == k.as_str()) {
            out.push((k.as_str(), v));
        }
    }
    out
}

// ------------------------------------------------------------------ table

/// An az-style table from any value: the columns are the scalar fields of
/// the objects (nested objects and lists are left out), headed by the key
/// with its first letter capitalized; a list of scalars is one `Result`
/// column.
pub fn table(value: &Value, key_order: Option<&[String]>) -> String {
    let rows: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    };
    let mut headers: Vec<String> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    let has_objects = rows.iter().any(|r| r.is_object());
    if has_objects {
        for r in &rows {
            if let Value::Object(map) = r {
                for (k, v) in ordered_entries(map, key_order) {
                    let nested = v.is_object() || v.is_array();
                    if !nested && !keys.iter().any(|seen| seen == k) {
                        keys.push(k.to_owned());
                    }
                }
            }
        }
        headers = keys.iter().map(|k| capitalize(k)).collect();
    }
    let cells: Vec<Vec<String>> = if has_objects {
        rows.iter()
            .map(|r| {
                keys.iter()
                    .map(|k| r.get(k).map(scalar_cell).unwrap_or_default())
                    .collect()
            })
            .collect()
    } else {
        if !rows.is_empty() {
            headers = vec!["Result".to_owned()];
        }
        rows.iter().map(|r| vec![scalar_cell(r)]).collect()
    };
    layout(&headers, &cells)
}

/// A table from a resource's default columns.
pub fn table_from_view(value: &Value, view: TableView) -> Result<String> {
    let rows: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    };
    let mut exprs = Vec::with_capacity(view.len());
    for (_, e) in view {
        exprs.push(jmespath::compile(e).map_err(|err| {
            CliError::Usage(format!(
                "internal table column {e:?} does not compile: {err}"
            ))
        })?);
    }
    let mut cells = Vec::with_capacity(rows.len());
    for r in rows {
        let mut line = Vec::with_capacity(exprs.len());
        for e in &exprs {
            let found = e
                .search(r)
                .map_err(|err| CliError::Usage(format!("table column {}: {err}", e.as_str())))?;
            let v = serde_json::to_value(&*found).unwrap_or(Value::Null);
            line.push(scalar_cell(&v));
        }
        cells.push(line);
    }
    let headers: Vec<String> = view.iter().map(|(h, _)| (*h).to_owned()).collect();
    Ok(layout(&headers, &cells))
}

fn scalar_cell(v: &Value) -> String {
    match v {
        // A list of scalars in a view column (rule tags, …) reads as a, b.
        Value::Array(items) if items.iter().all(|i| !(i.is_object() || i.is_array())) => {
            items.iter().map(scalar_text).collect::<Vec<_>>().join(", ")
        }
        other => scalar_text(other).replace(['\n', '\t'], " "),
    }
}

fn capitalize(k: &str) -> String {
    let mut c = k.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Columns left-aligned, two spaces apart, a dashed rule under the header.
fn layout(headers: &[String], rows: &[Vec<String>]) -> String {
    if headers.is_empty() {
        return String::new();
    }
    let width = |s: &str| s.chars().count();
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(width(c));
            }
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, w) in widths.iter().enumerate() {
            let c = cells.get(i).map(String::as_str).unwrap_or("");
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(c);
            s.push_str(&" ".repeat(w.saturating_sub(width(c))));
        }
        s.trim_end().to_owned()
    };
    let mut out = line(headers);
    out.push('\n');
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&rule.join("  "));
    out.push('\n');
    for r in rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vaults() -> Value {
        json!([
            {"name": "prod", "kind": "recovery-services", "storageRedundancy": "LocallyRedundant",
             "usage": {"protectedItems": 2, "storedBytes": 1024}, "created": "2026-11-26T01:00:00Z"},
            {"name": "lab", "kind": "backup", "storageRedundancy": "LocallyRedundant",
             "usage": {"protectedItems": 0, "storedBytes": 0}, "created": "2026-11-26T02:00:00Z"}
        ])
    }

    fn style(format: Format, query: Option<&str>) -> Style {
        Style {
            format,
            query: query.map(str::to_owned),
            color: false,
        }
    }

    #[test]
    fn json_is_pretty_with_two_spaces_and_sorted_keys() {
        let out = render(
            &json!({"b": 1, "a": [true]}),
            &style(Format::Json, None),
            None,
        )
        .unwrap();
        assert_eq!(out, "{\n  \"a\": [\n    true\n  ],\n  \"b\": 1\n}\n");
    }

    #[test]
    fn query_filters_and_projects_like_az() {
        let (v, keys) = query(&vaults(), "[?kind=='backup'].name").unwrap();
        assert_eq!(v, json!(["lab"]));
        assert_eq!(keys, None);
        let (v, keys) = query(&vaults(), "[].{Name:name, Items:usage.protectedItems}").unwrap();
        assert_eq!(
            v,
            json!([{"Name": "prod", "Items": 2}, {"Name": "lab", "Items": 0}])
        );
        assert_eq!(keys, Some(vec!["Name".to_owned(), "Items".to_owned()]));
        let (v, _) = query(&vaults(), "length(@)").unwrap();
        assert_eq!(v, json!(2));
    }

    #[test]
    fn bad_query_is_a_usage_error() {
        let e = query(&vaults(), "[?name=='x'").unwrap_err();
        assert_eq!(e.code(), "INVALID_ARGUMENT");
        assert!(e.to_string().contains("--query"), "{e}");
    }

    #[test]
    fn table_without_view_shows_scalar_fields_only() {
        let out = table(&vaults(), None);
        assert_eq!(
            out,
            "Created               Kind               Name  StorageRedundancy\n\
             --------------------  -----------------  ----  -----------------\n\
             2026-11-26T01:00:00Z  recovery-services  prod  LocallyRedundant\n\
             2026-11-26T02:00:00Z  backup             lab   LocallyRedundant\n"
        );
    }

    #[test]
    fn table_with_query_keeps_the_query_column_order() {
        let out = render(
            &vaults(),
            &style(
                Format::Table,
                Some("[].{Name:name, Items:usage.protectedItems}"),
            ),
            None,
        )
        .unwrap();
        assert_eq!(out, "Name  Items\n----  -----\nprod  2\nlab   0\n");
    }

    #[test]
    fn table_of_scalars_has_a_result_column_and_empty_is_empty() {
        let out = render(&vaults(), &style(Format::Table, Some("[].name")), None).unwrap();
        assert_eq!(out, "Result\n------\nprod\nlab\n");
        assert_eq!(table(&json!([]), None), "");
    }

    #[test]
    fn table_view_columns_come_from_expressions() {
        const VIEW: TableView = &[
            ("Name", "name"),
            ("Kind", "kind"),
            ("ProtectedItems", "usage.protectedItems"),
            ("Missing", "nosuchfield"),
        ];
        let out = render(&vaults(), &style(Format::Table, None), Some(VIEW)).unwrap();
        assert_eq!(
            out,
            "Name  Kind               ProtectedItems  Missing\n\
             ----  -----------------  --------------  -------\n\
             prod  recovery-services  2\n\
             lab   backup             0\n"
        );
        // A single object is one row.
        let one = render(&vaults()[0], &style(Format::Table, None), Some(VIEW)).unwrap();
        assert_eq!(one.lines().count(), 3);
    }

    #[test]
    fn tsv_prints_values_only_with_nested_objects_empty() {
        let out = tsv(&vaults(), None);
        assert_eq!(
            out,
            "2026-11-26T01:00:00Z\trecovery-services\tprod\tLocallyRedundant\t\n\
             2026-11-26T02:00:00Z\tbackup\tlab\tLocallyRedundant\t\n"
        );
        let out = render(
            &vaults(),
            &style(Format::Tsv, Some("[].[name, kind]")),
            None,
        )
        .unwrap();
        assert_eq!(out, "prod\trecovery-services\nlab\tbackup\n");
        let out = render(&vaults(), &style(Format::Tsv, Some("[0].name")), None).unwrap();
        assert_eq!(out, "prod\n");
        let out = tsv(&json!({"a": "x\ty\nz", "b": null, "c": false}), None);
        assert_eq!(out, "x\\ty\\nz\t\tfalse\n");
        let out = render(
            &vaults(),
            &style(Format::Tsv, Some("[].{Z:name, A:kind}")),
            None,
        )
        .unwrap();
        assert_eq!(out, "prod\trecovery-services\nlab\tbackup\n");
    }

    #[test]
    fn yaml_is_block_style_and_quotes_what_would_change_type() {
        let v = json!({
            "name": "prod",
            "count": 3,
            "enabled": true,
            "none": null,
            "time": "2026-11-26T01:00:00Z",
            "word": "yes",
            "colon": "a: b",
            "empty": "",
            "tags": ["daily", "on-demand"],
            "nested": {"inner": {"x": 1}, "list": []},
            "items": [{"a": 1, "b": "two"}, [1, 2]]
        });
        let out = yaml(&v);
        assert_eq!(
            out,
            "colon: \"a: b\"\n\
             count: 3\n\
             empty: \"\"\n\
             enabled: true\n\
             items:\n\
             - a: 1\n  b: two\n\
             - - 1\n  - 2\n\
             name: prod\n\
             nested:\n  inner:\n    x: 1\n  list: []\n\
             none: null\n\
             tags:\n- daily\n- on-demand\n\
             time: \"2026-11-26T01:00:00Z\"\n\
             word: \"yes\"\n"
        );
        assert_eq!(yaml(&json!([])), "[]\n");
        assert_eq!(yaml(&json!("7")), "\"7\"\n");
    }

    #[test]
    fn yaml_reads_back_as_the_same_value() {
        let v = json!({
            "s": ["true", "No", "null", "~", "0x1F", "1e3", "-5", ".5", "#x", "a #b", "x:", "- y",
                  "tab\there", "line\nbreak", " lead", "trail ", "ünïcode", "'q'", "\"dq\"",
                  "@at", "%p", "!tag", "&a", "*b", "{c}", "[d]", "|", ">", "?", "<<", "=",
                  "2026-01-01", "12:30", "back\\slash", "ok-value", "Protected"],
            "n": [0, -1, 2.5, 1e100],
            "deep": [[{"k": [{"x": null}]}]],
            "weird key: yes": {"": 1}
        });
        let back: Value = serde_yaml::from_str(&yaml(&v)).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn jsonc_colours_and_still_parses_without_them() {
        let v = json!({"name": "prod", "n": 1, "ok": true, "list": [null], "e": {}});
        let c = color_json(&v);
        assert!(c.contains("\x1b[94m\"name\"\x1b[0m: \x1b[32m\"prod\"\x1b[0m"));
        let plain = c
            .replace(KEY, "")
            .replace(STRING, "")
            .replace(NUMBER, "")
            .replace(LITERAL, "")
            .replace(RESET, "");
        assert_eq!(plain, pretty_json(&v));
        // Without a terminal jsonc is plain json.
        assert_eq!(
            render(&v, &style(Format::Jsonc, None), None).unwrap(),
            pretty_json(&v)
        );
    }

    #[test]
    fn none_prints_nothing() {
        assert_eq!(
            render(&vaults(), &style(Format::None, None), None).unwrap(),
            ""
        );
    }
}
