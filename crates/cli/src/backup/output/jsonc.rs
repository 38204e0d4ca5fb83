//! `-o jsonc`: pretty JSON with ANSI colours.

use serde_json::Value;

pub(super) const KEY: &str = "\x1b[94m";
pub(super) const STRING: &str = "\x1b[32m";
pub(super) const NUMBER: &str = "\x1b[36m";
pub(super) const LITERAL: &str = "\x1b[95m";
pub(super) const RESET: &str = "\x1b[0m";

/// Pretty JSON with ANSI colours: keys blue, strings green, numbers cyan,
/// `true`/`false`/`null` magenta.
pub fn color_json(value: &Value) -> String {
    let mut out = String::new();
    color_value(value, 0, &mut out);
    out.push('\n');
    out
}

pub(super) fn json_string(s: &str) -> String {
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
