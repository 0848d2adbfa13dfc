//! Speculative runs: what a projector, saga or process manager would do with some events,
//! with nothing written.
//!
//! A speculative run calls the component outside its delivery worker, so no checkpoint moves
//! and nothing is parked, and it never executes or stores what comes back:
//!
//! - a **projector** is asked through `Projector.HandleSpeculative`, whose contract is to
//!   compute the projections on its current read model without writing anything (the
//!   Rust client rolls its row-store transaction back); a projector without it answers
//!   `UNIMPLEMENTED` and the run is refused, because its `Handle` writes;
//! - a **saga** is asked through its `Handle`, which is free of side effects by contract (the
//!   runtime executes what it returns); the commands are stamped as a delivery would stamp
//!   them and reported;
//! - a **process manager** is asked through its `Handle` with its stored state, then with
//!   that state plus the events it would have recorded so far in this run (per correlation
//!   id); its state events are numbered as they would be and reported, its commands stamped
//!   and reported.

use angzarr_proto::{
    Causation, CommandBook, EventBook, EventPage, EventPageExt, EventRef, Projection, causation,
};

use crate::emitted::stamp_emitted;

/// What a speculative run produced; nothing of it was executed or stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Speculated {
    /// Projectors: the projection of each delivery.
    pub projections: Vec<Projection>,
    /// Sagas and process managers: the commands they would emit, stamped.
    pub commands: Vec<CommandBook>,
    /// Process managers: the state events they would record, numbered.
    pub state_events: Vec<EventBook>,
}

/// Every page of `books` as a book of its own, in order: sagas and process managers take one
/// event per call, as in delivery.
pub(crate) fn single_events(books: &[EventBook]) -> impl Iterator<Item = EventBook> + '_ {
    books.iter().flat_map(|book| {
        book.pages.iter().map(|page| EventBook {
            cover: book.cover.clone(),
            pages: vec![page.clone()],
            next_sequence: page.sequence_num().map_or(0, |s| s.saturating_add(1)),
            ..EventBook::default()
        })
    })
}

/// The commands `component` returned for `trigger`, stamped as a delivery stamps them.
pub(crate) fn stamped(
    component: &str,
    trigger: &EventBook,
    source: &EventRef,
    commands: Vec<CommandBook>,
) -> impl Iterator<Item = CommandBook> {
    let stamped: Vec<CommandBook> = commands
        .into_iter()
        .enumerate()
        .map(|(index, command)| stamp_emitted(component, trigger, source, index, command))
        .collect();
    stamped.into_iter()
}

/// A process manager's new state pages, numbered from `next` and caused by `source`, as the
/// runtime would store them (no position or time: they are not stored).
pub(crate) fn numbered(pages: Vec<EventPage>, next: u32, source: &EventRef) -> Vec<EventPage> {
    (next..)
        .zip(pages)
        .map(|(sequence, page)| {
            let mut numbered = EventPage {
                event: page.event,
                causation: Some(Causation {
                    cause: Some(causation::Cause::Event(source.clone())),
                }),
                ..EventPage::default()
            };
            numbered.set_sequence_num(sequence);
            numbered
        })
        .collect()
}
