//! Values written in feature text: placeholders, roots, and messages as protobuf JSON.
//!
//! Every message type of the shop and of Angzarr is known through one [`DescriptorPool`], so a
//! step can name a message by its short name (`AddItem`) and give its fields as JSON with the
//! proto field names; the pool turns that into a [`DynamicMessage`] and back.

use std::collections::HashMap;
use std::sync::OnceLock;

use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DynamicMessage, MessageDescriptor, ReflectMessage as _, SerializeOptions,
};
use prost_types::Any;
use tonic::{Code, Status};
use uuid::Uuid;

/// The pool of every example and Angzarr message type (built once).
pub fn pool() -> Result<&'static DescriptorPool, String> {
    static POOL: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut pool = DescriptorPool::decode(example_proto::FILE_DESCRIPTOR_SET)
            .map_err(|err| format!("example descriptor set: {err}"))?;
        pool.decode_file_descriptor_set(angzarr_proto::FILE_DESCRIPTOR_SET)
            .map_err(|err| format!("angzarr descriptor set: {err}"))?;
        Ok(pool)
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// The protobuf package of a domain's (or a process manager's) messages:
/// `examples.<domain with - replaced by _>`.
pub fn package(domain: &str) -> String {
    format!("examples.{}", domain.replace('-', "_"))
}

/// The message type `name` of `domain` (`AddItem` in `cart` is `examples.cart.AddItem`).
pub fn message_type(domain: &str, name: &str) -> Result<MessageDescriptor, String> {
    let full = format!("{}.{name}", package(domain));
    pool()?
        .get_message_by_name(&full)
        .ok_or_else(|| format!("unknown message {name} in domain {domain} (no type {full})"))
}

/// The message type an `Any` type URL names.
pub fn type_of_url(type_url: &str) -> Result<MessageDescriptor, String> {
    let full = type_url.rsplit('/').next().unwrap_or(type_url);
    pool()?
        .get_message_by_name(full)
        .ok_or_else(|| format!("unknown message type {type_url:?}"))
}

/// Parses JSON text (a step's argument, a table cell or a docstring).
pub fn parse_json(text: &str) -> Result<serde_json::Value, String> {
    let text = text.trim();
    let text = if text.is_empty() { "{}" } else { text };
    serde_json::from_str(text).map_err(|err| format!("invalid JSON {text}: {err}"))
}

/// A message of type `desc` from JSON in the protobuf JSON mapping (unknown fields and values
/// of the wrong type are errors).
pub fn message_from_json(
    desc: &MessageDescriptor,
    json: &serde_json::Value,
) -> Result<DynamicMessage, String> {
    DynamicMessage::deserialize(desc.clone(), json)
        .map_err(|err| format!("{json} is not a valid {}: {err}", desc.name()))
}

/// The message `name` of `domain` from JSON text.
pub fn parse_message(domain: &str, name: &str, json: &str) -> Result<DynamicMessage, String> {
    message_from_json(&message_type(domain, name)?, &parse_json(json)?)
}

/// Packs a message into an `Any` with the standard type URL.
pub fn pack(message: &DynamicMessage) -> Any {
    Any {
        type_url: format!("type.googleapis.com/{}", message.descriptor().full_name()),
        value: message.encode_to_vec(),
    }
}

/// Unpacks an `Any` whose type is in the pool.
pub fn unpack(any: &Any) -> Result<DynamicMessage, String> {
    let desc = type_of_url(&any.type_url)?;
    DynamicMessage::decode(desc, any.value.as_slice())
        .map_err(|err| format!("cannot decode {}: {err}", any.type_url))
}

/// A message as JSON for people: proto field names, every field (defaults included), 64-bit
/// integers as numbers.
pub fn to_json(message: &DynamicMessage) -> serde_json::Value {
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .skip_default_fields(false)
        .stringify_64_bit_integers(false);
    message
        .serialize_with_options(serde_json::value::Serializer, &options)
        .unwrap_or_else(|err| serde_json::Value::String(format!("<not serializable: {err}>")))
}

/// `Name {json}` of a message, on one line.
pub fn describe(message: &DynamicMessage) -> String {
    format!("{} {}", message.descriptor().name(), to_json(message))
}

/// `Name {json}` of a packed message (or why it cannot be read).
pub fn describe_any(any: &Any) -> String {
    unpack(any).map_or_else(|err| format!("<{err}>"), |message| describe(&message))
}

