//! Matching an expected message, written as JSON, against an actual one (README "Matching").
//!
//! Only the fields the JSON lists are compared; nested messages recursively; a listed repeated
//! field must have the same length and match element by element; a listed map must have the
//! same keys and matching values; a field listed with its default value must be unset or
//! default. Well-known types (`google.protobuf.*`) are compared whole.

use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage as _, Value,
};
use serde_json::Value as Json;

use crate::values::{self, message_from_json, to_json};

/// An expected message: the fields as written (which ones are listed) and the message they
/// parse to (the values, checked against the type).
#[derive(Debug, Clone)]
pub struct Expected {
    /// The JSON as written, after placeholder substitution.
    pub json: Json,
    /// The JSON parsed as the expected type.
    pub message: DynamicMessage,
}

impl Expected {
    /// Parses `json` as a `desc`; it must be a JSON object.
    pub fn parse(desc: &MessageDescriptor, json: &str) -> Result<Self, String> {
        let json = values::parse_json(json)?;
        if !json.is_object() {
            return Err(format!(
                "expected {} as a JSON object, got {json}",
                desc.name()
            ));
        }
        let message = message_from_json(desc, &json)?;
        Ok(Self { json, message })
    }

    /// The expected message `name` of `domain`.
    pub fn parse_named(domain: &str, name: &str, json: &str) -> Result<Self, String> {
        Self::parse(&values::message_type(domain, name)?, json)
    }

    /// `Name {json as written}`.
    pub fn describe(&self) -> String {
        format!("{} {}", self.message.descriptor().name(), self.json)
    }

    /// Whether `actual` matches: `Err` names the first field that differs, its expected and
    /// actual values, and both messages in full.
    pub fn check(&self, actual: &DynamicMessage) -> Result<(), String> {
        let want = self.message.descriptor();
        let got = actual.descriptor();
        if want.full_name() != got.full_name() {
            return Err(format!(
                "expected {}, got {}",
                self.describe(),
                values::describe(actual)
            ));
        }
        match_message(&self.json, &self.message, actual, "").map_err(|mismatch| {
            format!(
                "{mismatch}\n  expected: {}\n  actual:   {}",
                self.describe(),
                values::describe(actual)
            )
        })
    }
}

/// Matches the fields `json` lists.
fn match_message(
    json: &Json,
    expected: &DynamicMessage,
    actual: &DynamicMessage,
    path: &str,
) -> Result<(), String> {
    let Json::Object(listed) = json else {
        return Ok(());
    };
    let desc = expected.descriptor();
    for (name, json) in listed {
        let field = desc
            .get_field_by_name(name)
            .or_else(|| desc.get_field_by_json_name(name))
            .ok_or_else(|| format!("{path}{name}: no such field in {}", desc.name()))?;
        let path = format!("{path}{}", field.name());
        match_field(
            &field,
            json,
            &expected.get_field(&field),
            &actual.get_field(&field),
            &path,
        )?;
    }
    Ok(())
}

fn match_field(
    field: &FieldDescriptor,
    json: &Json,
    expected: &Value,
    actual: &Value,
    path: &str,
) -> Result<(), String> {
    let differs = || Err(mismatch(path, expected, actual));
    if field.is_map() {
        let (Value::Map(want), Value::Map(got)) = (expected, actual) else {
            return differs();
        };
        let mut want_keys: Vec<&MapKey> = want.keys().collect();
        let mut got_keys: Vec<&MapKey> = got.keys().collect();
        want_keys.sort_unstable();
        got_keys.sort_unstable();
        if want_keys != got_keys {
            return differs();
        }
        let Kind::Message(entry) = field.kind() else {
            return differs();
        };
        let value_field = entry.map_entry_value_field();
        for (key, want) in want {
            let key_text = map_key_text(key);
            let json = json.get(&key_text).unwrap_or(&Json::Null);
            let got = got.get(key).unwrap_or(want);
            match_element(
                &value_field,
                json,
                want,
                got,
                &format!("{path}[{key_text:?}]"),
            )?;
        }
        Ok(())
    } else if field.is_list() {
        let (Value::List(want), Value::List(got)) = (expected, actual) else {
            return differs();
        };
        if want.len() != got.len() {
            return differs();
        }
        let empty = Vec::new();
        let jsons = json.as_array().unwrap_or(&empty);
        for (index, (want, got)) in want.iter().zip(got).enumerate() {
            let json = jsons.get(index).unwrap_or(&Json::Null);
            match_element(field, json, want, got, &format!("{path}[{index}]"))?;
        }
        Ok(())
    } else {
        match_element(field, json, expected, actual, path)
    }
}

