"""The customer aggregate (examples-spec §3.1).

Each handler checks in the spec's order (existence, the command's fields, then the state,
overflow included) and emits one event carrying the facts after the change; apply copies those
facts into the state instead of re-applying deltas.
"""

from angzarr import CommandRouter, guard, int64, now, run, validate
from examples.customer_pb2 import (
    AddLoyaltyPoints,
    CreateCustomer,
    CustomerCreated,
    CustomerState,
    LoyaltyPointsAdded,
    LoyaltyPointsRedeemed,
    RedeemLoyaltyPoints,
)

aggregate = CommandRouter("customer", CustomerState)

MISSING = "customer does not exist"
POSITIVE = "points must be positive"


@aggregate.on
def create_customer(state: CustomerState, cmd: CreateCustomer) -> CustomerCreated:
    guard(not state.exists, "customer already exists")
    validate(cmd.name, "name is required")
    validate(cmd.email, "email is required")
    return CustomerCreated(name=cmd.name, email=cmd.email, created_at=now())


@aggregate.on
def add_loyalty_points(state: CustomerState, cmd: AddLoyaltyPoints) -> LoyaltyPointsAdded:
    guard(state.exists, MISSING)
    validate(cmd.points >= 1, POSITIVE)
    return LoyaltyPointsAdded(
        points=cmd.points,
        new_balance=int64(state.loyalty_points + cmd.points),
        new_lifetime_points=int64(state.lifetime_points + cmd.points),
        reason=cmd.reason,
        added_at=now(),
    )


@aggregate.on
def redeem_loyalty_points(state: CustomerState, cmd: RedeemLoyaltyPoints) -> LoyaltyPointsRedeemed:
    guard(state.exists, MISSING)
    validate(cmd.points >= 1, POSITIVE)
    guard(
        cmd.points <= state.loyalty_points,
        f"insufficient loyalty points: balance {state.loyalty_points}, requested {cmd.points}",
    )
    return LoyaltyPointsRedeemed(
        points=cmd.points,
        new_balance=state.loyalty_points - cmd.points,
        redemption_type=cmd.redemption_type,
        redeemed_at=now(),
    )


@aggregate.apply
def created(state: CustomerState, event: CustomerCreated) -> None:
    state.exists, state.name, state.email = True, event.name, event.email


@aggregate.apply
def points_added(state: CustomerState, event: LoyaltyPointsAdded) -> None:
    state.loyalty_points, state.lifetime_points = event.new_balance, event.new_lifetime_points


@aggregate.apply
def points_redeemed(state: CustomerState, event: LoyaltyPointsRedeemed) -> None:
    state.loyalty_points = event.new_balance


def main() -> None:
    run(aggregate)


if __name__ == "__main__":
    main()
