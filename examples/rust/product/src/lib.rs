//! The product aggregate (examples-spec §3.2).
//!
//! Each handler checks in the spec's order: existence, lifecycle (only an active product
//! changes), then the command's fields; it emits one event carrying the facts after the change,
//! and `apply` copies those facts into the state.

use angzarr_client::{CommandRouter, Rejection, now};

use example_proto::product::{
    CreateProduct, Discontinue, PriceSet, ProductCreated, ProductDiscontinued, ProductState,
    ProductUpdated, SetPrice, UpdateProduct,
};

/// The two lifecycle statuses, as the state's `status` field spells them.
const ACTIVE: &str = "active";
const DISCONTINUED: &str = "discontinued";

/// The product aggregate: its commands and how its events fold into state.
pub fn aggregate() -> CommandRouter<ProductState> {
    CommandRouter::new("product")
        .on(create_product)
        .on(update_product)
        .on(set_price)
        .on(discontinue)
        .apply(|state: &mut ProductState, e: ProductCreated| {
            *state = ProductState {
                exists: true,
                sku: e.sku,
                name: e.name,
                description: e.description,
                price_cents: e.price_cents,
                status: ACTIVE.to_string(),
            };
        })
        .apply(|state: &mut ProductState, e: ProductUpdated| {
            state.name = e.name;
            state.description = e.description;
        })
        .apply(|state: &mut ProductState, e: PriceSet| state.price_cents = e.price_cents)
        .apply(|state: &mut ProductState, _: ProductDiscontinued| {
            state.status = DISCONTINUED.to_string();
        })
}

fn create_product(state: &ProductState, cmd: CreateProduct) -> Result<ProductCreated, Rejection> {
    if state.exists {
        return Err(Rejection::failed_precondition("product already exists"));
    }
    require_text("sku", &cmd.sku)?;
    require_text("name", &cmd.name)?;
    require_price(cmd.price_cents)?;
    Ok(ProductCreated {
        sku: cmd.sku,
        name: cmd.name,
        description: cmd.description,
        price_cents: cmd.price_cents,
        created_at: Some(now()),
    })
}

fn update_product(state: &ProductState, cmd: UpdateProduct) -> Result<ProductUpdated, Rejection> {
    require_active(state)?;
    require_text("name", &cmd.name)?;
    Ok(ProductUpdated {
        name: cmd.name,
        description: cmd.description,
        updated_at: Some(now()),
    })
}

fn set_price(state: &ProductState, cmd: SetPrice) -> Result<PriceSet, Rejection> {
    require_active(state)?;
    require_price(cmd.price_cents)?;
    Ok(PriceSet {
        price_cents: cmd.price_cents,
        previous_price_cents: state.price_cents,
        set_at: Some(now()),
    })
}

fn discontinue(state: &ProductState, cmd: Discontinue) -> Result<ProductDiscontinued, Rejection> {
    require_existing(state)?;
    if state.status == DISCONTINUED {
        return Err(Rejection::failed_precondition(
            "product already discontinued",
        ));
    }
    Ok(ProductDiscontinued {
        reason: cmd.reason,
        discontinued_at: Some(now()),
    })
}

fn require_existing(state: &ProductState) -> Result<(), Rejection> {
    if !state.exists {
        return Err(Rejection::failed_precondition("product does not exist"));
    }
    Ok(())
}

/// Existence, then lifecycle: a discontinued product is frozen.
fn require_active(state: &ProductState) -> Result<(), Rejection> {
    require_existing(state)?;
    if state.status == DISCONTINUED {
        return Err(Rejection::failed_precondition("product is discontinued"));
    }
    Ok(())
}

fn require_text(field: &str, value: &str) -> Result<(), Rejection> {
    if value.is_empty() {
        return Err(Rejection::invalid_argument(format!("{field} is required")));
    }
    Ok(())
}

fn require_price(price_cents: i64) -> Result<(), Rejection> {
    if price_cents < 1 {
        return Err(Rejection::invalid_argument("price_cents must be positive"));
    }
    Ok(())
}
