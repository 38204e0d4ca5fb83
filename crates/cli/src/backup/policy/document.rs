//! The policy document a user gives (`--policy @file.json` or inline
//! JSON) and the template a new policy starts from. The document is user
//! input, read as JSON once and then as the model's typed [`Policy`].

use std::path::Path;

use lifeboat_model::Policy;
use serde_json::Value;

use crate::backup::error::{CliError, Result};

/// `@file` or inline JSON.
pub fn read_json_arg(src: &str) -> Result<Value> {
    let (text, origin) = match src.strip_prefix('@') {
        Some(path) => {
            let text = std::fs::read_to_string(Path::new(path)).map_err(|e| {
                CliError::Usage(format!("argument --policy: cannot read {path}: {e}"))
            })?;
            (text, path.to_owned())
        }
        None => (src.to_owned(), "the argument".to_owned()),
    };
    serde_json::from_str(&text).map_err(|e| {
        CliError::Usage(format!(
            "argument --policy: {origin} is not valid JSON: {e}"
        ))
    })
}

/// `(name, properties)` from a policy document: `{name?, properties}` as
/// the API returns it, or a bare properties object.
pub fn split_document(doc: Value) -> Result<(Option<String>, Value)> {
    let Value::Object(mut map) = doc else {
        return Err(CliError::Usage(
            "argument --policy: the policy must be a JSON object".into(),
        ));
    };
    let name = map.get("name").and_then(Value::as_str).map(str::to_owned);
    match map.remove("properties") {
        Some(props @ Value::Object(_)) => Ok((name, props)),
        Some(_) => Err(CliError::Usage(
            "argument --policy: \"properties\" must be an object".into(),
        )),
        None => {
            // A bare properties object has no name of its own.
            map.remove("name");
            Ok((None, Value::Object(map)))
        }
    }
}

/// A new policy before flags: V1, daily at 22:00, daily points kept 30
/// days, instant restore 2 days (the shape of DefaultPolicy).
pub fn template(time_zone: &str) -> Policy {
    let mut p = Policy::default_policy(time_zone);
    // As Azure's portal writes a new policy: no weekly frequency.
    p.schedule_policy.schedule_weekly_frequency = None;
    p
}

/// The typed policy of a properties object the user gave. The model reads
/// it as the server would; what it cannot read is refused here with the
/// server's code and the field's path, before anything is sent. Whether
/// the policy is valid (ranges, coupling rules) stays the server's check.
pub fn policy_of(props: Value) -> Result<Policy> {
    serde_path_to_error::deserialize(props).map_err(|e| {
        let path = e.path().to_string();
        let target = (path != ".").then_some(path);
        CliError::InvalidPolicy {
            message: format!(
                "{}: {}",
                target.as_deref().unwrap_or("the policy"),
                e.inner()
            ),
            target,
        }
    })
}

/// This machine's IANA time zone: `TZ`, else the `/etc/localtime` link,
/// else `/etc/timezone`, else UTC.
pub(super) fn local_time_zone() -> String {
    let plausible = |s: &str| {
        let s = s.trim().trim_start_matches(':');
        (!s.is_empty() && !s.contains(char::is_whitespace) && !s.starts_with('/'))
            .then(|| s.to_owned())
    };
    if let Some(tz) = std::env::var("TZ").ok().as_deref().and_then(plausible) {
        return tz;
    }
    if let Ok(target) = std::fs::read_link("/etc/localtime")
        && let Some(s) = target.to_str()
        && let Some((_, zone)) = s.split_once("zoneinfo/")
        && let Some(z) = plausible(zone)
    {
        return z;
    }
    if let Ok(text) = std::fs::read_to_string("/etc/timezone")
        && let Some(z) = plausible(&text)
    {
        return z;
    }
    "UTC".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_split_into_name_and_properties() {
        let (n, props) =
            split_document(json!({"name": "P", "properties": {"timeZone": "UTC"}, "id": 3}))
                .unwrap();
        assert_eq!(n.as_deref(), Some("P"));
        assert_eq!(props, json!({"timeZone": "UTC"}));
        let (n, props) = split_document(json!({"timeZone": "UTC"})).unwrap();
        assert_eq!(n, None);
        assert_eq!(props, json!({"timeZone": "UTC"}));
        assert!(split_document(json!([1])).is_err());
    }

    #[test]
    fn json_arguments_come_inline_or_from_a_file() {
        assert_eq!(read_json_arg(r#"{"a":1}"#).unwrap(), json!({"a": 1}));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(&path, r#"{"name":"X","properties":{}}"#).unwrap();
        assert_eq!(
            read_json_arg(&format!("@{}", path.display())).unwrap()["name"],
            "X"
        );
        assert!(read_json_arg("@/nonexistent/p.json").is_err());
        assert!(read_json_arg("{oops").is_err());
    }

    #[test]
    fn unreadable_policies_name_the_field() {
        let mut doc = serde_json::to_value(template("UTC")).unwrap();
        assert_eq!(policy_of(doc.clone()).unwrap(), template("UTC"));
        doc["schedulePolicy"]["scheduleRunFrequency"] = json!("Fortnightly");
        let e = policy_of(doc).unwrap_err();
        assert_eq!(e.code(), "INVALID_POLICY");
        assert_eq!(e.target(), Some("schedulePolicy.scheduleRunFrequency"));
    }
}
