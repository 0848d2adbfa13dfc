//! The load: shoppers buying in the shop while the run kills things, as real clients would.
//!
//! Every command carries an idempotency key derived from the run, the shopper, the purchase
//! and the step. A command that gets no answer (the runtime died, a component is restarting,
//! the call timed out) is sent again, byte for byte, until it is acknowledged: the store
//! either has it (and answers from its idempotency record) or runs it now. What was
//! acknowledged, with the events the answer named, is written down for the verification.
//!
//! A purchase is the shop's whole flow: a cart (saga-cart-inventory reserves its lines),
//! checkout, an order from it, sometimes a loyalty discount from redeemed points, then either
//! payment and confirmation (sagas: shipment, points, committed reservations; the client then
//! picks and packs, and the order-fulfillment process manager ships) or a cancellation
//! (released reservations, refunded points).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use angzarr_proto::command_gateway_client::CommandGatewayClient;
use angzarr_proto::event_query_client::EventQueryClient;
use angzarr_proto::{
    CommandBook, CommandPage, CommandResponse, Cover, CoverExt, EventPage, EventPageExt, Query,
    SyncMode,
};
use example_proto::{cart, customer, fulfillment, inventory, key_root, order, product};
use futures::TryStreamExt;
use prost::Name;
use prost_types::Any;
use tokio::time::Instant;
use tonic::transport::Channel;
use tonic::{Code, Status};
use uuid::Uuid;

use crate::rng::Rng;

/// How long one command may stay unacknowledged, retries included, before the run fails.
const COMMAND_DEADLINE: Duration = Duration::from_secs(90);
/// How long one call may take before the client gives up on it and retries.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The products on sale: (SKU, price in cents). Stock is plenty: no reservation is refused.
pub const PRODUCTS: &[(&str, i64)] = &[("CHAOS-A", 2500), ("CHAOS-B", 1000), ("CHAOS-C", 750)];
pub const INITIAL_STOCK: i32 = 1_000_000;
/// Points redeemed for a loyalty discount (one cent each).
pub const REDEEM: i64 = 100;

/// One acknowledged command and the events its answer named.
#[derive(Debug, Clone)]
pub struct Acked {
    pub key: String,
    pub domain: String,
    pub root: Uuid,
    pub correlation: String,
    /// (sequence, global position) of each event in the answer.
    pub events: Vec<(u32, u64)>,
}

/// How a purchase ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Paid and confirmed, then picked and packed.
    Completed { final_total: i64, earned: i64 },
    /// Cancelled (after payment or not).
    Cancelled,
}

/// One purchase, from the client's side.
#[derive(Debug, Clone)]
pub struct Purchase {
    pub correlation: String,
    pub customer: String,
    pub cart: Uuid,
    pub order: Uuid,
    /// (SKU, quantity, unit price).
    pub lines: Vec<(String, i32, i64)>,
    pub points_used: i64,
    pub outcome: Outcome,
}

impl Purchase {
    pub fn subtotal(&self) -> i64 {
        self.lines.iter().map(|(_, q, p)| i64::from(*q) * p).sum()
    }
}

/// What the clients did, shared by every shopper.
#[derive(Debug, Default)]
pub struct Record {
    pub acked: Vec<Acked>,
    pub purchases: Vec<Purchase>,
    /// Calls made (first tries and retries).
    pub calls: u64,
    /// Retries, by the status that caused them.
    pub retries: BTreeMap<String, u64>,
    /// Points each customer redeemed.
    pub redeemed: BTreeMap<String, i64>,
    /// Commands acknowledged, by sync mode.
    pub by_sync_mode: BTreeMap<&'static str, u64>,
    /// Projections that synchronous answers carried.
    pub sync_projections: u64,
}

/// The sync mode a command is sent with: a quarter SIMPLE, a quarter CASCADE, the rest NONE,
/// fixed by its key so that a retry is the same request byte for byte.
fn sync_mode_for(key: &str) -> SyncMode {
    // FNV-1a: stable across runs and platforms, unlike the standard library's hasher.
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    match hash % 4 {
        0 => SyncMode::Simple,
        1 => SyncMode::Cascade,
        _ => SyncMode::None,
    }
}

/// A client of the gateway that retries until acknowledged.
#[derive(Clone)]
pub struct Client {
    gateway: CommandGatewayClient<Channel>,
    query: EventQueryClient<Channel>,
    record: Arc<Mutex<Record>>,
}

