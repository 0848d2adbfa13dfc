//! What the event-driven components (sagas, process managers, projectors) share: the stored
//! event a handler reacts to, the commands it sends, and the rejection of one of them.

use angzarr_proto::{
    AnyExt, CommandBook, CommandPage, CommandRejection, Cover, CoverExt, EventBook, EventPageExt,
    Target, UuidExt,
};
use prost::{Message, Name};
use prost_types::Any;
use tonic::{Code, Status};
use uuid::Uuid;

use crate::command_router::pack;

/// The stored event a handler is reacting to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventContext {
    /// The domain of the aggregate that stored it.
    pub domain: String,
    /// That aggregate's root.
    pub root: Uuid,
    /// Its sequence within that aggregate.
    pub sequence: u32,
    /// Its position in the global log.
    pub position: u64,
    /// The workflow it belongs to; commands sent in reaction carry it too.
    pub correlation_id: String,
}

impl EventContext {
    /// The context of every page of `book`, with its event, in order.
    pub(crate) fn pages(book: &EventBook) -> Result<Vec<(Self, &Any)>, Status> {
        let cover = book
            .cover
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("the event book carries no cover"))?;
        let root = cover
            .root_uuid()
            .ok_or_else(|| Status::invalid_argument("the event book's cover has no valid root"))?;
        book.pages
            .iter()
            .enumerate()
            .map(|(index, page)| {
                let event = page.event.as_ref().ok_or_else(|| {
                    Status::invalid_argument(format!("event page {index} holds no event"))
                })?;
                let context = Self {
                    domain: cover.domain.clone(),
                    root,
                    sequence: page.sequence_num().unwrap_or_default(),
                    position: page.position,
                    correlation_id: cover.correlation_id.clone(),
                };
                Ok((context, event))
            })
            .collect()
    }
}

/// Commands to send, in order. Each goes to one aggregate (domain and root); the router
/// stamps them with the correlation id of the event being handled.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Commands(Vec<CommandBook>);

impl Commands {
    /// No commands.
    pub fn none() -> Self {
        Self::default()
    }

    /// Adds `command` for the aggregate `root` of `domain`.
    pub fn send<C: Message + Name>(mut self, domain: &str, root: Uuid, command: &C) -> Self {
        self.0.push(CommandBook {
            cover: Some(Cover::for_root(domain, root)),
            pages: vec![CommandPage {
                sequence: None,
                command: Some(pack(command)),
            }],
            ..CommandBook::default()
        });
        self
    }

    /// Appends all of `other`.
    pub fn and(mut self, other: Commands) -> Self {
        self.0.extend(other.0);
        self
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The command books, each carrying `correlation_id`, after checking that every one is
    /// declared in `outputs` (so the descriptor the runtime routes from never lies).
    pub(crate) fn stamped(
        self,
        component: &str,
        correlation_id: &str,
        outputs: &[Target],
    ) -> Result<Vec<CommandBook>, Status> {
        self.0
            .into_iter()
            .map(|mut book| {
                let cover = book.cover.get_or_insert_default();
                cover.correlation_id = correlation_id.to_string();
                let domain = cover.domain.clone();
                for page in &book.pages {
                    let name = page
                        .command
                        .as_ref()
                        .map(|c| c.short_type_name())
                        .unwrap_or_default();
                    let declared = outputs
                        .iter()
                        .any(|t| t.domain == domain && t.types.iter().any(|t| t == name));
                    if !declared {
                        return Err(Status::internal(format!(
                            "{component} sends {name} to {domain} without declaring it; \
                             add .sends(\"{domain}\", \"{name}\")"
                        )));
                    }
                }
                Ok(book)
            })
            .collect()
    }
}

/// Adds `(domain, type)` to a descriptor's target list, merging by domain.
pub(crate) fn declare(targets: &mut Vec<Target>, domain: &str, type_name: &str) {
    match targets.iter_mut().find(|t| t.domain == domain) {
        Some(target) => {
            if !target.types.iter().any(|t| t == type_name) {
                target.types.push(type_name.to_string());
            }
        }
        None => targets.push(Target {
            editions: Vec::new(),
            domain: domain.to_string(),
            types: vec![type_name.to_string()],
        }),
    }
}

/// A command this component sent was rejected by its aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// The domain the command went to.
    pub domain: String,
    /// The aggregate it went to.
    pub root: Option<Uuid>,
    /// The command (the first page of the rejected book).
    pub command: Any,
    /// The rejection's status code.
    pub code: Code,
    /// The rejection's message.
    pub message: String,
    /// The event that made this component send the command, when the runtime provided it.
    pub source: Option<(EventContext, Any)>,
    /// The correlation id the command carried.
    pub correlation_id: String,
}

impl Rejected {
    pub(crate) fn from_proto(rejection: &CommandRejection) -> Result<Self, Status> {
        let book = rejection
            .command
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("the rejection carries no command"))?;
        let cover = book.cover.clone().unwrap_or_default();
        let command = book
            .pages
            .first()
            .and_then(|p| p.command.clone())
            .ok_or_else(|| Status::invalid_argument("the rejected command book is empty"))?;
        let source = match rejection.source_event.as_ref() {
            Some(book) => EventContext::pages(book)?
                .into_iter()
                .last()
                .map(|(context, event)| (context, event.clone())),
            None => None,
        };
        Ok(Self {
            domain: cover.domain.clone(),
            root: cover.root.as_ref().and_then(|r| r.to_uuid().ok()),
            command,
            code: Code::from_i32(rejection.code),
            message: rejection.message.clone(),
            source,
            correlation_id: cover.correlation_id,
        })
    }

    /// The rejected command, if it is a `C`.
    pub fn command_as<C: Message + Name + Default>(&self) -> Option<C> {
        decode_if(&self.command)
    }

    /// The event that caused the command, if it is an `E`.
    pub fn source_event_as<E: Message + Name + Default>(&self) -> Option<E> {
        self.source.as_ref().and_then(|(_, event)| decode_if(event))
    }
}

/// Decodes `any` when it holds a `M`.
fn decode_if<M: Message + Name + Default>(any: &Any) -> Option<M> {
    if any.full_type_name() == M::full_name() {
        M::decode(any.value.as_slice()).ok()
    } else {
        None
    }
}

/// Decodes an event for a typed handler (the type was matched by name already).
pub(crate) fn decode_event<E: Message + Name + Default>(event: &Any) -> Result<E, Status> {
    E::decode(event.value.as_slice())
        .map_err(|err| Status::invalid_argument(format!("malformed {}: {err}", E::full_name())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undeclared_commands_are_refused_with_the_fix() {
        let root = Uuid::from_u128(1);
        let commands = Commands::none().send("inventory", root, &prost_types::Duration::default());
        let err = commands
            .clone()
            .stamped("saga-x", "c-1", &[])
            .expect_err("undeclared");
        assert_eq!(err.code(), Code::Internal);
        assert!(
            err.message()
                .contains(".sends(\"inventory\", \"Duration\")"),
            "{}",
            err.message()
        );

        let mut outputs = Vec::new();
        declare(&mut outputs, "inventory", "Duration");
        declare(&mut outputs, "inventory", "Duration");
        assert_eq!(outputs.len(), 1);
        assert_eq!(outputs[0].types, vec!["Duration".to_string()]);
        let books = commands
            .stamped("saga-x", "c-1", &outputs)
            .expect("declared");
        let cover = books[0].cover.clone().expect("cover");
        assert_eq!(
            (cover.domain.as_str(), cover.correlation_id.as_str()),
            ("inventory", "c-1")
        );
        assert_eq!(cover.root_uuid(), Some(root));
    }
}
