//! The cart aggregate (examples-spec §3.4).
//!
//! Each handler checks in the spec's order: existence, lifecycle, the command's fields, then
//! the state (overflow included); it emits one event carrying the facts after the change, and
//! `apply` copies those facts into the state. The discount is derived: whenever the subtotal
//! changes it is recomputed from the coupon, so checkout always prices the final subtotal.

use angzarr_client::{CommandRouter, Rejection, now};

use example_proto::cart::{
    AddItem, ApplyCoupon, CartCheckedOut, CartCleared, CartCreated, CartItem, CartState, Checkout,
    ClearCart, Coupon, CouponApplied, CreateCart, ItemAdded, ItemRemoved, QuantityUpdated,
    RemoveItem, UpdateQuantity,
};

const ACTIVE: &str = "active";
const CHECKED_OUT: &str = "checked_out";
const PERCENTAGE: &str = "percentage";
const FIXED: &str = "fixed";

const EMPTY: &str = "cart is empty";

/// The cart aggregate: its commands and how its events fold into state.
pub fn aggregate() -> CommandRouter<CartState> {
    CommandRouter::new("cart")
        .on(create_cart)
        .on(add_item)
        .on(update_quantity)
        .on(remove_item)
        .on(apply_coupon)
        .on(clear_cart)
        .on(checkout)
        .apply(|state: &mut CartState, e: CartCreated| {
            state.exists = true;
            state.customer_id = e.customer_id;
            state.status = ACTIVE.into();
        })
        .apply(|state: &mut CartState, e: ItemAdded| {
            let line = CartItem {
                product_id: e.product_id,
                name: e.name,
                quantity: e.line_quantity,
                unit_price_cents: e.unit_price_cents,
            };
            match state
                .lines
                .iter_mut()
                .find(|l| l.product_id == line.product_id)
            {
                Some(existing) => *existing = line,
                None => state.lines.push(line),
            }
            set_subtotal(state, e.new_subtotal);
        })
        .apply(|state: &mut CartState, e: QuantityUpdated| {
            if let Some(line) = state
                .lines
                .iter_mut()
                .find(|l| l.product_id == e.product_id)
            {
                line.quantity = e.new_quantity;
            }
            set_subtotal(state, e.new_subtotal);
        })
        .apply(|state: &mut CartState, e: ItemRemoved| {
            state.lines.retain(|l| l.product_id != e.product_id);
            set_subtotal(state, e.new_subtotal);
        })
        .apply(|state: &mut CartState, e: CouponApplied| {
            state.coupon = Some(Coupon {
                code: e.code,
                coupon_type: e.coupon_type,
                value: e.value,
            });
            state.discount_cents = e.discount_cents;
        })
        .apply(|state: &mut CartState, e: CartCleared| {
            state.lines.clear();
            state.coupon = None;
            set_subtotal(state, e.new_subtotal);
        })
        .apply(|state: &mut CartState, _: CartCheckedOut| {
            state.status = CHECKED_OUT.into();
        })
}

fn create_cart(state: &CartState, cmd: CreateCart) -> Result<CartCreated, Rejection> {
    if state.exists {
        return Err(Rejection::failed_precondition("cart already exists"));
    }
    require(&cmd.customer_id, "customer id")?;
    Ok(CartCreated {
        customer_id: cmd.customer_id,
        created_at: Some(now()),
    })
}

fn add_item(state: &CartState, cmd: AddItem) -> Result<ItemAdded, Rejection> {
    guard(state)?;
    require(&cmd.product_id, "product id")?;
    require_positive(cmd.quantity.into(), "quantity")?;
    require_positive(cmd.unit_price_cents, "unit price")?;
    // A product already in the cart merges into its line, which takes the new name and price.
    let held = find_line(state, &cmd.product_id).map_or(0, |line| line.quantity);
    let line = CartItem {
        product_id: cmd.product_id,
        name: cmd.name,
        quantity: held
            .checked_add(cmd.quantity)
            .ok_or_else(Rejection::overflow)?,
        unit_price_cents: cmd.unit_price_cents,
    };
    Ok(ItemAdded {
        new_subtotal: subtotal_after(state, &line.product_id, Some(&line))?,
        quantity: cmd.quantity,
        line_quantity: line.quantity,
        unit_price_cents: line.unit_price_cents,
        product_id: line.product_id,
        name: line.name,
        added_at: Some(now()),
    })
}

fn update_quantity(state: &CartState, cmd: UpdateQuantity) -> Result<QuantityUpdated, Rejection> {
    guard(state)?;
    require_positive(cmd.new_quantity.into(), "quantity")?;
    let line = find_line(state, &cmd.product_id).ok_or_else(not_in_cart)?;
    let updated = CartItem {
        quantity: cmd.new_quantity,
        ..line.clone()
    };
    Ok(QuantityUpdated {
        new_subtotal: subtotal_after(state, &cmd.product_id, Some(&updated))?,
        product_id: cmd.product_id,
        old_quantity: line.quantity,
        new_quantity: cmd.new_quantity,
        updated_at: Some(now()),
    })
}

