//! The order aggregate (examples-spec §3.5).
//!
//! An order is priced from its own lines and its loyalty discount. Each handler checks in the
//! spec's order: existence, lifecycle, the command's fields, then the state; it emits one event
//! carrying the facts after the change, and `apply` copies those facts into the state.

use angzarr_client::{CommandRouter, Rejection, now};

use example_proto::order::{
    ApplyLoyaltyDiscount, CancelOrder, ConfirmPayment, CreateOrder, LineItem,
    LoyaltyDiscountApplied, OrderCancelled, OrderCompleted, OrderCreated, OrderState,
    PaymentSubmitted, SubmitPayment,
};

const PENDING: &str = "pending";
const PAYMENT_SUBMITTED: &str = "payment_submitted";
const COMPLETED: &str = "completed";
const CANCELLED: &str = "cancelled";

// What the lifecycle refuses, by status.
const NOT_PENDING: &str = "order is not pending";
const ALREADY_SUBMITTED: &str = "payment already submitted";
const NOT_SUBMITTED: &str = "payment not submitted";
const ALREADY_COMPLETED: &str = "order already completed";
const IS_CANCELLED: &str = "order is cancelled";
const ALREADY_CANCELLED: &str = "order already cancelled";

/// The order aggregate: its commands and how its events fold into state.
pub fn aggregate() -> CommandRouter<OrderState> {
    CommandRouter::new("order")
        .on(create_order)
        .on(apply_loyalty_discount)
        .on(submit_payment)
        .on(confirm_payment)
        .on(cancel_order)
        .apply(|state: &mut OrderState, e: OrderCreated| {
            state.exists = true;
            state.customer_id = e.customer_id;
            state.cart_id = e.cart_id;
            state.items = e.items;
            state.subtotal_cents = e.subtotal_cents;
            state.status = PENDING.into();
        })
        .apply(|state: &mut OrderState, e: LoyaltyDiscountApplied| {
            state.loyalty_points_used = e.points_used;
            state.discount_cents = e.discount_cents;
        })
        .apply(|state: &mut OrderState, e: PaymentSubmitted| {
            state.payment_method = e.payment_method;
            state.status = PAYMENT_SUBMITTED.into();
        })
        .apply(|state: &mut OrderState, e: OrderCompleted| {
            state.payment_reference = e.payment_reference;
            state.status = COMPLETED.into();
        })
        .apply(|state: &mut OrderState, _: OrderCancelled| {
            state.status = CANCELLED.into();
        })
}

fn create_order(state: &OrderState, cmd: CreateOrder) -> Result<OrderCreated, Rejection> {
    if state.exists {
        return Err(Rejection::failed_precondition("order already exists"));
    }
    require(&cmd.customer_id, "customer id")?;
    if cmd.items.is_empty() {
        return Err(Rejection::invalid_argument("items must not be empty"));
    }
    for item in &cmd.items {
        require(&item.product_id, "product id")?;
        require_positive(item.quantity.into(), "quantity")?;
        require_positive(item.unit_price_cents, "unit price")?;
    }
    Ok(OrderCreated {
        subtotal_cents: subtotal(&cmd.items)?,
        customer_id: cmd.customer_id,
        cart_id: cmd.cart_id,
        items: cmd.items,
        created_at: Some(now()),
    })
}

fn apply_loyalty_discount(
    state: &OrderState,
    cmd: ApplyLoyaltyDiscount,
) -> Result<LoyaltyDiscountApplied, Rejection> {
    guard(
        state,
        &[
            (PAYMENT_SUBMITTED, NOT_PENDING),
            (COMPLETED, NOT_PENDING),
            (CANCELLED, NOT_PENDING),
        ],
    )?;
    require_positive(cmd.points, "points")?;
    require_positive(cmd.discount_cents, "discount")?;
    // One discount per order; this is checked before the amount (rule 13).
    if state.discount_cents > 0 {
        return Err(Rejection::failed_precondition(
            "loyalty discount already applied",
        ));
    }
    if cmd.discount_cents > state.subtotal_cents {
        return Err(Rejection::invalid_argument(format!(
            "discount {} exceeds the subtotal {}",
            cmd.discount_cents, state.subtotal_cents
        )));
    }
    Ok(LoyaltyDiscountApplied {
        points_used: cmd.points,
        discount_cents: cmd.discount_cents,
        applied_at: Some(now()),
    })
}

