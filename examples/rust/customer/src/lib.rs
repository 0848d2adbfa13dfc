//! The customer aggregate (examples-spec §3.1).
//!
//! Each handler checks in the spec's order: existence, the command's fields, then the state
//! (overflow included); it emits one event carrying the facts after the change, and `apply`
//! copies those facts into the state instead of re-applying deltas.

use angzarr_client::{CommandRouter, Rejection, now};

use example_proto::customer::{
    AddLoyaltyPoints, CreateCustomer, CustomerCreated, CustomerState, LoyaltyPointsAdded,
    LoyaltyPointsRedeemed, RedeemLoyaltyPoints,
};

/// The customer aggregate: its commands and how its events fold into state.
pub fn aggregate() -> CommandRouter<CustomerState> {
    CommandRouter::new("customer")
        .on(create_customer)
        .on(add_loyalty_points)
        .on(redeem_loyalty_points)
        .apply(|state: &mut CustomerState, e: CustomerCreated| {
            state.exists = true;
            state.name = e.name;
            state.email = e.email;
        })
        .apply(|state: &mut CustomerState, e: LoyaltyPointsAdded| {
            state.loyalty_points = e.new_balance;
            state.lifetime_points = e.new_lifetime_points;
        })
        .apply(|state: &mut CustomerState, e: LoyaltyPointsRedeemed| {
            state.loyalty_points = e.new_balance;
        })
}

fn create_customer(
    state: &CustomerState,
    cmd: CreateCustomer,
) -> Result<CustomerCreated, Rejection> {
    if state.exists {
        return Err(Rejection::failed_precondition("customer already exists"));
    }
    if cmd.name.is_empty() {
        return Err(Rejection::invalid_argument("name is required"));
    }
    if cmd.email.is_empty() {
        return Err(Rejection::invalid_argument("email is required"));
    }
    Ok(CustomerCreated {
        name: cmd.name,
        email: cmd.email,
        created_at: Some(now()),
    })
}

fn add_loyalty_points(
    state: &CustomerState,
    cmd: AddLoyaltyPoints,
) -> Result<LoyaltyPointsAdded, Rejection> {
    require_existing(state)?;
    require_positive(cmd.points)?;
    let new_balance = state.loyalty_points.checked_add(cmd.points);
    let new_lifetime_points = state.lifetime_points.checked_add(cmd.points);
    let (Some(new_balance), Some(new_lifetime_points)) = (new_balance, new_lifetime_points) else {
        return Err(Rejection::overflow());
    };
    Ok(LoyaltyPointsAdded {
        points: cmd.points,
        new_balance,
        new_lifetime_points,
        reason: cmd.reason,
        added_at: Some(now()),
    })
}

fn redeem_loyalty_points(
    state: &CustomerState,
    cmd: RedeemLoyaltyPoints,
) -> Result<LoyaltyPointsRedeemed, Rejection> {
    require_existing(state)?;
    require_positive(cmd.points)?;
    if cmd.points > state.loyalty_points {
        return Err(Rejection::failed_precondition(format!(
            "insufficient loyalty points: balance {}, requested {}",
            state.loyalty_points, cmd.points
        )));
    }
    Ok(LoyaltyPointsRedeemed {
        points: cmd.points,
        new_balance: state.loyalty_points - cmd.points,
        redemption_type: cmd.redemption_type,
        redeemed_at: Some(now()),
    })
}

fn require_existing(state: &CustomerState) -> Result<(), Rejection> {
    if !state.exists {
        return Err(Rejection::failed_precondition("customer does not exist"));
    }
    Ok(())
}

fn require_positive(points: i64) -> Result<(), Rejection> {
    if points < 1 {
        return Err(Rejection::invalid_argument("points must be positive"));
    }
    Ok(())
}
