//! The alpha `recurrence` field of an upsert (cronofy-api.md §5.3), kept as one iCalendar RRULE:
//! `{"rules":[{"frequency":"weekly","interval":2,"by_day":["monday"]}]}` becomes
//! `FREQ=WEEKLY;INTERVAL=2;BYDAY=MO`. An empty `rules` array removes the recurrence.
//!
//! The written form is canonical (an interval of 1 is left out, days are de-duplicated in the
//! order given), so the same rule sent twice is the same content and no change.

use serde_json::Value;

use super::fields::{self, Errors};
use crate::api::error::keys;

const DAYS: [(&str, &str); 7] = [
    ("monday", "MO"),
    ("tuesday", "TU"),
    ("wednesday", "WE"),
    ("thursday", "TH"),
    ("friday", "FR"),
    ("saturday", "SA"),
    ("sunday", "SU"),
];

/// `Some(rule)` to set, `None` to remove; reports problems under `recurrence…`.
pub(super) fn parse(value: &Value, errors: &mut Errors) -> Option<Option<String>> {
    let object = fields::nested(value, "recurrence", errors)?;
    let Some(rules) = fields::get(object, "rules") else {
        errors.required("recurrence.rules");
        return None;
    };
    // One RRULE per event: calsync stores a single rule, as Cronofy uses in practice.
    let rules = fields::array(rules, "recurrence.rules", 1, errors)?;
    match rules.first() {
        None => Some(None),
        Some(rule) => rule_text(rule, "recurrence.rules[0]", errors).map(Some),
    }
}

fn rule_text(value: &Value, field: &str, errors: &mut Errors) -> Option<String> {
    let rule = fields::nested(value, field, errors)?;
    let found_before = errors.len();
    let frequency_field = format!("{field}.frequency");
    let frequency = match fields::get(rule, "frequency").map(Value::as_str) {
        None => {
            errors.required(&frequency_field);
            None
        }
        Some(Some(f @ ("daily" | "weekly" | "monthly" | "yearly"))) => Some(f),
        Some(_) => {
            errors.add(&frequency_field, keys::INVALID, "must be daily, weekly, monthly or yearly");
            None
        }
    };
    let interval =
        fields::get(rule, "interval").and_then(|v| fields::integer(v, &format!("{field}.interval"), 1..=999, errors));
    let by_day_field = format!("{field}.by_day");
    let mut days: Vec<&str> = Vec::new();
    if let Some(items) = fields::get(rule, "by_day").and_then(|v| fields::array(v, &by_day_field, 7, errors)) {
        if frequency.is_some_and(|f| f != "weekly") {
            errors.add(&by_day_field, keys::INVALID, "is only allowed with a weekly frequency");
        }
        for (i, item) in items.iter().enumerate() {
            match DAYS.iter().find(|(name, _)| item.as_str() == Some(*name)) {
                Some((_, code)) if !days.contains(code) => days.push(code),
                Some(_) => {}
                None => errors.add(format!("{by_day_field}[{i}]"), keys::INVALID, "must be a day name, e.g. monday"),
            }
        }
    }
    let frequency = frequency.filter(|_| errors.len() == found_before)?;
    let mut text = format!("FREQ={}", frequency.to_ascii_uppercase());
    if let Some(n) = interval.filter(|n| *n != 1) {
        text.push_str(&format!(";INTERVAL={n}"));
    }
    if !days.is_empty() {
        text.push_str(&format!(";BYDAY={}", days.join(",")));
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rule(value: Value) -> Result<Option<String>, Vec<String>> {
        let mut errors = Errors::default();
        let parsed = parse(&value, &mut errors);
        match errors.finish() {
            Ok(()) => parsed.ok_or_else(Vec::new),
            Err(crate::api::error::ApiError::Invalid(f)) => Err(f.into_iter().map(|e| e.field).collect()),
            Err(_) => Err(vec![]),
        }
    }

    #[test]
    fn rules_become_one_canonical_rrule() {
        assert_eq!(
            rule(json!({"rules": [{"frequency": "weekly", "interval": 2, "by_day": ["monday", "friday", "monday"]}]})),
            Ok(Some("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR".to_owned()))
        );
        assert_eq!(rule(json!({"rules": [{"frequency": "daily", "interval": 1}]})), Ok(Some("FREQ=DAILY".to_owned())));
        assert_eq!(rule(json!({"rules": []})), Ok(None));
    }

    #[test]
    fn bad_rules_name_the_field() {
        assert_eq!(
            rule(json!({"rules": [{"frequency": "daily", "by_day": ["monday"]}]})),
            Err(vec!["recurrence.rules[0].by_day".to_owned()])
        );
        assert_eq!(
            rule(json!({"rules": [{"frequency": "hourly"}]})),
            Err(vec!["recurrence.rules[0].frequency".to_owned()])
        );
        assert_eq!(
            rule(json!({"rules": [{"frequency": "weekly", "by_day": ["someday"]}]})),
            Err(vec!["recurrence.rules[0].by_day[0]".to_owned()])
        );
        assert_eq!(rule(json!({"rules": [{}, {}]})), Err(vec!["recurrence.rules".to_owned()]));
        assert_eq!(rule(json!({})), Err(vec!["recurrence.rules".to_owned()]));
    }
}
