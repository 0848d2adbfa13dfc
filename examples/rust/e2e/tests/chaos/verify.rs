//! The checks after the kills, from the outside: the whole log as a client reads it
//! (`EventQuery.Synchronize` from position 0), what the clients were told, and the read
//! models. Each check adds what it found wrong to a list, so one run reports every failure.

use std::collections::{BTreeMap, BTreeSet};

use angzarr_proto::causation::Cause;
use angzarr_proto::event_query_client::EventQueryClient;
use angzarr_proto::{CoverExt, EventPageExt, SynchronizeRequest};
use example_proto::projections::{LedgerEntry, LoyaltyView, OrderView, StockLevel};
use example_proto::{
    customer, fulfillment, inventory, key_root, order, order_fulfillment, order_status,
};
use futures::TryStreamExt;
use prost::Name;
use prost_types::Any;
use uuid::Uuid;

use crate::load::{Acked, INITIAL_STOCK, Outcome, PRODUCTS, Purchase, Record, decode};
use crate::system::Rows;

/// One stored event as the gateway serves it.
#[derive(Debug, Clone)]
pub struct LogEvent {
    pub domain: String,
    pub root: Uuid,
    pub correlation: String,
    pub sequence: u32,
    pub position: u64,
    pub event: Any,
    /// The command that stored it (its idempotency key), when it says one.
    pub command: Option<String>,
}

impl LogEvent {
    fn is<T: Name>(&self) -> bool {
        self.event.type_url == T::type_url()
    }

    fn get<T: Name + Default>(&self) -> Option<T> {
        decode(&self.event)
    }
}

/// Reads the whole log, positions 1..=head, through the gateway.
pub async fn read_log(sockets: &std::path::Path, head: u64) -> Result<Vec<LogEvent>, String> {
    let channel = angzarr_transport::channel(sockets.join("gateway.sock"))
        .await
        .map_err(|e| format!("connect to the gateway: {e}"))?;
    let request = SynchronizeRequest {
        after_position: 0,
        until_position: head,
        ..SynchronizeRequest::default()
    };
    let failed = |status: tonic::Status| format!("read the log: {status:?}");
    let books: Vec<_> = EventQueryClient::new(channel)
        .synchronize(request)
        .await
        .map_err(failed)?
        .into_inner()
        .try_collect()
        .await
        .map_err(failed)?;
    let mut log = Vec::new();
    for book in books {
        let cover = book.cover.unwrap_or_default();
        let root = cover.root_uuid().ok_or("a book without a root")?;
        for page in book.pages {
            log.push(LogEvent {
                domain: cover.domain.clone(),
                root,
                correlation: cover.correlation_id.clone(),
                sequence: page.sequence_num().ok_or("an event without a sequence")?,
                position: page.position,
                event: page.event.unwrap_or_default(),
                command: match page.causation.and_then(|c| c.cause) {
                    Some(Cause::CommandId(id)) => Some(id),
                    _ => None,
                },
            });
        }
    }
    Ok(log)
}

/// What the verification counted.
#[derive(Debug, Default)]
pub struct Counts {
    pub events: usize,
    pub histories: usize,
    pub acked_commands: usize,
    pub acked_events: usize,
    pub saga_triggers: usize,
    pub saga_commands: usize,
    pub completed: usize,
    pub cancelled: usize,
    pub projection_rows: usize,
}

/// Runs every check of the log; returns what was counted and every failure.
pub fn check_log(log: &[LogEvent], head: u64, record: &Record) -> (Counts, Vec<String>) {
    let mut v = Verifier {
        log,
        by_command: BTreeMap::new(),
        failures: Vec::new(),
        counts: Counts {
            events: log.len(),
            ..Counts::default()
        },
    };
    for event in log {
        if let Some(command) = &event.command {
            v.by_command
                .entry(command.as_str())
                .or_default()
                .push(event);
        }
    }
    v.positions_are_gapless(head);
    v.sequences_are_gapless();
    v.acknowledged_commands_are_stored_once(&record.acked);
    v.no_command_ran_twice();
    v.sagas_answered_every_trigger_once();
    v.purchases_reached_their_end(&record.purchases);
    v.stock_and_points_add_up(record);
    (v.counts, v.failures)
}

