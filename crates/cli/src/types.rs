//! Message types known at run time: resolving names, JSON to `Any` and back.

use prost::Message;
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, MessageDescriptor, ReflectMessage,
    SerializeOptions,
};
use prost_types::Any;

use crate::Error;

/// Packages of the framework and of gRPC itself, never a domain's commands.
fn is_infrastructure(package: &str) -> bool {
    package == "angzarr" || package.starts_with("google.") || package.starts_with("grpc.")
}

/// The message types one domain's business logic describes.
#[derive(Debug, Clone)]
pub struct Catalog {
    domain: String,
    pool: DescriptorPool,
    declared: Vec<String>,
}

impl Catalog {
    /// A catalog for `domain` over `pool`; `declared` are the command names the component's
    /// descriptor lists (they become the suggestions when a name is unknown).
    pub fn new(domain: impl Into<String>, pool: DescriptorPool, declared: Vec<String>) -> Self {
        Self {
            domain: domain.into(),
            pool,
            declared,
        }
    }

    /// The pool.
    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    /// The message called `name`: a full name, or a short name that only one domain package
    /// defines.
    pub fn resolve(&self, name: &str) -> Result<MessageDescriptor, Error> {
        if let Some(message) = self.pool.get_message_by_name(name.trim_start_matches('.')) {
            return Ok(message);
        }
        if !name.contains('.') {
            let mut matches: Vec<MessageDescriptor> = self
                .pool
                .all_messages()
                .filter(|m| m.name() == name && !is_infrastructure(m.package_name()))
                .collect();
            match matches.len() {
                0 => {}
                1 => return Ok(matches.remove(0)),
                _ => {
                    return Err(Error::AmbiguousType {
                        name: name.to_string(),
                        matches: matches.iter().map(|m| m.full_name().to_string()).collect(),
                    });
                }
            }
        }
        Err(Error::UnknownType {
            name: name.to_string(),
            domain: self.domain.clone(),
            candidates: self.candidates(),
        })
    }

    /// What to suggest: the declared commands, else every domain message.
    fn candidates(&self) -> Vec<String> {
        if !self.declared.is_empty() {
            return self.declared.clone();
        }
        let mut names: Vec<String> = self
            .pool
            .all_messages()
            .filter(|m| !is_infrastructure(m.package_name()))
            .map(|m| m.full_name().to_string())
            .collect();
        names.sort();
        names
    }

    /// The message in `any`, decoded; `None` when its type is not in the pool.
    pub fn decode_any(&self, any: &Any) -> Option<Result<DynamicMessage, String>> {
        let name = any.type_url.rsplit('/').next().unwrap_or(&any.type_url);
        let descriptor = self.pool.get_message_by_name(name)?;
        Some(
            DynamicMessage::decode(descriptor, any.value.as_slice())
                .map_err(|err| format!("cannot decode {name}: {err}")),
        )
    }

    /// [`Catalog::decode_any`] as JSON (see [`to_json_value`]).
    pub fn any_to_json(&self, any: &Any) -> Option<Result<serde_json::Value, String>> {
        self.decode_any(any)
            .map(|decoded| decoded.and_then(|message| to_json_value(&message)))
    }
}

/// How messages are shown: proto field names, defaults included, 64-bit integers as numbers.
const SHOW: SerializeOptions = SerializeOptions::new()
    .use_proto_field_name(true)
    .skip_default_fields(false)
    .stringify_64_bit_integers(false);

/// `message` as a JSON value.
pub fn to_json_value(message: &DynamicMessage) -> Result<serde_json::Value, String> {
    message
        .serialize_with_options(serde_json::value::Serializer, &SHOW)
        .map_err(|err| {
            format!(
                "cannot render {} as JSON: {err}",
                message.descriptor().full_name()
            )
        })
}

/// `message` as compact JSON text, fields in declaration order.
pub fn to_json_text(message: &DynamicMessage) -> Result<String, String> {
    let mut out = Vec::new();
    message
        .serialize_with_options(&mut serde_json::Serializer::new(&mut out), &SHOW)
        .map_err(|err| {
            format!(
                "cannot render {} as JSON: {err}",
                message.descriptor().full_name()
            )
        })?;
    String::from_utf8(out).map_err(|err| err.to_string())
}

/// Builds a message of type `descriptor` from protobuf JSON and packs it into an `Any`
/// (`type.googleapis.com/<full name>`). Unknown fields are errors.
pub fn json_to_any(descriptor: &MessageDescriptor, json: &str) -> Result<Any, Error> {
    let bad = |reason: String| Error::BadJson {
        type_name: descriptor.full_name().to_string(),
        reason,
        fields: descriptor
            .fields()
            .map(|f| format!("{} ({})", f.name(), kind_name(&f)))
            .collect(),
    };
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let options = DeserializeOptions::new().deny_unknown_fields(true);
    let message =
        DynamicMessage::deserialize_with_options(descriptor.clone(), &mut deserializer, &options)
            .map_err(|err| bad(err.to_string()))?;
    deserializer.end().map_err(|err| bad(err.to_string()))?;
    Ok(Any {
        type_url: format!("type.googleapis.com/{}", descriptor.full_name()),
        value: message.encode_to_vec(),
    })
}