fn submit_payment(state: &OrderState, cmd: SubmitPayment) -> Result<PaymentSubmitted, Rejection> {
    guard(
        state,
        &[
            (PAYMENT_SUBMITTED, ALREADY_SUBMITTED),
            (COMPLETED, ALREADY_SUBMITTED),
            (CANCELLED, IS_CANCELLED),
        ],
    )?;
    require(&cmd.payment_method, "payment method")?;
    let total = total(state);
    if cmd.amount_cents != total {
        return Err(Rejection::invalid_argument(format!(
            "amount {} does not match the total {total}",
            cmd.amount_cents
        )));
    }
    Ok(PaymentSubmitted {
        payment_method: cmd.payment_method,
        amount_cents: cmd.amount_cents,
        submitted_at: Some(now()),
    })
}

fn confirm_payment(state: &OrderState, cmd: ConfirmPayment) -> Result<OrderCompleted, Rejection> {
    guard(
        state,
        &[
            (PENDING, NOT_SUBMITTED),
            (COMPLETED, ALREADY_COMPLETED),
            (CANCELLED, IS_CANCELLED),
        ],
    )?;
    require(&cmd.payment_reference, "payment reference")?;
    let final_total_cents = total(state);
    Ok(OrderCompleted {
        customer_id: state.customer_id.clone(),
        cart_id: state.cart_id.clone(),
        items: state.items.clone(),
        subtotal_cents: state.subtotal_cents,
        discount_cents: state.discount_cents,
        final_total_cents,
        loyalty_points_used: state.loyalty_points_used,
        // One point per whole currency unit.
        loyalty_points_earned: final_total_cents / 100,
        payment_method: state.payment_method.clone(),
        payment_reference: cmd.payment_reference,
        completed_at: Some(now()),
    })
}

fn cancel_order(state: &OrderState, cmd: CancelOrder) -> Result<OrderCancelled, Rejection> {
    guard(
        state,
        &[
            (COMPLETED, ALREADY_COMPLETED),
            (CANCELLED, ALREADY_CANCELLED),
        ],
    )?;
    require(&cmd.reason, "reason")?;
    Ok(OrderCancelled {
        reason: cmd.reason,
        customer_id: state.customer_id.clone(),
        cart_id: state.cart_id.clone(),
        items: state.items.clone(),
        loyalty_points_used: state.loyalty_points_used,
        cancelled_at: Some(now()),
    })
}

/// Σ quantity × unit price, refusing what does not fit an int64.
fn subtotal(items: &[LineItem]) -> Result<i64, Rejection> {
    items.iter().try_fold(0_i64, |sum, item| {
        i64::from(item.quantity)
            .checked_mul(item.unit_price_cents)
            .and_then(|line| sum.checked_add(line))
            .ok_or_else(Rejection::overflow)
    })
}

/// What the customer pays; the discount never exceeds the subtotal, so this cannot overflow.
fn total(state: &OrderState) -> i64 {
    state.subtotal_cents - state.discount_cents
}

/// Existence, then the lifecycle: `refused` pairs each status the command may not run in with
/// the rejection's words.
fn guard(state: &OrderState, refused: &[(&str, &str)]) -> Result<(), Rejection> {
    if !state.exists {
        return Err(Rejection::failed_precondition("order does not exist"));
    }
    match refused.iter().find(|(status, _)| *status == state.status) {
        Some((_, words)) => Err(Rejection::failed_precondition(*words)),
        None => Ok(()),
    }
}

fn require(value: &str, what: &str) -> Result<(), Rejection> {
    if value.is_empty() {
        return Err(Rejection::invalid_argument(format!("{what} is required")));
    }
    Ok(())
}

fn require_positive(value: i64, what: &str) -> Result<(), Rejection> {
    if value < 1 {
        return Err(Rejection::invalid_argument(format!(
            "{what} must be at least 1"
        )));
    }
    Ok(())
}
