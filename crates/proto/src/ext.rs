//! Extension traits on the generated types.

use crate::angzarr::{Cover, EventPage, Uuid, event_page};
use prost_types::Any;

/// A `UUID` message whose bytes are not 16 long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidUuid {
    /// How many bytes the message held.
    pub len: usize,
}

impl std::fmt::Display for InvalidUuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a UUID must be 16 bytes, got {}", self.len)
    }
}

impl std::error::Error for InvalidUuid {}

/// Conversions between the `UUID` message and [`uuid::Uuid`].
pub trait UuidExt {
    /// The message for a UUID.
    fn from_uuid(uuid: uuid::Uuid) -> Self;
    /// The UUID the message holds, or why it holds none.
    fn to_uuid(&self) -> Result<uuid::Uuid, InvalidUuid>;
}

impl UuidExt for Uuid {
    fn from_uuid(uuid: uuid::Uuid) -> Self {
        Uuid {
            value: uuid.as_bytes().to_vec(),
        }
    }

    fn to_uuid(&self) -> Result<uuid::Uuid, InvalidUuid> {
        uuid::Uuid::from_slice(&self.value).map_err(|_| InvalidUuid {
            len: self.value.len(),
        })
    }
}

/// Helpers on [`Cover`].
pub trait CoverExt {
    /// The aggregate root, if present and well formed.
    fn root_uuid(&self) -> Option<uuid::Uuid>;
    /// A cover for `domain`/`root` on the main timeline.
    fn for_root(domain: impl Into<String>, root: uuid::Uuid) -> Self;
}

impl CoverExt for Cover {
    fn root_uuid(&self) -> Option<uuid::Uuid> {
        self.root.as_ref().and_then(|r| r.to_uuid().ok())
    }

    fn for_root(domain: impl Into<String>, root: uuid::Uuid) -> Self {
        Cover {
            root: Some(Uuid::from_uuid(root)),
            domain: domain.into(),
            correlation_id: String::new(),
            edition: String::new(),
        }
    }
}

/// Helpers on `google.protobuf.Any`.
pub trait AnyExt {
    /// The full message name, e.g. `examples.customer.CreateCustomer`.
    fn full_type_name(&self) -> &str;
    /// The last segment of the message name, e.g. `CreateCustomer`.
    fn short_type_name(&self) -> &str;
}

impl AnyExt for Any {
    fn full_type_name(&self) -> &str {
        self.type_url.rsplit('/').next().unwrap_or(&self.type_url)
    }

    fn short_type_name(&self) -> &str {
        let full = self.full_type_name();
        full.rsplit('.').next().unwrap_or(full)
    }
}

/// Helpers on [`EventPage`].
pub trait EventPageExt {
    /// The sequence number, if the page carries one.
    fn sequence_num(&self) -> Option<u32>;
    /// Sets the sequence number.
    fn set_sequence_num(&mut self, num: u32);
}

impl EventPageExt for EventPage {
    fn sequence_num(&self) -> Option<u32> {
        match self.sequence {
            Some(event_page::Sequence::Num(n)) => Some(n),
            _ => None,
        }
    }

    fn set_sequence_num(&mut self, num: u32) {
        self.sequence = Some(event_page::Sequence::Num(num));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_round_trips_and_rejects_wrong_length() {
        let id = uuid::Uuid::new_v4();
        assert_eq!(Uuid::from_uuid(id).to_uuid(), Ok(id));
        let bad = Uuid { value: vec![1, 2] };
        assert_eq!(bad.to_uuid(), Err(InvalidUuid { len: 2 }));
    }

    #[test]
    fn any_type_names() {
        let any = Any {
            type_url: "type.googleapis.com/examples.customer.CreateCustomer".into(),
            value: vec![],
        };
        assert_eq!(any.full_type_name(), "examples.customer.CreateCustomer");
        assert_eq!(any.short_type_name(), "CreateCustomer");
    }

    #[test]
    fn event_page_sequence() {
        let mut page = EventPage::default();
        assert_eq!(page.sequence_num(), None);
        page.set_sequence_num(7);
        assert_eq!(page.sequence_num(), Some(7));
    }
}
