//! `-o yaml`: block-style YAML that reads back as the same value.

use serde_json::Value;

use super::jsonc::json_string;

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
