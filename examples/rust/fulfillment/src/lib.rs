//! The fulfillment aggregate (examples-spec §3.6): one shipment per order, at the order's root.
//!
//! The lifecycle moves strictly one step at a time, so each handler guards existence, then the
//! one status it accepts, then its fields; `apply` copies each event's facts into the state.

use angzarr_client::{CommandRouter, Rejection, now};

use example_proto::fulfillment::{
    CreateShipment, Delivered, FulfillmentState, ItemsPacked, ItemsPicked, MarkPacked, MarkPicked,
    RecordDelivery, Ship, ShipmentCreated, Shipped,
};

const PENDING: &str = "pending";
const PICKED: &str = "picked";
const PACKED: &str = "packed";
const SHIPPED: &str = "shipped";
const DELIVERED: &str = "delivered";

/// The fulfillment aggregate: its commands and how its events fold into state.
pub fn aggregate() -> CommandRouter<FulfillmentState> {
    CommandRouter::new("fulfillment")
        .on(create_shipment)
        .on(mark_picked)
        .on(mark_packed)
        .on(ship)
        .on(record_delivery)
        .apply(|state: &mut FulfillmentState, e: ShipmentCreated| {
            state.exists = true;
            state.order_id = e.order_id;
            state.status = e.status;
        })
        .apply(|state: &mut FulfillmentState, e: ItemsPicked| {
            state.status = PICKED.into();
            state.picker_id = e.picker_id;
        })
        .apply(|state: &mut FulfillmentState, e: ItemsPacked| {
            state.status = PACKED.into();
            state.packer_id = e.packer_id;
        })
        .apply(|state: &mut FulfillmentState, e: Shipped| {
            state.status = SHIPPED.into();
            state.carrier = e.carrier;
            state.tracking_number = e.tracking_number;
        })
        .apply(|state: &mut FulfillmentState, e: Delivered| {
            state.status = DELIVERED.into();
            state.signature = e.signature;
        })
}

fn create_shipment(
    state: &FulfillmentState,
    cmd: CreateShipment,
) -> Result<ShipmentCreated, Rejection> {
    if state.exists {
        return Err(Rejection::failed_precondition("shipment already exists"));
    }
    require(&cmd.order_id, "order_id")?;
    Ok(ShipmentCreated {
        order_id: cmd.order_id,
        status: PENDING.into(),
        created_at: Some(now()),
    })
}

fn mark_picked(state: &FulfillmentState, cmd: MarkPicked) -> Result<ItemsPicked, Rejection> {
    require_status(state, PENDING)?;
    require(&cmd.picker_id, "picker_id")?;
    Ok(ItemsPicked {
        picker_id: cmd.picker_id,
        picked_at: Some(now()),
    })
}

fn mark_packed(state: &FulfillmentState, cmd: MarkPacked) -> Result<ItemsPacked, Rejection> {
    require_status(state, PICKED)?;
    require(&cmd.packer_id, "packer_id")?;
    Ok(ItemsPacked {
        packer_id: cmd.packer_id,
        packed_at: Some(now()),
    })
}

fn ship(state: &FulfillmentState, cmd: Ship) -> Result<Shipped, Rejection> {
    require_status(state, PACKED)?;
    require(&cmd.carrier, "carrier")?;
    require(&cmd.tracking_number, "tracking_number")?;
    Ok(Shipped {
        carrier: cmd.carrier,
        tracking_number: cmd.tracking_number,
        shipped_at: Some(now()),
    })
}

fn record_delivery(state: &FulfillmentState, cmd: RecordDelivery) -> Result<Delivered, Rejection> {
    if state.status == DELIVERED {
        return Err(Rejection::failed_precondition("shipment already delivered"));
    }
    require_status(state, SHIPPED)?;
    Ok(Delivered {
        signature: cmd.signature,
        delivered_at: Some(now()),
    })
}

/// Existence first, then exactly the status that precedes the command's step.
fn require_status(state: &FulfillmentState, expected: &str) -> Result<(), Rejection> {
    if !state.exists {
        return Err(Rejection::failed_precondition("shipment does not exist"));
    }
    if state.status != expected {
        return Err(Rejection::failed_precondition(format!(
            "shipment is not {expected} (it is {})",
            state.status
        )));
    }
    Ok(())
}

fn require(value: &str, field: &str) -> Result<(), Rejection> {
    if value.is_empty() {
        return Err(Rejection::invalid_argument(format!("{field} is required")));
    }
    Ok(())
}
