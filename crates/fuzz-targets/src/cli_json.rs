//! The CLI's JSON-to-protobuf path: a type name (the input's first line) and JSON text (the
//! rest) -> [`Catalog::resolve`] and [`json_to_any`] against the example shop's descriptor set,
//! as `angzarr send <domain> <root> <type> <json>` does -> an `Any` or a clear error; and the
//! way back, [`Catalog::any_to_json`], as `angzarr events` shows what the runtime returns.
//!
//! Promises checked: nothing panics; errors say something; an `Any` built from JSON carries
//! its type's URL, decodes and renders again, and the rendered JSON builds the same message
//! (what the CLI prints, it accepts); arbitrary bytes as a message of a known type render or
//! fail with a message.

use std::sync::OnceLock;

use angzarr_cli::types::{Catalog, json_to_any, to_json_text};
use prost_reflect::DescriptorPool;
use prost_types::Any;

/// The example shop's messages, as `angzarr send` learns them from reflection.
fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let pool = DescriptorPool::decode(example_proto::FILE_DESCRIPTOR_SET)
            .expect("the example shop's descriptor set is valid");
        Catalog::new("shop", pool, Vec::new())
    })
}

/// Runs one input.
pub fn run(data: &[u8]) {
    // Both come from the command line, which hands the CLI UTF-8 strings.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (name, json) = text.split_once('\n').unwrap_or((text, "{}"));
    let catalog = catalog();
    let descriptor = match catalog.resolve(name) {
        Ok(descriptor) => descriptor,
        Err(err) => {
            assert!(
                !err.to_string().is_empty(),
                "an unknown type without a message"
            );
            return;
        }
    };
    let url = format!("type.googleapis.com/{}", descriptor.full_name());
    // Bytes that are not a message of this type, as an event from the runtime might be.
    let raw = Any {
        type_url: url.clone(),
        value: json.as_bytes().to_vec(),
    };
    match catalog.any_to_json(&raw) {
        Some(Ok(_)) => {}
        Some(Err(err)) => assert!(!err.is_empty(), "an undecodable event without a message"),
        None => panic!("{url} resolved but is not in the pool"),
    }
    let any = match json_to_any(&descriptor, json) {
        Ok(any) => any,
        Err(err) => {
            assert!(!err.to_string().is_empty(), "bad JSON without a message");
            return;
        }
    };
    assert_eq!(any.type_url, url);
    let shown = match catalog.any_to_json(&any) {
        Some(Ok(shown)) => shown,
        other => panic!("a message built from JSON does not render: {other:?}"),
    };
    let decoded = match catalog.decode_any(&any) {
        Some(Ok(decoded)) => decoded,
        other => panic!("a message built from JSON does not decode: {other:?}"),
    };
    let printed = match to_json_text(&decoded) {
        Ok(printed) => printed,
        Err(err) => panic!("a message built from JSON cannot be printed: {err}"),
    };
    let again = match json_to_any(&descriptor, &printed) {
        Ok(again) => again,
        Err(err) => panic!("the CLI refuses the JSON it printed ({err}): {printed}"),
    };
    match catalog.any_to_json(&again) {
        Some(Ok(shown_again)) => assert_eq!(
            shown, shown_again,
            "printed JSON builds another message: {printed}"
        ),
        other => panic!("a message built from printed JSON does not render: {other:?}"),
    }
}

/// Commands of the example shop (full and short names), with valid JSON and near misses.
pub fn seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<String> = vec![
        "CreateCustomer\n{\"name\": \"Alice\", \"email\": \"alice@example.com\"}".into(),
        "examples.customer.CreateCustomer\n{}".into(),
        "NoSuchType\n{}".into(),
        "CreateCustomer\n{\"no_such_field\": 1}".into(),
        "CreateCustomer\n[1, 2".into(),
    ];
    // One message of every type of the shop, every field at its default: all field kinds.
    for message in catalog().pool().all_messages() {
        if message.package_name().starts_with("examples") {
            let empty = prost_reflect::DynamicMessage::new(message.clone());
            if let Ok(json) = to_json_text(&empty) {
                seeds.push(format!("{}\n{json}", message.full_name()));
            }
        }
    }
    seeds.into_iter().map(String::into_bytes).collect()
}
