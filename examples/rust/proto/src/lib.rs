//! The messages of the example shop, one module per protobuf package
//! (`examples/proto/examples/<name>.proto` → `example_proto::<name>`), and the examples'
//! convention for deterministic aggregate roots (examples-spec §2).

use uuid::Uuid;

#[allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    rust_2018_idioms
)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/examples.rs"));
}

pub use generated::examples::*;

/// Encoded `FileDescriptorSet` of every example proto (for gRPC reflection and for tools that
/// turn JSON into these messages).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/examples_descriptor.bin"));

/// The root of the aggregate of `domain` identified by a business key:
/// `UUIDv5(NAMESPACE_OID, "angzarr:" + domain + ":" + key)`.
///
/// Used for customers (by email), products (by SKU), inventory (by product id) and process
/// managers (by correlation id), so that any component can address them without a lookup.
pub fn key_root(domain: &str, key: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("angzarr:{domain}:{key}").as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_root_follows_the_spec_convention() {
        // UUIDv5 over the OID namespace is fixed by RFC 4122; other languages must agree.
        let root = key_root("customer", "alice@example.com");
        assert_eq!(root.get_version_num(), 5);
        assert_eq!(
            root,
            Uuid::new_v5(
                &Uuid::parse_str("6ba7b812-9dad-11d1-80b4-00c04fd430c8").expect("uuid"),
                b"angzarr:customer:alice@example.com"
            )
        );
        assert_ne!(root, key_root("inventory", "alice@example.com"));
    }
}
