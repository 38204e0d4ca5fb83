//! Output as az prints it: `--query` (JMESPath) first, then one of the
//! formats json, jsonc, yaml, tsv, table or none.
//!
//! Pure functions from a JSON value to text, so every format is unit-tested;
//! one file per format (jsonc, yaml, tsv, table).
//! Object keys come out sorted (serde_json's map is ordered by key, and az
//! sorts keys too); a `--query` that builds objects (`{Name:name, …}`) sets
//! the column order of table and tsv output, as in az.

mod jsonc;
mod table;
mod tsv;
mod yaml;

use jmespath::ast::Ast;
use serde_json::Value;

use super::error::{CliError, Result};

pub use jsonc::color_json;
pub use table::{table, table_from_view};
pub use tsv::tsv;
pub use yaml::yaml;

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

#[cfg(test)]
mod tests {
    use super::jsonc::{KEY, LITERAL, NUMBER, RESET, STRING};
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
