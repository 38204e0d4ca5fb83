//! `-o tsv`: tab-separated values, az-style; and the cell text and key
//! order the table shares.

use serde_json::Value;

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
pub(super) fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Object(_) | Value::Array(_) => String::new(),
        other => other.to_string(),
    }
}

/// A map's entries, the keys named in `order` first (in that order), then
/// the rest sorted.
pub(super) fn ordered_entries<'a>(
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