/// One singular value (a field, a list element or a map value).
fn match_element(
    field: &FieldDescriptor,
    json: &Json,
    expected: &Value,
    actual: &Value,
    path: &str,
) -> Result<(), String> {
    if let (Kind::Message(desc), Json::Object(_), Value::Message(want), Value::Message(got)) =
        (field.kind(), json, expected, actual)
        && !desc.full_name().starts_with("google.protobuf.")
    {
        return match_message(json, want, got, &format!("{path}."));
    }
    if expected == actual {
        Ok(())
    } else {
        Err(mismatch(path, expected, actual))
    }
}

fn mismatch(path: &str, expected: &Value, actual: &Value) -> String {
    format!(
        "{path}: expected {}, actual {}",
        value_json(expected),
        value_json(actual)
    )
}

fn map_key_text(key: &MapKey) -> String {
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
        MapKey::String(s) => s.clone(),
    }
}

/// A reflected value as JSON, for messages.
fn value_json(value: &Value) -> Json {
    match value {
        Value::Bool(b) => Json::from(*b),
        Value::I32(n) | Value::EnumNumber(n) => Json::from(*n),
        Value::I64(n) => Json::from(*n),
        Value::U32(n) => Json::from(*n),
        Value::U64(n) => Json::from(*n),
        Value::F32(n) => Json::from(*n),
        Value::F64(n) => Json::from(*n),
        Value::String(s) => Json::from(s.as_str()),
        Value::Bytes(b) => Json::from(format!("{b:?}")),
        Value::Message(m) => to_json(m),
        Value::List(items) => Json::Array(items.iter().map(value_json).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| (map_key_text(k), value_json(v)))
                .collect(),
        ),
    }
}

/// The `*_at` timestamp fields of `message` that are not set (the README requires every
/// emitted event to set them).
pub fn unset_timestamps(message: &DynamicMessage) -> Vec<String> {
    message
        .descriptor()
        .fields()
        .filter(|field| {
            field.name().ends_with("_at")
                && matches!(field.kind(), Kind::Message(m) if m.full_name() == "google.protobuf.Timestamp")
                && !message.has_field(field)
        })
        .map(|field| field.name().to_string())
        .collect()
}

/// Checks that `message` (an emitted event) sets all its `*_at` timestamps.
pub fn check_timestamps(message: &DynamicMessage) -> Result<(), String> {
    let unset = unset_timestamps(message);
    if unset.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} leaves {} unset: {}",
            message.descriptor().name(),
            unset.join(", "),
            values::describe(message)
        ))
    }
}

/// Matches a list of actual messages against expected ones, exactly and in order; `what`
/// names them in the error ("events", "commands"), which lists both sides in full.
pub fn check_list(
    what: &str,
    expected: &[(String, Expected)],
    actual: &[(String, DynamicMessage)],
) -> Result<(), String> {
    if expected.len() == actual.len() {
        let mismatch = expected.iter().zip(actual).enumerate().find_map(
            |(index, ((want_at, want), (got_at, got)))| {
                let place = if want_at == got_at {
                    Ok(())
                } else {
                    Err(format!(
                        "expected {} at {}, got {} at {}",
                        want.describe(),
                        want_at.trim(),
                        values::describe(got),
                        got_at.trim()
                    ))
                };
                let problem = place.and_then(|()| want.check(got)).err()?;
                Some(format!("{what} #{}: {problem}", index + 1))
            },
        );
        match mismatch {
            None => Ok(()),
            // One item: its error already shows both sides in full.
            Some(problem) if expected.len() == 1 => Err(problem),
            Some(problem) => Err(both_lists(problem, what, expected, actual)),
        }
    } else {
        let problem = format!("expected {} {what}, got {}", expected.len(), actual.len());
        Err(both_lists(problem, what, expected, actual))
    }
}