struct Verifier<'a> {
    log: &'a [LogEvent],
    /// Events by the command (idempotency key) that stored them, in log order.
    by_command: BTreeMap<&'a str, Vec<&'a LogEvent>>,
    failures: Vec<String>,
    counts: Counts,
}

impl<'a> Verifier<'a> {
    fn fail(&mut self, failure: String) {
        self.failures.push(failure);
    }

    /// Events of one history, in sequence order.
    fn history(&self, domain: &str, root: Uuid) -> Vec<&'a LogEvent> {
        self.log
            .iter()
            .filter(|e| e.domain == domain && e.root == root)
            .collect()
    }

    fn events_of<T: Name + Default>(&self, domain: &str, root: Uuid) -> Vec<T> {
        self.history(domain, root)
            .iter()
            .filter_map(|e| e.get::<T>())
            .collect()
    }

    fn positions_are_gapless(&mut self, head: u64) {
        let positions: Vec<u64> = self.log.iter().map(|e| e.position).collect();
        let expected: Vec<u64> = (1..=head).collect();
        if positions != expected {
            let first_off = positions.iter().zip(&expected).position(|(a, b)| a != b);
            self.fail(format!(
                "global positions are not 1..={head} in order: {} events, first difference at \
                 index {first_off:?}",
                positions.len()
            ));
        }
    }

    fn sequences_are_gapless(&mut self) {
        let mut histories: BTreeMap<(&str, Uuid), Vec<u32>> = BTreeMap::new();
        for event in self.log {
            histories
                .entry((&event.domain, event.root))
                .or_default()
                .push(event.sequence);
        }
        self.counts.histories = histories.len();
        for ((domain, root), sequences) in histories {
            let expected: Vec<u32> = (0..).take(sequences.len()).collect();
            if sequences != expected {
                self.fail(format!(
                    "{domain}/{root}: sequences {sequences:?} are not 0..n in log order"
                ));
            }
        }
    }

    /// Every acknowledged command's events are in the store, once, where the answer said.
    fn acknowledged_commands_are_stored_once(&mut self, acked: &[Acked]) {
        let mut keys = BTreeSet::new();
        for ack in acked {
            if !keys.insert(ack.key.as_str()) {
                self.fail(format!(
                    "{} was acknowledged twice by the client's count",
                    ack.key
                ));
            }
            let stored: Vec<(String, Uuid, u32, u64, String)> = self
                .by_command
                .get(ack.key.as_str())
                .map(|events| {
                    events
                        .iter()
                        .map(|e| {
                            (
                                e.domain.clone(),
                                e.root,
                                e.sequence,
                                e.position,
                                e.correlation.clone(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let answered: Vec<(String, Uuid, u32, u64, String)> = ack
                .events
                .iter()
                .map(|(s, p)| {
                    (
                        ack.domain.clone(),
                        ack.root,
                        *s,
                        *p,
                        ack.correlation.clone(),
                    )
                })
                .collect();
            if answered.is_empty() || stored != answered {
                self.fail(format!(
                    "acknowledged {}: answered {answered:?}, stored {stored:?}",
                    ack.key
                ));
            }
            self.counts.acked_events += answered.len();
        }
        self.counts.acked_commands = acked.len();
    }

    /// The events of one command are one run in one history: a command executed twice
    /// under its key would show as two runs (aggregates emit one event per command here; a
    /// reservation may add a LowStockAlert; process managers record up to two state events).
    fn no_command_ran_twice(&mut self) {
        let mut failures = Vec::new();
        for (command, events) in &self.by_command {
            let first = events[0];
            let one_run = events.iter().enumerate().all(|(i, e)| {
                e.domain == first.domain
                    && e.root == first.root
                    && e.sequence == first.sequence + i as u32
            });
            let aggregate = !matches!(first.domain.as_str(), "order-fulfillment" | "order-status");
            let size_ok = events.len() == 1
                || !aggregate && events.len() == 2
                || events.len() == 2 && events[1].is::<inventory::LowStockAlert>();
            if !one_run || !size_ok {
                let at: Vec<String> = events
                    .iter()
                    .map(|e| {
                        format!(
                            "{}/{}@{} {}",
                            e.domain, e.root, e.sequence, e.event.type_url
                        )
                    })
                    .collect();
                failures.push(format!(
                    "command {command} stored {} events: {at:?}",
                    events.len()
                ));
            }
        }
        self.failures.extend(failures);
    }

    /// The commands a saga emits for a trigger at position p carry the key
    /// `<saga>:<p>:<index>` (ARCHITECTURE.md, "Idempotency keys"): check each trigger led to
    /// exactly the commands it should, stored once.
    fn sagas_answered_every_trigger_once(&mut self) {
        let mut expected: Vec<(String, String, Uuid, String)> = Vec::new();
        for event in self.log.iter().filter(|e| e.domain == "order") {
            let (customer, items, points, inventory_event) =
                if let Some(done) = event.get::<order::OrderCompleted>() {
                    expected.push((
                        format!("saga-order-fulfillment:{}:0", event.position),
                        "fulfillment".into(),
                        event.root,
                        fulfillment::ShipmentCreated::type_url(),
                    ));
                    (
                        done.customer_id,
                        done.items,
                        done.loyalty_points_earned,
                        inventory::ReservationCommitted::type_url(),
                    )
                } else if let Some(off) = event.get::<order::OrderCancelled>() {
                    (
                        off.customer_id,
                        off.items,
                        off.loyalty_points_used,
                        inventory::ReservationReleased::type_url(),
                    )
                } else {
                    continue;
                };
            self.counts.saga_triggers += 1;
            if points > 0 {
                expected.push((
                    format!("saga-order-customer:{}:0", event.position),
                    "customer".into(),
                    key_root("customer", &customer),
                    customer::LoyaltyPointsAdded::type_url(),
                ));
            }
            let mut products: Vec<&str> = Vec::new();
            for item in &items {
                if !products.contains(&item.product_id.as_str()) {
                    products.push(&item.product_id);
                }
            }
            for (index, product) in products.iter().enumerate() {
                expected.push((
                    format!("saga-order-inventory:{}:{index}", event.position),
                    "inventory".into(),
                    key_root("inventory", product),
                    inventory_event.clone(),
                ));
            }
        }
        for (key, domain, root, type_url) in expected {
            let stored: Vec<(String, Uuid, String)> = self
                .by_command
                .get(key.as_str())
                .map(|events| {
                    events
                        .iter()
                        .map(|e| (e.domain.clone(), e.root, e.event.type_url.clone()))
                        .collect()
                })
                .unwrap_or_default();
            if stored != vec![(domain.clone(), root, type_url.clone())] {
                self.fail(format!(
                    "{key}: expected one {type_url} at {domain}/{root}, stored {stored:?}"
                ));
            }
            self.counts.saga_commands += 1;
        }
    }

    /// Each purchase, as the client knows it, left exactly its traces: one shipment (shipped
    /// once by the process manager) per completed order, none for a cancelled one, one
    /// reservation per cart line taken once and ended once, points credited once per reason,
    /// and the order-status process manager's transitions in a chain without repeats.
    fn purchases_reached_their_end(&mut self, purchases: &[Purchase]) {
        let orders: BTreeSet<Uuid> = self
            .log
            .iter()
            .filter(|e| e.domain == "order")
            .map(|e| e.root)
            .collect();
        let bought: BTreeSet<Uuid> = purchases.iter().map(|p| p.order).collect();
        if orders != bought {
            self.fail(format!(
                "the log has {} orders, the clients made {}",
                orders.len(),
                bought.len()
            ));
        }
        for purchase in purchases {
            self.purchase_reached_its_end(purchase);
        }
    }

    fn purchase_reached_its_end(&mut self, p: &Purchase) {
        let r = p.order;
        let completed = matches!(p.outcome, Outcome::Completed { .. });
        if completed {
            self.counts.completed += 1;
        } else {
            self.counts.cancelled += 1;
        }
        let shipments = self
            .events_of::<fulfillment::ShipmentCreated>("fulfillment", r)
            .len();
        let shipped: Vec<String> = self
            .events_of::<fulfillment::Shipped>("fulfillment", r)
            .into_iter()
            .map(|s| s.tracking_number)
            .collect();
        let expected_shipped = if completed {
            vec![format!("auto-{r}")]
        } else {
            vec![]
        };
        if shipments != usize::from(completed) || shipped != expected_shipped {
            self.fail(format!(
                "order {r} ({:?}): {shipments} ShipmentCreated, Shipped {shipped:?}",
                p.outcome
            ));
        }

        let pm = key_root("order-fulfillment", &p.correlation);
        let mut prerequisites: Vec<String> = self
            .events_of::<order_fulfillment::PrerequisiteCompleted>("order-fulfillment", pm)
            .into_iter()
            .map(|e| e.prerequisite)
            .collect();
        prerequisites.sort();
        let dispatched = self
            .events_of::<order_fulfillment::DispatchIssued>("order-fulfillment", pm)
            .len();
        let unique: BTreeSet<&String> = prerequisites.iter().collect();
        if unique.len() != prerequisites.len()
            || completed && (prerequisites.len() != 3 || dispatched != 1)
            || !completed && dispatched != 0
        {
            self.fail(format!(
                "order-fulfillment {}: prerequisites {prerequisites:?}, {dispatched} DispatchIssued",
                p.correlation
            ));
        }

        let status = key_root("order-status", &p.correlation);
        let changes = self.events_of::<order_status::OrderStatusChanged>("order-status", status);
        let chained = changes.iter().try_fold(String::new(), |previous, change| {
            (change.from_status == previous).then(|| change.to_status.clone())
        });
        let last = if completed { "shipping" } else { "cancelled" };
        let distinct: BTreeSet<&str> = changes.iter().map(|c| c.to_status.as_str()).collect();
        if chained.as_deref() != Some(last) || distinct.len() != changes.len() {
            let steps: Vec<String> = changes
                .iter()
                .map(|c| format!("{}->{}", c.from_status, c.to_status))
                .collect();
            self.fail(format!(
                "order-status {}: {steps:?}, expected to end {last}",
                p.correlation
            ));
        }

        let cart = p.cart.to_string();
        for (sku, quantity, _) in &p.lines {
            let history = self.history("inventory", key_root("inventory", sku));
            let count = |type_url: String| {
                history
                    .iter()
                    .filter(|e| e.event.type_url == type_url)
                    .filter(|e| reservation_key(e).as_deref() == Some(cart.as_str()))
                    .count()
            };
            let reserved = count(inventory::StockReserved::type_url());
            let committed = count(inventory::ReservationCommitted::type_url());
            let released = count(inventory::ReservationReleased::type_url());
            let ended = if completed { (1, 0) } else { (0, 1) };
            if reserved != 1 || (committed, released) != ended {
                self.fail(format!(
                    "cart {cart} line {quantity}x{sku}: reserved {reserved}, committed {committed}, \
                     released {released} ({:?})",
                    p.outcome
                ));
            }
        }

        let credits: Vec<i64> = self
            .events_of::<customer::LoyaltyPointsAdded>(
                "customer",
                key_root("customer", &p.customer),
            )
            .into_iter()
            .filter(|a| a.reason == format!("order:{r}") || a.reason == format!("refund:{r}"))
            .map(|a| a.points)
            .collect();
        let expected = match p.outcome {
            Outcome::Completed { earned, .. } if earned > 0 => vec![earned],
            Outcome::Cancelled if p.points_used > 0 => vec![p.points_used],
            _ => vec![],
        };
        if credits != expected {
            self.fail(format!(
                "order {r}: points credited {credits:?}, expected {expected:?}"
            ));
        }
    }

    /// Stock on hand is what the completed orders took; nothing stays reserved; each
    /// customer's balance is earned minus redeemed plus refunded.
    fn stock_and_points_add_up(&mut self, record: &Record) {
        for expectation in expectations(record) {
            let actual = match &expectation.of {
                Of::Stock(sku) => self
                    .history("inventory", key_root("inventory", sku))
                    .last()
                    .and_then(|e| stock_after(e))
                    .map(|(on_hand, reserved)| vec![i64::from(on_hand), i64::from(reserved)]),
                Of::Points(email) => Some(vec![
                    self.history("customer", key_root("customer", email))
                        .iter()
                        .filter_map(|e| balance_after(e))
                        .next_back()
                        .unwrap_or(0),
                ]),
            };
            if actual.as_ref() != Some(&expectation.values) {
                self.fail(format!(
                    "{:?}: expected {:?}, the log says {actual:?}",
                    expectation.of, expectation.values
                ));
            }
        }
    }
}

/// What one aggregate must end at, from the clients' record.
#[derive(Debug)]
struct Expectation {
    of: Of,
    /// Stock: [on hand, reserved]. Points: [balance].
    values: Vec<i64>,
}

#[derive(Debug)]
enum Of {
    Stock(String),
    Points(String),
}

fn expectations(record: &Record) -> Vec<Expectation> {
    let mut taken: BTreeMap<&str, i64> = PRODUCTS.iter().map(|(sku, _)| (*sku, 0)).collect();
    let mut points: BTreeMap<String, i64> = BTreeMap::new();
    for p in &record.purchases {
        let balance = points.entry(p.customer.clone()).or_default();
        match p.outcome {
            Outcome::Completed { earned, .. } => {
                *balance += earned;
                for (sku, quantity, _) in &p.lines {
                    *taken.entry(sku).or_default() += i64::from(*quantity);
                }
            }
            Outcome::Cancelled => *balance += p.points_used,
        }
    }
    for (email, redeemed) in &record.redeemed {
        *points.entry(email.clone()).or_default() -= redeemed;
    }
    let stock = taken.into_iter().map(|(sku, taken)| Expectation {
        of: Of::Stock(sku.to_string()),
        values: vec![i64::from(INITIAL_STOCK) - taken, 0],
    });
    let balances = points.into_iter().map(|(email, balance)| Expectation {
        of: Of::Points(email),
        values: vec![balance],
    });
    stock.chain(balances).collect()
}

/// (reservation key, on hand, reserved) after a reservation event.
fn reservation(event: &LogEvent) -> Option<(String, i32, i32)> {
    if let Some(e) = event.get::<inventory::StockReserved>() {
        return Some((e.order_id, e.new_on_hand, e.new_reserved));
    }
    if let Some(e) = event.get::<inventory::ReservationCommitted>() {
        return Some((e.order_id, e.new_on_hand, e.new_reserved));
    }
    let e = event.get::<inventory::ReservationReleased>()?;
    Some((e.order_id, e.new_on_hand, e.new_reserved))
}

fn reservation_key(event: &LogEvent) -> Option<String> {
    reservation(event).map(|(key, _, _)| key)
}

/// (on hand, reserved) after an inventory event that says them.
fn stock_after(event: &LogEvent) -> Option<(i32, i32)> {
    match event.get::<inventory::StockInitialized>() {
        Some(e) => Some((e.quantity, 0)),
        None => reservation(event).map(|(_, on_hand, reserved)| (on_hand, reserved)),
    }
}

fn balance_after(event: &LogEvent) -> Option<i64> {
    event
        .get::<customer::LoyaltyPointsAdded>()
        .map(|e| e.new_balance)
        .or_else(|| {
            event
                .get::<customer::LoyaltyPointsRedeemed>()
                .map(|e| e.new_balance)
        })
}

/// The read models after the kills must equal a replay of the log into empty ones, and say
/// what the clients' record says.
pub fn check_projections(
    after_chaos: &[(String, Rows)],
    replayed: &[(String, Rows)],
    record: &Record,
    counts: &mut Counts,
) -> Vec<String> {
    let mut failures = Vec::new();
    for ((name, rows), (_, again)) in after_chaos.iter().zip(replayed) {
        counts.projection_rows += rows.len();
        if rows != again {
            let keys = |rows: &Rows| rows.iter().map(|(k, _)| k.clone()).collect::<BTreeSet<_>>();
            let differing: Vec<&String> = rows
                .iter()
                .filter(|row| !again.contains(row))
                .map(|(k, _)| k)
                .collect();
            failures.push(format!(
                "{name}: the rows after the kills differ from a replay: {} vs {} rows, keys only \
                 before {:?}, rows that differ {differing:?}",
                rows.len(),
                again.len(),
                keys(rows).difference(&keys(again)).collect::<Vec<_>>()
            ));
        }
    }
    let rows_of = |name: &str| -> BTreeMap<String, Any> {
        after_chaos
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, rows)| rows.iter().cloned().collect())
            .unwrap_or_default()
    };
    let (web, ledger, loyalty, stock) = (
        rows_of("projector-order-web"),
        rows_of("projector-order-accounting"),
        rows_of("projector-customer-loyalty"),
        rows_of("projector-inventory-stock"),
    );
    for p in &record.purchases {
        let r = p.order.to_string();
        let view = web.get(&r).and_then(decode::<OrderView>);
        let revenue = ledger
            .get(&format!("{r}:revenue"))
            .and_then(decode::<LedgerEntry>);
        let (status, total, booked) = match p.outcome {
            Outcome::Completed { final_total, .. } => ("completed", final_total, Some(final_total)),
            Outcome::Cancelled => ("cancelled", p.subtotal() - p.points_used, None),
        };
        let seen = view.map(|v| (v.status, v.total_cents));
        if seen != Some((status.to_string(), total)) || revenue.map(|e| e.amount_cents) != booked {
            failures.push(format!("order {r}: web row {seen:?}, ledger revenue {booked:?} expected ({status}, {total})"));
        }
    }
    for expectation in expectations(record) {
        let actual = match &expectation.of {
            Of::Stock(sku) => stock
                .get(&key_root("inventory", sku).to_string())
                .and_then(decode::<StockLevel>)
                .map(|s| vec![i64::from(s.on_hand), i64::from(s.reserved)]),
            Of::Points(email) => loyalty
                .get(&key_root("customer", email).to_string())
                .and_then(decode::<LoyaltyView>)
                .map(|l| vec![l.current_points]),
        };
        if actual.as_ref() != Some(&expectation.values) {
            failures.push(format!(
                "read model of {:?}: {actual:?}, expected {:?}",
                expectation.of, expectation.values
            ));
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One cart event at `position`, stored by command `key`.
    fn event(root: Uuid, sequence: u32, position: u64, key: &str) -> LogEvent {
        LogEvent {
            domain: "cart".into(),
            root,
            correlation: "c".into(),
            sequence,
            position,
            event: Any::default(),
            command: Some(key.into()),
        }
    }

    fn acked(key: &str, root: Uuid, events: Vec<(u32, u64)>) -> Acked {
        Acked {
            key: key.into(),
            domain: "cart".into(),
            root,
            correlation: "c".into(),
            events,
        }
    }

    fn failures(log: &[LogEvent], head: u64, acked: Vec<Acked>) -> Vec<String> {
        let record = Record {
            acked,
            ..Record::default()
        };
        check_log(log, head, &record).1
    }

    #[test]
    fn a_clean_log_passes_and_each_defect_is_reported() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut clean = vec![
            event(a, 0, 1, "k1"),
            event(b, 0, 2, "k2"),
            event(a, 1, 3, "k3"),
        ];
        // The products' stock, as the fixture initializes it.
        for (sku, _) in PRODUCTS {
            let stock = inventory::StockInitialized {
                product_id: (*sku).into(),
                quantity: INITIAL_STOCK,
                ..Default::default()
            };
            clean.push(LogEvent {
                domain: "inventory".into(),
                root: key_root("inventory", sku),
                event: Any::from_msg(&stock).expect("pack"),
                command: None,
                ..event(a, 0, clean.len() as u64 + 1, "")
            });
        }
        let head = clean.len() as u64;
        let answers = || {
            vec![
                acked("k1", a, vec![(0, 1)]),
                acked("k2", b, vec![(0, 2)]),
                acked("k3", a, vec![(1, 3)]),
            ]
        };
        assert_eq!(failures(&clean, head, answers()), Vec::<String>::new());

        let check = |log: Vec<LogEvent>, head: u64, words: &str| {
            let found = failures(&log, head, answers());
            assert!(
                found.iter().any(|f| f.contains(words)),
                "{words}: {found:?}"
            );
        };
        // A position missing from the log.
        let mut gap = clean.clone();
        gap[2].position = head + 1;
        check(gap, head + 1, "global positions");
        // A sequence skipped in one history.
        let mut skipped = clean.clone();
        skipped[2].sequence = 2;
        check(skipped, head, "sequences");
        // An acknowledged command whose event is not stored.
        let mut lost = clean.clone();
        lost[2].command = None;
        check(lost, head, "acknowledged k3");
        // A command executed twice under its key.
        let mut twice = clean.clone();
        twice.push(event(a, 2, head + 1, "k3"));
        check(twice, head + 1, "command k3 stored 2 events");
        // Stock that does not add up.
        let mut taken = clean.clone();
        taken.truncate(3);
        check(taken, 3, "Stock(\"CHAOS-A\")");
    }
}