fn kind_name(field: &prost_reflect::FieldDescriptor) -> String {
    let kind = match field.kind() {
        prost_reflect::Kind::Message(m) => m.full_name().to_string(),
        prost_reflect::Kind::Enum(e) => e.full_name().to_string(),
        scalar => format!("{scalar:?}").to_lowercase(),
    };
    match (field.is_map(), field.is_list()) {
        (true, _) => "map".to_string(),
        (false, true) => format!("repeated {kind}"),
        (false, false) => kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn catalog(declared: &[&str]) -> Catalog {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let set = protox::compile(["shop.proto", "other.proto"], [fixtures]).expect("fixtures");
        let pool = DescriptorPool::from_file_descriptor_set(set).expect("pool");
        Catalog::new(
            "shop",
            pool,
            declared.iter().map(|s| s.to_string()).collect(),
        )
    }

    /// Resolves `name` and builds it from `json`: the full type name and the message as
    /// canonical JSON, or the error text.
    fn check(name: &str, json: &str) -> Result<(String, serde_json::Value), String> {
        let catalog = catalog(&["CreateThing"]);
        let descriptor = catalog.resolve(name).map_err(|e| e.to_string())?;
        let any = json_to_any(&descriptor, json).map_err(|e| e.to_string())?;
        let back = catalog
            .any_to_json(&any)
            .expect("known type")
            .expect("decodes");
        Ok((any.type_url, back))
    }

    #[test]
    fn json_becomes_an_any_of_the_resolved_type() {
        let thing = json!({"name": "x", "count": 3, "tags": ["a"]});
        let created = json!({"name": "", "count": 0, "created_at": "2024-01-02T03:04:05Z"});
        // (type name, JSON in, full name packed, the message read back)
        #[rustfmt::skip]
        let cases = [
            ("test.shop.CreateThing", r#"{"name": "x", "count": 3, "tags": ["a"]}"#, "test.shop.CreateThing", thing.clone()),
            (".test.shop.CreateThing", r#"{"name": "x", "count": "3", "tags": ["a"]}"#, "test.shop.CreateThing", thing),
            ("ThingCreated", r#"{"createdAt": "2024-01-02T03:04:05Z"}"#, "test.shop.ThingCreated", created),
            ("test.other.CreateThing", r#"{"title": "t"}"#, "test.other.CreateThing", json!({"title": "t"})),
        ];
        for (name, input, full_name, expected) in cases {
            let (type_url, back) = check(name, input).expect(name);
            assert_eq!(
                type_url,
                format!("type.googleapis.com/{full_name}"),
                "{name}"
            );
            assert_eq!(back, expected, "{name}");
        }
    }

    #[test]
    fn bad_names_and_bad_json_say_what_to_do() {
        #[rustfmt::skip]
        let cases = [
            ("CreateThing", "{}", "ambiguous; pass the full name: test.shop.CreateThing, test.other.CreateThing"),
            ("Nope", "{}", "unknown command type \"Nope\" for domain shop; known: CreateThing."),
            ("test.shop.Nope", "{}", "known: CreateThing"),
            ("CommandBook", "{}", "unknown command type \"CommandBook\""),
            ("test.shop.CreateThing", r#"{"nmae": "x"}"#, "unrecognized field name 'nmae'"),
            ("test.shop.CreateThing", r#"{"count": "many"}"#, "its fields are: name (string), count (int64), tags (repeated string)"),
            ("test.shop.CreateThing", r#"{} {}"#, "trailing characters"),
            ("test.shop.CreateThing", "", "invalid JSON for test.shop.CreateThing"),
        ];
        for (name, json, words) in cases {
            let err = check(name, json).expect_err(name);
            assert!(err.contains(words), "{name} {json}: {err}");
        }
        let err = catalog(&[])
            .resolve("Nope")
            .expect_err("unknown")
            .to_string();
        assert!(
            err.contains(
                "known: test.other.CreateThing, test.shop.CreateThing, test.shop.ThingCreated"
            ),
            "{err}"
        );
    }

    #[test]
    fn unknown_or_broken_events_are_reported_not_fatal() {
        let catalog = catalog(&[]);
        let unknown = Any {
            type_url: "type.googleapis.com/x.Y".into(),
            value: vec![],
        };
        assert!(catalog.any_to_json(&unknown).is_none());
        let broken = Any {
            type_url: "type.googleapis.com/test.shop.ThingCreated".into(),
            value: vec![0xff],
        };
        let err = catalog
            .any_to_json(&broken)
            .expect("known")
            .expect_err("broken");
        assert!(
            err.contains("cannot decode test.shop.ThingCreated"),
            "{err}"
        );
    }
}
