//! `-o table`: aligned columns with a header, from any value or from a
//! resource's default columns.

use serde_json::Value;

use super::TableView;
use super::tsv::{ordered_entries, scalar_text};
use crate::backup::error::{CliError, Result};

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