fn remove_item(state: &CartState, cmd: RemoveItem) -> Result<ItemRemoved, Rejection> {
    guard(state)?;
    let line = find_line(state, &cmd.product_id).ok_or_else(not_in_cart)?;
    Ok(ItemRemoved {
        new_subtotal: subtotal_after(state, &cmd.product_id, None)?,
        product_id: cmd.product_id,
        quantity: line.quantity,
        removed_at: Some(now()),
    })
}

fn apply_coupon(state: &CartState, cmd: ApplyCoupon) -> Result<CouponApplied, Rejection> {
    guard(state)?;
    require(&cmd.code, "coupon code")?;
    let value_ok = match cmd.coupon_type.as_str() {
        PERCENTAGE => (1..=100).contains(&cmd.value),
        FIXED => cmd.value >= 1,
        other => {
            return Err(Rejection::invalid_argument(format!(
                "coupon type {other:?} is neither {PERCENTAGE} nor {FIXED}"
            )));
        }
    };
    if !value_ok {
        return Err(Rejection::invalid_argument(format!(
            "value {} is out of range for a {} coupon",
            cmd.value, cmd.coupon_type
        )));
    }
    // One coupon per cart, even once its lines are gone (rule 33): checked before emptiness.
    if state.coupon.is_some() {
        return Err(Rejection::failed_precondition("coupon already applied"));
    }
    if state.lines.is_empty() {
        return Err(Rejection::failed_precondition(EMPTY));
    }
    let coupon = Coupon {
        code: cmd.code,
        coupon_type: cmd.coupon_type,
        value: cmd.value,
    };
    Ok(CouponApplied {
        discount_cents: discount(&coupon, state.subtotal_cents),
        code: coupon.code,
        coupon_type: coupon.coupon_type,
        value: coupon.value,
        applied_at: Some(now()),
    })
}

fn clear_cart(state: &CartState, _: ClearCart) -> Result<CartCleared, Rejection> {
    guard(state)?;
    Ok(CartCleared {
        items: state.lines.clone(),
        new_subtotal: 0,
        cleared_at: Some(now()),
    })
}

fn checkout(state: &CartState, _: Checkout) -> Result<CartCheckedOut, Rejection> {
    guard(state)?;
    if state.lines.is_empty() {
        return Err(Rejection::failed_precondition(EMPTY));
    }
    Ok(CartCheckedOut {
        customer_id: state.customer_id.clone(),
        items: state.lines.clone(),
        final_subtotal: state.subtotal_cents,
        discount_cents: state.discount_cents,
        checked_out_at: Some(now()),
    })
}

/// Every command but CreateCart needs an existing cart that is still active.
fn guard(state: &CartState) -> Result<(), Rejection> {
    if !state.exists {
        return Err(Rejection::failed_precondition("cart does not exist"));
    }
    if state.status == CHECKED_OUT {
        return Err(Rejection::failed_precondition("cart already checked out"));
    }
    Ok(())
}

fn find_line<'a>(state: &'a CartState, product_id: &str) -> Option<&'a CartItem> {
    state
        .lines
        .iter()
        .find(|line| line.product_id == product_id)
}

fn not_in_cart() -> Rejection {
    Rejection::not_found("product is not in cart")
}

/// Σ quantity × unit price over the lines after the change: `product_id`'s line replaced by
/// `changed`, or dropped when there is none. Refuses what does not fit an int64.
fn subtotal_after(
    state: &CartState,
    product_id: &str,
    changed: Option<&CartItem>,
) -> Result<i64, Rejection> {
    state
        .lines
        .iter()
        .filter(|line| line.product_id != product_id)
        .chain(changed)
        .try_fold(0_i64, |sum, line| {
            i64::from(line.quantity)
                .checked_mul(line.unit_price_cents)
                .and_then(|cost| sum.checked_add(cost))
                .ok_or_else(Rejection::overflow)
        })
}

/// Sets the subtotal and recomputes the discount from the coupon at that subtotal.
fn set_subtotal(state: &mut CartState, subtotal: i64) {
    state.subtotal_cents = subtotal;
    state.discount_cents = state.coupon.as_ref().map_or(0, |c| discount(c, subtotal));
}

/// Percentage: subtotal × value / 100, truncated; fixed: the value, at most the subtotal.
fn discount(coupon: &Coupon, subtotal: i64) -> i64 {
    if coupon.coupon_type == PERCENTAGE {
        // Widened so that the product cannot overflow; value <= 100 keeps the result in range.
        (i128::from(subtotal) * i128::from(coupon.value) / 100) as i64
    } else {
        coupon.value.min(subtotal)
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
