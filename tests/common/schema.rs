//! The shipped JSON Schemas (`schemas/*.json`, draft 2020-12), checked by the `jsonschema` crate:
//! every keyword asserted, `pattern` and `format` (`date-time`) included, and a `format` it does not
//! know is an error rather than a pass.

use serde_json::Value;

/// Every file of `schemas/`, with the test that validates real artifacts against it.
pub(crate) const SHIPPED: [&str; 7] = [
    "ci_performance_report.schema.json", // gate_artifacts
    "compare_report.schema.json",        // gate_artifacts
    "latency_histograms.schema.json",    // json_artifacts
    "performance_baseline.schema.json",  // gate_artifacts
    "phase_metrics.schema.json",         // json_artifacts
    "resource_usage.schema.json",        // json_artifacts
    "stream_record.schema.json",         // json_artifacts, stream_sinks
];

/// The validator of `schema`; the schema itself is checked against its meta-schema first.
pub(crate) fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .should_ignore_unknown_formats(false)
        .build(schema)
        .unwrap_or_else(|error| panic!("not a valid schema: {error}"))
}

/// Every violation of `schema` by `value`, each as `pointer: message`.
pub(crate) fn violations(schema: &Value, value: &Value) -> Vec<String> {
    validator(schema)
        .iter_errors(value)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}