/// A root written in a step, after placeholder substitution: a UUID, or
/// `key(<domain>, <key>)` for `example_proto::key_root(domain, key)`.
pub fn parse_root(text: &str) -> Result<Uuid, String> {
    let text = text.trim();
    if let Some(inner) = text.strip_prefix("key(").and_then(|t| t.strip_suffix(')')) {
        let (domain, key) = inner
            .split_once(',')
            .ok_or_else(|| format!("root {text}: expected key(<domain>, <key>)"))?;
        return Ok(example_proto::key_root(domain.trim(), key.trim()));
    }
    Uuid::parse_str(text)
        .map_err(|_| format!("root {text:?}: expected $NAME, a UUID or key(<domain>, <key>)"))
}

/// gRPC status codes by their SCREAMING_SNAKE names.
const CODES: [(&str, Code); 17] = [
    ("OK", Code::Ok),
    ("CANCELLED", Code::Cancelled),
    ("UNKNOWN", Code::Unknown),
    ("INVALID_ARGUMENT", Code::InvalidArgument),
    ("DEADLINE_EXCEEDED", Code::DeadlineExceeded),
    ("NOT_FOUND", Code::NotFound),
    ("ALREADY_EXISTS", Code::AlreadyExists),
    ("PERMISSION_DENIED", Code::PermissionDenied),
    ("RESOURCE_EXHAUSTED", Code::ResourceExhausted),
    ("FAILED_PRECONDITION", Code::FailedPrecondition),
    ("ABORTED", Code::Aborted),
    ("OUT_OF_RANGE", Code::OutOfRange),
    ("UNIMPLEMENTED", Code::Unimplemented),
    ("INTERNAL", Code::Internal),
    ("UNAVAILABLE", Code::Unavailable),
    ("DATA_LOSS", Code::DataLoss),
    ("UNAUTHENTICATED", Code::Unauthenticated),
];

/// The status code named `name` (`FAILED_PRECONDITION`).
pub fn parse_code(name: &str) -> Result<Code, String> {
    CODES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, code)| *code)
        .ok_or_else(|| {
            format!(
                "unknown status {name:?}: expected a gRPC code name such as FAILED_PRECONDITION"
            )
        })
}

/// The SCREAMING_SNAKE name of `code`.
pub fn code_name(code: Code) -> &'static str {
    CODES
        .iter()
        .find(|(_, known)| *known == code)
        .map_or("UNKNOWN", |(name, _)| name)
}

/// `CODE: message` of a status.
pub fn describe_status(status: &Status) -> String {
    format!("{}: {}", code_name(status.code()), status.message())
}

/// Whether `status` is the rejection `<code> "<words>"` (words compared case-insensitively).
pub fn check_rejection(status: &Status, code: &str, words: &str) -> Result<(), String> {
    let want = parse_code(code)?;
    let message = status.message().to_lowercase();
    if status.code() == want && message.contains(&words.to_lowercase()) {
        Ok(())
    } else {
        Err(format!(
            "expected the rejection {code} {words:?}, got {}",
            describe_status(status)
        ))
    }
}

/// The UUIDs standing for `$NAME` placeholders in one scenario: one fresh UUIDv4 per name.
#[derive(Debug, Default, Clone)]
pub struct Placeholders {
    names: HashMap<String, Uuid>,
    /// Other UUIDs met in the scenario, by how the feature wrote them (`key(inventory, A)`).
    aliases: HashMap<Uuid, String>,
}

impl Placeholders {
    /// The UUID of `$name` (picked on first use).
    pub fn get(&mut self, name: &str) -> Uuid {
        *self
            .names
            .entry(name.to_string())
            .or_insert_with(Uuid::new_v4)
    }

    /// A root written in a step (see [`parse_root`]), remembered for [`Self::restore`].
    pub fn root(&mut self, text: &str) -> Result<Uuid, String> {
        let text = self.substitute(text);
        let root = parse_root(&text)?;
        if text.trim().starts_with("key(") {
            self.aliases.insert(root, text.trim().to_string());
        }
        Ok(root)
    }

    /// `text` with every UUID of this scenario written as in the feature again (`$NAME`,
    /// `key(<domain>, <key>)`), for messages.
    pub fn restore(&self, text: &str) -> String {
        let names = self
            .names
            .iter()
            .map(|(name, uuid)| (*uuid, format!("${name}")));
        let aliases = self
            .aliases
            .iter()
            .map(|(uuid, text)| (*uuid, text.clone()));
        names
            .chain(aliases)
            .fold(text.to_string(), |text, (uuid, written)| {
                text.replace(&uuid.to_string(), &written)
            })
    }

