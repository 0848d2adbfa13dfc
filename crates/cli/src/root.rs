//! Aggregate roots from the command line: a UUID as is, anything else as a key.

use uuid::Uuid;

/// The root a command-line argument names, and how it was derived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// The argument was a UUID.
    Uuid(Uuid),
    /// The argument was a key; the root is `key_root(domain, key)`.
    Key {
        /// The key as given.
        key: String,
        /// The derived root.
        root: Uuid,
    },
}

impl Root {
    /// Parses `arg` for `domain`: a hyphenated UUID (any case) is taken as is; anything else
    /// is a key.
    pub fn parse(domain: &str, arg: &str) -> Self {
        let looks_hyphenated = arg.len() == 36 && arg.matches('-').count() == 4;
        match Uuid::try_parse(arg) {
            Ok(uuid) if looks_hyphenated => Root::Uuid(uuid),
            _ => Root::Key {
                key: arg.to_string(),
                root: key_root(domain, arg),
            },
        }
    }

    /// The root UUID.
    pub fn uuid(&self) -> Uuid {
        match self {
            Root::Uuid(uuid) | Root::Key { root: uuid, .. } => *uuid,
        }
    }
}

/// The examples' deterministic root for a keyed aggregate:
/// `UUIDv5(NAMESPACE_OID, "angzarr:" + domain + ":" + key)` (examples-spec §2).
pub fn key_root(domain: &str, key: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("angzarr:{domain}:{key}").as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(domain: &str, arg: &str, expected_root: &str, is_key: bool) {
        let root = Root::parse(domain, arg);
        assert_eq!(root.uuid().to_string(), expected_root, "{arg}");
        assert_eq!(matches!(root, Root::Key { .. }), is_key, "{arg}");
    }

    #[test]
    fn parses_uuids_and_derives_keys() {
        let alice = "c57e8e17-f3ed-5b23-ae80-3eeaf5831466"; // cross-checked with Python's uuid5
        check("customer", "alice@example.com", alice, true);
        check("customer", alice, alice, false);
        check("customer", &alice.to_uppercase(), alice, false);
        check(
            "product",
            "alice@example.com",
            &key_root("product", "alice@example.com").to_string(),
            true,
        );
        // Only the hyphenated form is a UUID; other spellings are keys like any string.
        let simple = alice.replace('-', "");
        check(
            "customer",
            &simple,
            &key_root("customer", &simple).to_string(),
            true,
        );
        check("customer", "", &key_root("customer", "").to_string(), true);
    }
}
