//! Which events a subscriber asked for: the inputs of its descriptor (DESIGN.md §2.6).

use std::collections::{BTreeMap, BTreeSet};

use angzarr_proto::{AnyExt, Target};
use prost_types::Any;

use crate::storage::StoredEvent;

/// The domains and event types a component subscribes to.
///
/// A target with no types means every type of its domain. Types match by short name
/// (`OrderCreated`) or full name (`examples.order.OrderCreated`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Domain -> types (`None`: all types).
    domains: BTreeMap<String, Option<BTreeSet<String>>>,
}

impl EventFilter {
    /// The filter of a descriptor's inputs.
    pub fn from_targets(targets: &[Target]) -> Self {
        let mut domains: BTreeMap<String, Option<BTreeSet<String>>> = BTreeMap::new();
        for target in targets {
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
        Self { domains }
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

    /// Whether a stored event is wanted.
    pub fn matches(&self, event: &StoredEvent) -> bool {
        self.matches_parts(&event.key.domain, &event.event)
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
    fn an_empty_filter_matches_nothing() {
        let filter = EventFilter::from_targets(&[]);
        assert!(filter.is_empty());
        assert!(!filter.matches_parts("order", &any("OrderCreated")));
    }
}
