//! Which events a subscriber asked for: the inputs of its descriptor (DESIGN.md §2.6).
//!
//! Events of editions (branches of an aggregate's history) are wanted only when asked for
//! (`Target.editions`): a subscriber that names none sees the main timeline alone, so trying
//! something out in an edition never reaches a read model or a saga by accident.

use std::collections::{BTreeMap, BTreeSet};

use angzarr_proto::{AnyExt, Target};
use prost_types::Any;

use crate::storage::StoredEvent;

/// Which editions' events are wanted besides the main timeline's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Editions {
    /// The main timeline only.
    #[default]
    MainOnly,
    /// Main and these editions.
    Named(BTreeSet<String>),
    /// Main and every edition (`"*"`).
    All,
}

impl Editions {
    /// From a list of names: empty is main only, `"*"` every edition.
    pub fn of(names: &[String]) -> Self {
        let mut editions = Editions::MainOnly;
        for name in names.iter().filter(|n| !n.is_empty()) {
            editions.add(name);
        }
        editions
    }

    fn add(&mut self, name: &str) {
        match self {
            Editions::All => {}
            _ if name == "*" => *self = Editions::All,
            Editions::Named(names) => {
                names.insert(name.to_string());
            }
            Editions::MainOnly => *self = Editions::Named(BTreeSet::from([name.to_string()])),
        }
    }

    fn extend(&mut self, other: &Editions) {
        match other {
            Editions::MainOnly => {}
            Editions::All => *self = Editions::All,
            Editions::Named(names) => names.iter().for_each(|n| self.add(n)),
        }
    }

    /// Whether events of `edition` (empty: main) are wanted.
    pub fn allows(&self, edition: &str) -> bool {
        edition.is_empty()
            || match self {
                Editions::MainOnly => false,
                Editions::Named(names) => names.contains(edition),
                Editions::All => true,
            }
    }
}

/// The domains, event types and editions a component subscribes to.
///
/// A target with no types means every type of its domain. Types match by short name
/// (`OrderCreated`) or full name (`examples.order.OrderCreated`). Only main-timeline events
/// match unless the target names editions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Domain -> types (`None`: all types).
    domains: BTreeMap<String, Option<BTreeSet<String>>>,
    /// Domain -> editions wanted besides main.
    editions: BTreeMap<String, Editions>,
}

impl EventFilter {
    /// The filter of a descriptor's inputs.
    pub fn from_targets(targets: &[Target]) -> Self {
        let mut domains: BTreeMap<String, Option<BTreeSet<String>>> = BTreeMap::new();
        let mut editions: BTreeMap<String, Editions> = BTreeMap::new();
        for target in targets {
            editions
                .entry(target.domain.clone())
                .or_default()
                .extend(&Editions::of(&target.editions));
            let entry = domains
                .entry(target.domain.clone())
                .or_insert_with(|| Some(BTreeSet::new()));
            match entry {
                // Already "all types".
                None => {}
                Some(_) if target.types.is_empty() => *entry = None,
                Some(types) => types.extend(target.types.iter().cloned()),
            }
        }
        Self { domains, editions }
    }

    /// Whether an event of `domain` with this payload is wanted.
    pub fn matches_parts(&self, domain: &str, event: &Any) -> bool {
        match self.domains.get(domain) {
            None => false,
            Some(None) => true,
            Some(Some(types)) => {
                types.contains(event.short_type_name()) || types.contains(event.full_type_name())
            }
        }
    }

    /// Whether events of `domain` on `edition` (empty: main) are wanted.
    pub fn wants_edition(&self, domain: &str, edition: &str) -> bool {
        edition.is_empty()
            || self
                .editions
                .get(domain)
                .is_some_and(|editions| editions.allows(edition))
    }

    /// Whether a stored event is wanted (its domain, type and edition).
    pub fn matches(&self, event: &StoredEvent) -> bool {
        self.matches_parts(&event.key.domain, &event.event)
            && self.wants_edition(&event.key.domain, &event.key.edition)
    }

    /// The subscribed domains.
    pub fn domains(&self) -> impl Iterator<Item = &str> {
        self.domains.keys().map(String::as_str)
    }

    /// True when nothing is subscribed.
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(name: &str) -> Any {
        Any {
            type_url: format!("type.googleapis.com/examples.order.{name}"),
            value: vec![],
        }
    }

    fn target(domain: &str, types: &[&str]) -> Target {
        Target {
            editions: Vec::new(),
            domain: domain.into(),
            types: types.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn types_match_by_short_or_full_name_within_their_domain() {
        let filter = EventFilter::from_targets(&[target(
            "order",
            &["OrderCreated", "examples.order.OrderPaid"],
        )]);
        assert!(filter.matches_parts("order", &any("OrderCreated")));
        assert!(filter.matches_parts("order", &any("OrderPaid")));
        assert!(!filter.matches_parts("order", &any("OrderCancelled")));
        assert!(!filter.matches_parts("cart", &any("OrderCreated")));
    }

    #[test]
    fn no_types_means_every_type_and_wins_over_a_list() {
        let filter =
            EventFilter::from_targets(&[target("order", &["OrderCreated"]), target("order", &[])]);
        assert!(filter.matches_parts("order", &any("Anything")));
        let filter =
            EventFilter::from_targets(&[target("order", &[]), target("order", &["OrderCreated"])]);
        assert!(filter.matches_parts("order", &any("Anything")));
        assert_eq!(filter.domains().collect::<Vec<_>>(), ["order"]);
    }

    #[test]
    fn editions_are_wanted_only_when_a_target_names_them() {
        let with = |editions: &[&str]| Target {
            editions: editions.iter().map(ToString::to_string).collect(),
            ..target("order", &[])
        };
        let main_only = EventFilter::from_targets(&[with(&[])]);
        assert!(main_only.wants_edition("order", ""));
        assert!(!main_only.wants_edition("order", "what-if"));
        let named = EventFilter::from_targets(&[with(&["what-if"]), target("cart", &[])]);
        assert!(named.wants_edition("order", "what-if"));
        assert!(!named.wants_edition("order", "other"));
        assert!(!named.wants_edition("cart", "what-if"), "per domain");
        let all = EventFilter::from_targets(&[with(&["a"]), with(&["*"])]);
        assert!(all.wants_edition("order", "anything"));
        assert_eq!(Editions::of(&[]), Editions::MainOnly);
        assert!(!Editions::of(&["".into()]).allows("x"));
    }

    #[test]
    fn an_empty_filter_matches_nothing() {
        let filter = EventFilter::from_targets(&[]);
        assert!(filter.is_empty());
        assert!(!filter.matches_parts("order", &any("OrderCreated")));
    }
}
