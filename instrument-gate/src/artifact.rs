//! Reading the runtime's `report.json` and writing the gate's JSON files: keys sorted, and
//! atomically, so a reader sees the previous file or the new one, never half of one.

use std::fs;
use std::path::Path;

use instrument_runtime::report::{REPORT_SCHEMA, Report};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Reads a `report.json` and checks it ([`validate::report`](crate::validate::report)). Every
/// failure names the file: a missing report must stop CI.
pub(crate) fn load_report(path: &Path) -> Result<Report, String> {
    let report = load_json(path, "report", REPORT_SCHEMA).map_err(|error| match error {
        LoadError::Unreadable(message) if !path.exists() => format!(
            "{message}; the instrumented program writes it at exit when `main` calls \
             `instrument_runtime::report_at_exit()`"
        ),
        LoadError::Unreadable(message) | LoadError::Invalid(message) => message,
    })?;
    crate::validate::report(path, &report)?;
    Ok(report)
}

pub(crate) enum LoadError {
    Unreadable(String),
    Invalid(String),
}

/// Reads a JSON file whose `schema` must be `schema`; `what` names it in messages.
pub(crate) fn load_json<T: DeserializeOwned>(
    path: &Path,
    what: &str,
    schema: &str,
) -> Result<T, LoadError> {
    let text = fs::read_to_string(path).map_err(|error| {
        LoadError::Unreadable(format!(
            "cannot read the {what} `{}`: {error}",
            path.display()
        ))
    })?;
    let invalid = |error: serde_json::Error| {
        LoadError::Invalid(format!(
            "`{}` is not a valid {what}: {error}",
            path.display()
        ))
    };
    let value: Value = serde_json::from_str(&text).map_err(invalid)?;
    match value.get("schema").and_then(Value::as_str) {
        Some(found) if found == schema => {}
        found => {
            return Err(LoadError::Invalid(format!(
                "`{}` is not a {what} of a known format: expected schema `{schema}`, found {}",
                path.display(),
                found.map_or_else(|| "none".to_owned(), |found| format!("`{found}`"))
            )));
        }
    }
    serde_json::from_value(value).map_err(invalid)
}

/// `value` as pretty JSON with every object's keys sorted, and a final newline.
pub(crate) fn to_sorted_json(value: &impl Serialize) -> Result<Vec<u8>, serde_json::Error> {
    let mut json = serde_json::to_vec_pretty(&sorted(serde_json::to_value(value)?))?;
    json.push(b'\n');
    Ok(json)
}

/// Rebuilds every object with its keys in order, whichever map type `serde_json` was built with.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key, sorted(value)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Writes `value` as sorted JSON to `path`, atomically.
pub(crate) fn write_json(path: &Path, value: &impl Serialize) -> Result<(), String> {
    let json = to_sorted_json(value).map_err(|error| error.to_string())?;
    instrument_runtime::export::write_atomically(path, &json)
        .map_err(|error| format!("cannot write `{}`: {error}", path.display()))
}

/// Milliseconds since the Unix epoch (0 before it).
pub(crate) fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sorted_at_every_depth() {
        #[derive(Serialize)]
        struct Inner {
            zeta: u8,
            alpha: u8,
        }
        #[derive(Serialize)]
        struct Outer {
            nodes: Vec<Inner>,
            exit_code: u8,
        }
        let json = to_sorted_json(&Outer {
            nodes: vec![Inner { zeta: 1, alpha: 2 }],
            exit_code: 0,
        })
        .unwrap();
        let text = String::from_utf8(json).unwrap();
        let keys: Vec<&str> = text
            .lines()
            .filter_map(|line| line.trim().strip_prefix('"')?.split('"').next())
            .collect();
        assert_eq!(keys, ["exit_code", "nodes", "alpha", "zeta"]);
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn a_missing_report_an_invalid_one_and_a_foreign_one_are_named() {
        let dir = crate::test_support::scratch_dir("artifact-load");
        let path = dir.join("report.json");
        let missing = load_report(&path).unwrap_err();
        assert!(missing.starts_with(&format!("cannot read the report `{}`: ", path.display())));
        assert!(missing.contains("report_at_exit()"), "{missing}");

        fs::create_dir_all(&dir).unwrap();
        fs::write(&path, "{ not json").unwrap();
        let invalid = load_report(&path).unwrap_err();
        assert!(
            invalid.starts_with(&format!("`{}` is not a valid report: ", path.display())),
            "{invalid}"
        );

        fs::write(&path, r#"{"schema": "someone.else/3"}"#).unwrap();
        assert_eq!(
            load_report(&path).unwrap_err(),
            format!(
                "`{}` is not a report of a known format: expected schema `instrument.report/1`, \
                 found `someone.else/3`",
                path.display()
            )
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn writing_replaces_the_file_and_leaves_no_temporary() {
        let dir = crate::test_support::scratch_dir("artifact-write");
        let path = dir.join("nested").join("out.json");
        write_json(&path, &1).unwrap();
        write_json(&path, &[2]).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "[\n  2\n]\n");
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
        fs::remove_dir_all(dir).unwrap();
    }
}