    /// `text` with every `$NAME` (a letter or `_`, then letters, digits, `_`) replaced by its
    /// UUID in lowercase hyphenated form. A `$` not followed by a name is kept.
    pub fn substitute(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let len = after
                .char_indices()
                .find(|&(i, c)| {
                    !(c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
                })
                .map_or(after.len(), |(i, _)| i);
            if len == 0 {
                out.push('$');
            } else {
                out.push_str(&self.get(&after[..len]).to_string());
            }
            rest = &after[len..];
        }
        out.push_str(rest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_stable_within_a_scenario_and_fresh_across() {
        let mut names = Placeholders::default();
        let text = names.substitute(r#"{"reason": "order:$R", "other": "$R2", "same": "$R"}"#);
        let r = names.get("R");
        let r2 = names.get("R2");
        assert_ne!(r, r2);
        assert_eq!(
            text,
            format!(r#"{{"reason": "order:{r}", "other": "{r2}", "same": "{r}"}}"#)
        );
        assert_eq!(r.get_version_num(), 4);
        assert_eq!(r.to_string(), r.to_string().to_lowercase());
        assert_eq!(
            names.substitute("$ 5$ $9 $R:revenue"),
            format!("$ 5$ $9 {r}:revenue")
        );
        assert_ne!(Placeholders::default().get("R"), r);
        assert_eq!(
            names.restore(&text),
            r#"{"reason": "order:$R", "other": "$R2", "same": "$R"}"#
        );
    }

    #[test]
    fn rejections() {
        let status = Status::failed_precondition("Customer already exists");
        assert_eq!(
            check_rejection(&status, "FAILED_PRECONDITION", "already EXISTS"),
            Ok(())
        );
        let err = check_rejection(&status, "INVALID_ARGUMENT", "already exists").expect_err("code");
        assert_eq!(
            err,
            r#"expected the rejection INVALID_ARGUMENT "already exists", got FAILED_PRECONDITION: Customer already exists"#
        );
        assert!(check_rejection(&status, "FAILED_PRECONDITION", "does not exist").is_err());
        let err = check_rejection(&status, "FAILED", "x").expect_err("name");
        assert!(err.starts_with("unknown status \"FAILED\""), "{err}");
        assert_eq!(code_name(Code::NotFound), "NOT_FOUND");
    }

    #[test]
    fn roots() {
        let mut names = Placeholders::default();
        let r = names.get("R");
        assert_eq!(parse_root(&names.substitute("$R")), Ok(r));
        assert_eq!(
            parse_root("key(customer, alice@example.com)"),
            Ok(example_proto::key_root("customer", "alice@example.com"))
        );
        assert_eq!(
            parse_root("key(inventory,WIDGET-A)"),
            Ok(example_proto::key_root("inventory", "WIDGET-A"))
        );
        for bad in ["R", "key(customer)", "key(customer, a"] {
            let err = parse_root(bad).expect_err(bad);
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn messages_from_json_by_short_name() {
        let message = parse_message(
            "customer",
            "AddLoyaltyPoints",
            r#"{"points": 100, "reason": "welcome"}"#,
        )
        .expect("AddLoyaltyPoints");
        assert_eq!(
            message.descriptor().full_name(),
            "examples.customer.AddLoyaltyPoints"
        );
        let any = pack(&message);
        assert_eq!(
            any.type_url,
            "type.googleapis.com/examples.customer.AddLoyaltyPoints"
        );
        let typed: example_proto::customer::AddLoyaltyPoints =
            prost::Message::decode(any.value.as_slice()).expect("decode");
        assert_eq!((typed.points, typed.reason.as_str()), (100, "welcome"));
        assert_eq!(
            describe_any(&any),
            r#"AddLoyaltyPoints {"points":100,"reason":"welcome"}"#
        );

        let err = parse_message("customer", "AddLoyaltyPoints", r#"{"pionts": 1}"#)
            .expect_err("unknown field");
        assert!(err.contains("pionts"), "{err}");
        let err = parse_message("customer", "AddLoyaltyPoints", r#"{"points": "many"}"#)
            .expect_err("wrong type");
        assert!(err.contains("AddLoyaltyPoints"), "{err}");
        let err = parse_message("customer", "AddItem", "{}").expect_err("wrong domain");
        assert!(err.contains("examples.customer.AddItem"), "{err}");
        let err = parse_message("customer", "CreateCustomer", "{name").expect_err("bad JSON");
        assert!(err.contains("invalid JSON {name"), "{err}");
        assert_eq!(package("order-fulfillment"), "examples.order_fulfillment");
    }
}
