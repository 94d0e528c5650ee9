//! How outcomes are shown: one JSON object on stdout for machines, or a
//! message on stderr for people.

use detvm_metering::{InstrumentError, MeteringError, ValidationError};
use serde_json::{Value, json};

use crate::input::InputError;

/// The JSON `error` object for a rejected module.
pub fn validation_error_json(error: &ValidationError) -> Value {
    let mut object = json!({
        "kind": error.kind(),
        "offset": error.offset(),
        "message": error.to_string(),
    });
    match error {
        ValidationError::UnsupportedFeature { feature, .. } => {
            object["feature"] = json!(feature.name());
        }
        ValidationError::LimitExceeded {
            limit, value, max, ..
        } => {
            object["limit"] = json!(limit.name());
            object["value"] = json!(value);
            object["max"] = json!(max);
        }
        ValidationError::ImportNotAllowed { module, name, .. } => {
            object["module"] = json!(module);
            object["name"] = json!(name);
        }
        _ => {}
    }
    object
}

/// The JSON `error` object for a failed instrumentation.
pub fn instrument_error_json(error: &InstrumentError) -> Value {
    json!({ "kind": error.kind(), "message": error.to_string() })
}

/// The JSON `error` object for either stage.
pub fn metering_error_json(error: &MeteringError) -> Value {
    match error {
        MeteringError::Validation(e) => validation_error_json(e),
        MeteringError::Instrument(e) => instrument_error_json(e),
        other => json!({ "kind": other.kind(), "message": other.to_string() }),
    }
}

/// The JSON `error` object for text that does not parse: the module is
/// malformed, so it is reported like a binary decoding error.
pub fn text_error_json(error: &InputError) -> Value {
    match error {
        InputError::Text { offset, .. } => json!({
            "kind": "malformed",
            "offset": offset,
            "message": error.to_string(),
        }),
        InputError::Read { .. } => json!({ "kind": "io", "message": error.to_string() }),
    }
}

/// Prints one JSON object on stdout.
pub fn print_json(value: &Value) {
    println!("{value}");
}
