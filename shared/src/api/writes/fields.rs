//! Reading fields out of a JSON body by hand, so that one pass reports every problem at once
//! (serde stops at the first). JSON `null` counts as absent and unknown keys are ignored.

use std::ops::RangeInclusive;

use serde_json::{Map, Value};

use crate::api::{
    error::{ApiError, ApiResult, FieldError, keys},
    extract::parse_bool,
};

/// A JSON object body.
pub(in crate::api) type Body = Map<String, Value>;

/// The body as an object; anything else is a 422 on `body`.
pub(in crate::api) fn object(body: &Value) -> ApiResult<&Body> {
    body.as_object().ok_or_else(|| ApiError::invalid("body", keys::INVALID_TYPE, "the body must be a JSON object"))
}

/// The problems found so far, reported together as one 422.
#[derive(Debug, Default)]
pub(in crate::api) struct Errors(Vec<FieldError>);

impl Errors {
    pub(in crate::api) fn add(&mut self, field: impl Into<String>, key: &'static str, description: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), key, description: description.into() });
    }

    pub(in crate::api) fn required(&mut self, field: impl Into<String>) {
        self.add(field, keys::REQUIRED, "required");
    }

    /// How many problems were found so far.
    pub(in crate::api) fn len(&self) -> usize {
        self.0.len()
    }

    /// Takes the problems `inner` found in a nested object, their fields under `prefix`
    /// (`reminders[0].minutes` becomes `event.reminders[0].minutes`).
    pub(in crate::api) fn nest(&mut self, prefix: &str, inner: Errors) {
        for mut error in inner.0 {
            error.field = format!("{prefix}.{}", error.field);
            self.0.push(error);
        }
    }

    /// `Ok` when nothing was found, else the 422.
    pub(in crate::api) fn finish(self) -> ApiResult<()> {
        if self.0.is_empty() { Ok(()) } else { Err(ApiError::Invalid(self.0)) }
    }
}

/// `obj[key]`, with `null` as absent.
pub(in crate::api) fn get<'a>(obj: &'a Body, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// A string of at most `max` characters.
pub(in crate::api) fn string(value: &Value, field: &str, max: usize, errors: &mut Errors) -> Option<String> {
    let Some(text) = value.as_str() else {
        errors.add(field, keys::INVALID_TYPE, "must be a string");
        return None;
    };
    if text.chars().count() > max {
        errors.add(field, keys::TOO_LONG, format!("must be at most {max} characters"));
        return None;
    }
    Some(text.to_owned())
}

/// A required, non-empty string of at most `max` characters.
pub(in crate::api) fn required_string(obj: &Body, field: &str, max: usize, errors: &mut Errors) -> Option<String> {
    match get(obj, field) {
        None => {
            errors.required(field);
            None
        }
        Some(value) => match string(value, field, max, errors) {
            Some(text) if text.trim().is_empty() => {
                errors.required(field);
                None
            }
            other => other,
        },
    }
}

/// A boolean; `"true"`/`"false"` strings are accepted as well.
pub(in crate::api) fn boolean(value: &Value, field: &str, errors: &mut Errors) -> Option<bool> {
    let parsed = match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => parse_bool(s),
        _ => None,
    };
    if parsed.is_none() {
        errors.add(field, keys::INVALID_TYPE, "must be true or false");
    }
    parsed
}

/// An integer within `range`.
pub(in crate::api) fn integer(
    value: &Value,
    field: &str,
    range: RangeInclusive<i64>,
    errors: &mut Errors,
) -> Option<i64> {
    let Some(n) = value.as_i64() else {
        errors.add(field, keys::INVALID_TYPE, "must be an integer");
        return None;
    };
    if !range.contains(&n) {
        errors.add(field, keys::OUT_OF_RANGE, format!("must be between {} and {}", range.start(), range.end()));
        return None;
    }
    Some(n)
}

/// An array of at most `max` items.
pub(in crate::api) fn array<'a>(
    value: &'a Value,
    field: &str,
    max: usize,
    errors: &mut Errors,
) -> Option<&'a Vec<Value>> {
    let Some(items) = value.as_array() else {
        errors.add(field, keys::INVALID_TYPE, "must be an array");
        return None;
    };
    if items.len() > max {
        errors.add(field, keys::TOO_LONG, format!("must have at most {max} items"));
        return None;
    }
    Some(items)
}

/// A JSON object.
pub(in crate::api) fn nested<'a>(value: &'a Value, field: &str, errors: &mut Errors) -> Option<&'a Body> {
    let object = value.as_object();
    if object.is_none() {
        errors.add(field, keys::INVALID_TYPE, "must be an object");
    }
    object
}