fn both_lists(
    problem: String,
    what: &str,
    expected: &[(String, Expected)],
    actual: &[(String, DynamicMessage)],
) -> String {
    let mut text = format!("{problem}\nexpected {what}:");
    for (at, want) in expected {
        text.push_str(&format!("\n  {at}{}", want.describe()));
    }
    text.push_str(&format!("\nactual {what}:"));
    if actual.is_empty() {
        text.push_str(" none");
    }
    for (at, got) in actual {
        text.push_str(&format!("\n  {at}{}", values::describe(got)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::parse_message;

    fn expected(name: &str, json: &str) -> Expected {
        Expected::parse_named("customer", name, json).expect("expected")
    }

    fn actual(name: &str, json: &str) -> DynamicMessage {
        parse_message("customer", name, json).expect("actual")
    }

    #[test]
    fn listed_fields_only() {
        let got = actual(
            "LoyaltyPointsAdded",
            r#"{"points": 30, "new_balance": 80, "new_lifetime_points": 80, "reason": "x", "added_at": "2024-01-01T00:00:00Z"}"#,
        );
        let ok = |json| expected("LoyaltyPointsAdded", json).check(&got);
        assert_eq!(ok(r#"{"new_balance": 80}"#), Ok(()));
        assert_eq!(ok("{}"), Ok(()));
        assert_eq!(ok(r#"{"newBalance": 80, "points": 30}"#), Ok(()));
        let err = ok(r#"{"points": 30, "new_balance": 81}"#).expect_err("mismatch");
        assert!(
            err.starts_with("new_balance: expected 81, actual 80\n"),
            "{err}"
        );
        assert!(
            err.contains(r#"expected: LoyaltyPointsAdded {"new_balance":81,"points":30}"#),
            "{err}"
        );
        assert!(err.contains(r#"actual:   LoyaltyPointsAdded {"#), "{err}");
        assert!(err.contains(r#""new_lifetime_points":80"#), "{err}");
    }

    #[test]
    fn listed_defaults_must_be_default() {
        let got = actual("LoyaltyPointsAdded", r#"{"points": 5, "reason": ""}"#);
        let check = |json| expected("LoyaltyPointsAdded", json).check(&got);
        assert_eq!(
            check(r#"{"reason": "", "new_balance": 0, "added_at": null}"#),
            Ok(())
        );
        let err = check(r#"{"points": 0}"#).expect_err("points is set");
        assert!(err.starts_with("points: expected 0, actual 5"), "{err}");
        let with_reason = actual("LoyaltyPointsAdded", r#"{"reason": "welcome"}"#);
        let err = expected("LoyaltyPointsAdded", r#"{"reason": ""}"#)
            .check(&with_reason)
            .expect_err("reason is set");
        assert!(
            err.starts_with(r#"reason: expected "", actual "welcome""#),
            "{err}"
        );
    }

    #[test]
    fn other_type_never_matches() {
        let got = actual("LoyaltyPointsRedeemed", r#"{"points": 5}"#);
        let err = expected("LoyaltyPointsAdded", "{}")
            .check(&got)
            .expect_err("type");
        assert!(
            err.contains("expected LoyaltyPointsAdded {}, got LoyaltyPointsRedeemed"),
            "{err}"
        );
    }

    #[test]
    fn nested_repeated_and_maps() {
        // google.protobuf.Struct is a well-known type (compared whole); the Angzarr EventBook
        // has nested messages and repeated fields, the runtime's ComponentDescriptor too.
        let desc = crate::values::pool()
            .expect("pool")
            .get_message_by_name("angzarr.ComponentDescriptor")
            .expect("ComponentDescriptor");
        let got = crate::values::message_from_json(
            &desc,
            &serde_json::json!({"name": "cart", "inputs": [
                {"domain": "cart", "types": ["AddItem", "RemoveItem"]},
                {"domain": "order", "types": []}
            ]}),
        )
        .expect("descriptor");
        let check = |json: &str| Expected::parse(&desc, json).expect("expected").check(&got);
        assert_eq!(check(r#"{"inputs": [{"domain": "cart"}, {}]}"#), Ok(()));
        assert_eq!(
            check(r#"{"inputs": [{"types": ["AddItem", "RemoveItem"]}, {"types": []}]}"#),
            Ok(())
        );
        let err = check(r#"{"inputs": [{"domain": "cart"}]}"#).expect_err("length");
        assert!(err.starts_with("inputs: expected [{"), "{err}");
        let err = check(r#"{"inputs": [{}, {"domain": "orders"}]}"#).expect_err("nested");
        assert!(
            err.starts_with(r#"inputs[1].domain: expected "orders", actual "order""#),
            "{err}"
        );
        let err = check(r#"{"outputs": [{}]}"#).expect_err("unset repeated");
        assert!(err.starts_with("outputs: expected [{"), "{err}");
    }

    #[test]
    fn timestamps_of_emitted_events() {
        let stamped = actual(
            "CustomerCreated",
            r#"{"created_at": "2024-01-01T00:00:00Z"}"#,
        );
        assert_eq!(check_timestamps(&stamped), Ok(()));
        let bare = actual("CustomerCreated", r#"{"name": "Alice"}"#);
        let err = check_timestamps(&bare).expect_err("unset");
        assert!(
            err.starts_with("CustomerCreated leaves created_at unset"),
            "{err}"
        );
    }

    #[test]
    fn lists_show_both_sides() {
        let want = vec![(
            String::new(),
            expected("CustomerCreated", r#"{"name": "Alice"}"#),
        )];
        let got = vec![(
            String::new(),
            actual("CustomerCreated", r#"{"name": "Alice"}"#),
        )];
        assert_eq!(check_list("events", &want, &got), Ok(()));
        let err = check_list("events", &want, &[]).expect_err("none");
        assert!(
            err.starts_with("expected 1 events, got 0\nexpected events:\n  CustomerCreated"),
            "{err}"
        );
        assert!(err.ends_with("actual events: none"), "{err}");
        let other = vec![(
            String::new(),
            actual("CustomerCreated", r#"{"name": "Bob"}"#),
        )];
        let err = check_list("events", &want, &other).expect_err("differs");
        assert!(
            err.starts_with(r#"events #1: name: expected "Alice", actual "Bob""#),
            "{err}"
        );
        assert!(
            !err.contains("expected events:"),
            "one item needs no lists: {err}"
        );
        let two = |name: &str| {
            vec![
                want[0].clone(),
                (
                    String::new(),
                    expected("CustomerCreated", &format!(r#"{{"name": "{name}"}}"#)),
                ),
            ]
        };
        let got_two = vec![got[0].clone(), other[0].clone()];
        assert_eq!(check_list("events", &two("Bob"), &got_two), Ok(()));
        let err = check_list("events", &two("Carol"), &got_two).expect_err("second differs");
        assert!(
            err.starts_with(r#"events #2: name: expected "Carol", actual "Bob""#),
            "{err}"
        );
        assert!(
            err.contains("\nexpected events:\n  CustomerCreated"),
            "{err}"
        );
        let elsewhere = vec![("cart $K ".to_string(), want[0].1.clone())];
        let err = check_list("commands", &elsewhere, &got).expect_err("place");
        assert!(
            err.starts_with("commands #1: expected CustomerCreated"),
            "{err}"
        );
    }
}
