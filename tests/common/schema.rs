//! A minimal JSON Schema (2020-12) check: the keywords our schemas use. Assertions checked:
//! `type`, `required`, `properties`, `additionalProperties: false`, `items`, `$ref` to
//! `#/$defs/...`, `const`, `enum`, `minimum`; `pattern` and `format` are checked by hand in the
//! tests that use it (no regex engine here). Any other keyword fails the check, so a schema cannot
//! rely on a keyword nobody verifies.

use serde_json::Value;

const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "$defs",
    "title",
    "description",
    "format",
    "pattern",
];

/// Every violation of `schema` by `value`, each with its JSON pointer.
pub(crate) fn violations(schema: &Value, value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    check(schema, schema, value, "", &mut found);
    found
}

fn check(root: &Value, schema: &Value, value: &Value, at: &str, found: &mut Vec<String>) {
    let schema = schema.as_object().expect("a schema is an object");
    for (keyword, rule) in schema {
        match keyword.as_str() {
            "$ref" => {
                let name = rule
                    .as_str()
                    .and_then(|reference| reference.strip_prefix("#/$defs/"))
                    .expect("only local `#/$defs/` references");
                check(root, &root["$defs"][name], value, at, found);
            }
            "type" => {
                let allowed: Vec<&str> = match rule {
                    Value::String(one) => vec![one.as_str()],
                    Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                    _ => panic!("bad `type` at {at}"),
                };
                if !allowed.iter().any(|ty| has_type(value, ty)) {
                    found.push(format!("{at}: expected {allowed:?}, found {value}"));
                }
            }
            "const" if value != rule => {
                found.push(format!("{at}: expected {rule}, found {value}"));
            }
            "enum" if !rule.as_array().unwrap().contains(value) => {
                found.push(format!("{at}: {value} is not one of {rule}"));
            }
            "minimum" => {
                if let Some(number) = value.as_f64()
                    && number < rule.as_f64().unwrap()
                {
                    found.push(format!("{at}: {number} is below {rule}"));
                }
            }
            "required" => {
                if let Some(object) = value.as_object() {
                    for key in rule.as_array().unwrap() {
                        let key = key.as_str().unwrap();
                        if !object.contains_key(key) {
                            found.push(format!("{at}: missing `{key}`"));
                        }
                    }
                }
            }
            "properties" => {
                if let Some(object) = value.as_object() {
                    for (key, property) in rule.as_object().unwrap() {
                        if let Some(member) = object.get(key) {
                            check(root, property, member, &format!("{at}/{key}"), found);
                        }
                    }
                }
            }
            "additionalProperties" => {
                assert_eq!(rule, &Value::Bool(false), "only `false` is supported");
                let known = schema["properties"].as_object().unwrap();
                if let Some(object) = value.as_object() {
                    for key in object.keys().filter(|key| !known.contains_key(*key)) {
                        found.push(format!("{at}: unexpected `{key}`"));
                    }
                }
            }
            "items" => {
                if let Some(array) = value.as_array() {
                    for (index, item) in array.iter().enumerate() {
                        check(root, rule, item, &format!("{at}/{index}"), found);
                    }
                }
            }
            "const" | "enum" => {}
            other if ANNOTATIONS.contains(&other) => {}
            other => panic!("schema keyword `{other}` is not checked by this test"),
        }
    }
}

fn has_type(value: &Value, ty: &str) -> bool {
    match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_u64() || value.is_i64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        other => panic!("unknown type `{other}`"),
    }
}