impl Client {
    /// A client of the gateway in `sockets` (reconnecting after the runtime restarts).
    pub fn new(sockets: &std::path::Path, record: Arc<Mutex<Record>>) -> Self {
        let channel = angzarr_transport::channel_lazy(sockets.join("gateway.sock"));
        Self {
            gateway: CommandGatewayClient::new(channel.clone()),
            query: EventQueryClient::new(channel),
            record,
        }
    }

    fn note<T>(&self, f: impl FnOnce(&mut Record) -> T) -> T {
        f(&mut self.record.lock().expect("the record's lock"))
    }

    /// Sends `command` to `domain`/`root` under `correlation` with idempotency key `key`
    /// until it is acknowledged; a rejection or the deadline is an error.
    pub async fn send<M: Name>(
        &self,
        key: &str,
        correlation: &str,
        domain: &str,
        root: Uuid,
        command: &M,
    ) -> Result<CommandResponse, String> {
        let book = CommandBook {
            cover: Some(Cover {
                correlation_id: correlation.to_string(),
                ..Cover::for_root(domain, root)
            }),
            pages: vec![CommandPage {
                sequence: None,
                command: Some(Any::from_msg(command).map_err(|e| e.to_string())?),
            }],
            idempotency_key: key.to_string(),
            sync_mode: sync_mode_for(key) as i32,
            ..CommandBook::default()
        };
        let deadline = Instant::now() + COMMAND_DEADLINE;
        let mut pause = Duration::from_millis(20);
        loop {
            self.note(|r| r.calls += 1);
            let mut gateway = self.gateway.clone();
            let call = gateway.execute(book.clone());
            let why = match tokio::time::timeout(CALL_TIMEOUT, call).await {
                Ok(Ok(response)) => {
                    let response = response.into_inner();
                    self.acknowledged(key, correlation, domain, root, &response)?;
                    return Ok(response);
                }
                Ok(Err(status)) if retryable(&status) => format!("{:?}", status.code()),
                Ok(Err(status)) => {
                    return Err(format!(
                        "{} {key} to {domain}/{root} was refused: {:?} {}",
                        M::NAME,
                        status.code(),
                        status.message()
                    ));
                }
                Err(_) => "timeout".to_string(),
            };
            self.note(|r| *r.retries.entry(why.clone()).or_default() += 1);
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} {key} to {domain}/{root} was not acknowledged within \
                     {COMMAND_DEADLINE:?} (last: {why})",
                    M::NAME
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(400));
        }
    }

    fn acknowledged(
        &self,
        key: &str,
        correlation: &str,
        domain: &str,
        root: Uuid,
        response: &CommandResponse,
    ) -> Result<(), String> {
        let pages = response
            .events
            .as_ref()
            .map(|b| b.pages.as_slice())
            .unwrap_or_default();
        let events = pages
            .iter()
            .map(|page| {
                Ok((
                    page.sequence_num().ok_or("an event without a sequence")?,
                    page.position,
                ))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let mode = sync_mode_for(key);
        if mode == SyncMode::None && !response.projections.is_empty() {
            return Err(format!(
                "{key} was sent without a sync mode but answered with {} projections",
                response.projections.len()
            ));
        }
        if let Some(unnamed) = response.projections.iter().find(|p| p.projector.is_empty()) {
            return Err(format!(
                "{key} was answered with a projection of no projector: {unnamed:?}"
            ));
        }
        self.note(|r| {
            *r.by_sync_mode.entry(mode.as_str_name()).or_default() += 1;
            r.sync_projections += response.projections.len() as u64;
            r.acked.push(Acked {
                key: key.to_string(),
                domain: domain.to_string(),
                root,
                correlation: correlation.to_string(),
                events,
            });
        });
        Ok(())
    }

    /// The events of one aggregate; retried like commands.
    pub async fn history(&self, domain: &str, root: Uuid) -> Result<Vec<EventPage>, String> {
        let deadline = Instant::now() + COMMAND_DEADLINE;
        loop {
            let query = Query {
                cover: Some(Cover::for_root(domain, root)),
                selection: None,
            };
            let read = async {
                let books: Vec<_> = self
                    .query
                    .clone()
                    .get_events(query)
                    .await?
                    .into_inner()
                    .try_collect()
                    .await?;
                Ok::<_, Status>(books.into_iter().flat_map(|b| b.pages).collect::<Vec<_>>())
            };
            match tokio::time::timeout(CALL_TIMEOUT, read).await {
                Ok(Ok(pages)) => return Ok(pages),
                Ok(Err(status)) if !retryable(&status) => {
                    return Err(format!("events of {domain}/{root}: {status:?}"));
                }
                _ if Instant::now() >= deadline => {
                    return Err(format!(
                        "events of {domain}/{root}: no answer within {COMMAND_DEADLINE:?}"
                    ));
                }
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Waits until `domain`/`root` has an event `T` satisfying `wanted` (the client waiting
    /// for what a saga does for it).
    async fn wait_for<T: Name + Default>(
        &self,
        domain: &str,
        root: Uuid,
        wanted: impl Fn(&T) -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + COMMAND_DEADLINE;
        loop {
            let pages = self.history(domain, root).await?;
            if pages
                .iter()
                .filter_map(|p| decode::<T>(p.event.as_ref()?))
                .any(|e| wanted(&e))
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{domain}/{root} had no {} after {COMMAND_DEADLINE:?}",
                    T::NAME
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Statuses a client retries with the same key: the runtime or a component was down or
/// restarting, the connection broke, or a conflict outlasted the runtime's own retries.
fn retryable(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable
            | Code::Unknown
            | Code::Cancelled
            | Code::DeadlineExceeded
            | Code::Aborted
    )
}

/// `any` as a `T` when it is one.
pub fn decode<T: Name + Default>(any: &Any) -> Option<T> {
    (any.type_url == T::type_url())
        .then(|| any.to_msg().ok())
        .flatten()
}

/// The customer of shopper `shopper`.
pub fn customer_email(run: &str, shopper: usize) -> String {
    format!("shopper-{shopper}-{run}@chaos.example")
}

/// Creates the products, their stock and one customer per shopper (before any kill).
pub async fn fixture(client: &Client, run: &str, shoppers: usize) -> Result<(), String> {
    let setup = format!("chaos-{run}-fixture");
    for (sku, price) in PRODUCTS {
        let create = product::CreateProduct {
            sku: (*sku).into(),
            name: format!("Chaos {sku}"),
            description: String::new(),
            price_cents: *price,
        };
        let key = format!("{setup}:product:{sku}");
        client
            .send(&key, &setup, "product", key_root("product", sku), &create)
            .await?;
        let stock = inventory::InitializeStock {
            product_id: (*sku).into(),
            quantity: INITIAL_STOCK,
            low_stock_threshold: 10,
        };
        let key = format!("{setup}:stock:{sku}");
        client
            .send(
                &key,
                &setup,
                "inventory",
                key_root("inventory", sku),
                &stock,
            )
            .await?;
    }
    for shopper in 0..shoppers {
        let email = customer_email(run, shopper);
        let create = customer::CreateCustomer {
            name: format!("Shopper {shopper}"),
            email: email.clone(),
        };
        let key = format!("{setup}:customer:{shopper}");
        client
            .send(
                &key,
                &setup,
                "customer",
                key_root("customer", &email),
                &create,
            )
            .await?;
    }
    Ok(())
}

/// One shopper: purchases one after the other until `stop` is set, finishing the current one.
pub async fn shopper(
    client: Client,
    run: String,
    shopper: usize,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
) -> Result<(), String> {
    let mut number = 0;
    while !stop.load(Ordering::SeqCst) {
        let purchase = Shopping {
            client: &client,
            correlation: format!("chaos-{run}-{shopper}-{number}"),
            customer: customer_email(&run, shopper),
        }
        .buy(&mut rng)
        .await?;
        client.note(|r| r.purchases.push(purchase));
        number += 1;
    }
    Ok(())
}

/// One purchase under way.
struct Shopping<'a> {
    client: &'a Client,
    correlation: String,
    customer: String,
}

impl Shopping<'_> {
    /// Sends `command` as step `step` of this purchase.
    async fn step<M: Name>(
        &self,
        step: &str,
        domain: &str,
        root: Uuid,
        command: &M,
    ) -> Result<CommandResponse, String> {
        let key = format!("{}:{step}", self.correlation);
        self.client
            .send(&key, &self.correlation, domain, root, command)
            .await
    }

    async fn buy(self, rng: &mut Rng) -> Result<Purchase, String> {
        let (cart_root, order_root) = (rng.uuid(), rng.uuid());
        let mut lines = Vec::new();
        let first = rng.below(PRODUCTS.len() as u64) as usize;
        for offset in 0..=rng.below(2) as usize {
            let (sku, price) = PRODUCTS[(first + offset) % PRODUCTS.len()];
            lines.push((sku.to_string(), 1 + rng.below(3) as i32, price));
        }

        self.step(
            "cart",
            "cart",
            cart_root,
            &cart::CreateCart {
                customer_id: self.customer.clone(),
            },
        )
        .await?;
        for (sku, quantity, price) in &lines {
            let add = cart::AddItem {
                product_id: sku.clone(),
                name: sku.clone(),
                quantity: *quantity,
                unit_price_cents: *price,
            };
            self.step(&format!("add:{sku}"), "cart", cart_root, &add)
                .await?;
        }
        self.step("checkout", "cart", cart_root, &cart::Checkout {})
            .await?;
        // The order takes over the cart's reservations: wait until the cart saga made them.
        let key = cart_root.to_string();
        for (sku, quantity, _) in &lines {
            self.client
                .wait_for(
                    "inventory",
                    key_root("inventory", sku),
                    |e: &inventory::StockReserved| e.order_id == key && e.quantity == *quantity,
                )
                .await?;
        }

        let customer_root = key_root("customer", &self.customer);
        let mut points_used = 0;
        if rng.chance(0.3) && balance(self.client, customer_root).await? >= REDEEM {
            let redeem = customer::RedeemLoyaltyPoints {
                points: REDEEM,
                redemption_type: "discount".into(),
            };
            self.step("redeem", "customer", customer_root, &redeem)
                .await?;
            self.client
                .note(|r| *r.redeemed.entry(self.customer.clone()).or_default() += REDEEM);
            points_used = REDEEM;
        }

        let items = lines
            .iter()
            .map(|(sku, quantity, price)| order::LineItem {
                product_id: sku.clone(),
                name: sku.clone(),
                quantity: *quantity,
                unit_price_cents: *price,
            })
            .collect();
        let create = order::CreateOrder {
            customer_id: self.customer.clone(),
            cart_id: cart_root.to_string(),
            items,
        };
        self.step("order", "order", order_root, &create).await?;
        if points_used > 0 {
            let discount = order::ApplyLoyaltyDiscount {
                points: points_used,
                discount_cents: points_used,
            };
            self.step("discount", "order", order_root, &discount)
                .await?;
        }
        let mut purchase = Purchase {
            correlation: self.correlation.clone(),
            customer: self.customer.clone(),
            cart: cart_root,
            order: order_root,
            lines,
            points_used,
            outcome: Outcome::Cancelled,
        };
        let total = purchase.subtotal() - points_used;
        let cancel = rng.chance(0.25);
        if !cancel || rng.chance(0.5) {
            let pay = order::SubmitPayment {
                payment_method: "card".into(),
                amount_cents: total,
            };
            self.step("pay", "order", order_root, &pay).await?;
        }
        if cancel {
            let cancel = order::CancelOrder {
                reason: "changed mind".into(),
            };
            self.step("cancel", "order", order_root, &cancel).await?;
            return Ok(purchase);
        }
        let confirm = order::ConfirmPayment {
            payment_reference: format!("PAY-{}", self.correlation),
        };
        self.step("confirm", "order", order_root, &confirm).await?;
        // The shipment is saga-order-fulfillment's: pick and pack once it exists.
        self.client
            .wait_for(
                "fulfillment",
                order_root,
                |_: &fulfillment::ShipmentCreated| true,
            )
            .await?;
        let pick = fulfillment::MarkPicked {
            picker_id: "picker".into(),
        };
        self.step("pick", "fulfillment", order_root, &pick).await?;
        let pack = fulfillment::MarkPacked {
            packer_id: "packer".into(),
        };
        self.step("pack", "fulfillment", order_root, &pack).await?;
        purchase.outcome = Outcome::Completed {
            final_total: total,
            earned: total / 100,
        };
        Ok(purchase)
    }
}

/// A customer's loyalty balance, from its last event that says one.
async fn balance(client: &Client, customer: Uuid) -> Result<i64, String> {
    let pages = client.history("customer", customer).await?;
    Ok(pages
        .iter()
        .filter_map(|p| p.event.as_ref())
        .filter_map(|e| {
            decode::<customer::LoyaltyPointsAdded>(e)
                .map(|a| a.new_balance)
                .or_else(|| decode::<customer::LoyaltyPointsRedeemed>(e).map(|r| r.new_balance))
        })
        .next_back()
        .unwrap_or(0))
}
