//! What synchronous commands wait for: the outcomes of deliveries of their correlation id.
//!
//! A command sent with `SYNC_MODE_SIMPLE` or `SYNC_MODE_CASCADE` registers its correlation id
//! before it is executed. Subscribers deliver its events through their normal ordered path
//! (so nothing is delivered twice), call the synchronous form of the component
//! (`Projector.HandleSync`) for events of a registered correlation id, and record what came
//! back here. The command collects the outcomes once each subscriber's position has passed its
//! events, and drops its registration.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use angzarr_proto::{CommandBook, CommandResponse, Projection};

/// What one delivery produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing to report (an asynchronous projector call).
    Nothing,
    /// A projector's projection.
    Projection(Projection),
    /// The commands a saga or process manager emitted (stamped as sent) and what they
    /// produced (a process manager's own state events come as one more response).
    Commands {
        /// The commands as sent, compensations included.
        sent: Vec<CommandBook>,
        /// The answers of the accepted ones.
        responses: Vec<CommandResponse>,
    },
}

/// One recorded outcome.
#[derive(Debug, Clone)]
struct Recorded {
    subscriber: String,
    first: u64,
    last: u64,
    outcome: Outcome,
}

#[derive(Debug, Default)]
struct Interest {
    waiters: usize,
    recorded: Vec<Recorded>,
}

/// Correlation ids that synchronous commands wait on, and what was delivered for them.
#[derive(Debug, Default)]
pub struct SyncRegistry {
    interests: Mutex<HashMap<String, Interest>>,
}

/// Keeps a correlation id registered; dropping it unregisters.
#[derive(Debug)]
pub struct SyncInterest {
    registry: Arc<SyncRegistry>,
    correlation_id: String,
}

impl Drop for SyncInterest {
    fn drop(&mut self) {
        let mut interests = self.registry.lock();
        if let Some(interest) = interests.get_mut(&self.correlation_id) {
            interest.waiters -= 1;
            if interest.waiters == 0 {
                interests.remove(&self.correlation_id);
            }
        }
    }
}

impl SyncInterest {
    /// Outcomes `subscriber` recorded for deliveries overlapping positions `from..=to`.
    pub fn outcomes(&self, subscriber: &str, from: u64, to: u64) -> Vec<Outcome> {
        self.registry
            .lock()
            .get(&self.correlation_id)
            .map(|interest| {
                interest
                    .recorded
                    .iter()
                    .filter(|r| r.subscriber == subscriber && r.last >= from && r.first <= to)
                    .map(|r| r.outcome.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl SyncRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Interest>> {
        self.interests.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers interest in a correlation id until the returned guard is dropped.
    pub fn register(self: &Arc<Self>, correlation_id: &str) -> SyncInterest {
        self.lock()
            .entry(correlation_id.to_string())
            .or_default()
            .waiters += 1;
        SyncInterest {
            registry: self.clone(),
            correlation_id: correlation_id.to_string(),
        }
    }

    /// Whether a synchronous command waits on this correlation id.
    pub fn is_interested(&self, correlation_id: &str) -> bool {
        self.lock().contains_key(correlation_id)
    }

    /// Records a delivery's outcome, if anyone waits on its correlation id.
    pub fn record(
        &self,
        correlation_id: &str,
        subscriber: &str,
        first: u64,
        last: u64,
        outcome: Outcome,
    ) {
        if let Some(interest) = self.lock().get_mut(correlation_id) {
            interest.recorded.push(Recorded {
                subscriber: subscriber.to_string(),
                first,
                last,
                outcome,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_kept_only_while_someone_waits() {
        let registry = Arc::new(SyncRegistry::default());
        registry.record("c", "p", 1, 1, Outcome::Nothing);
        assert!(!registry.is_interested("c"));
        let first = registry.register("c");
        let second = registry.register("c");
        let commands = Outcome::Commands {
            sent: vec![],
            responses: vec![],
        };
        registry.record("c", "p", 3, 4, Outcome::Nothing);
        registry.record("c", "q", 3, 4, commands.clone());
        registry.record("other", "p", 3, 4, Outcome::Nothing);
        assert_eq!(first.outcomes("p", 4, 9), vec![Outcome::Nothing]);
        assert_eq!(first.outcomes("p", 5, 9), vec![]);
        assert_eq!(first.outcomes("q", 1, 3), vec![commands]);
        drop(first);
        assert!(registry.is_interested("c"), "the second waiter still waits");
        assert_eq!(second.outcomes("p", 0, 10).len(), 1);
        drop(second);
        assert!(!registry.is_interested("c"));
    }
}
