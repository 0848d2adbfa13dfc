"""The product aggregate (examples-spec §3.2).

Each handler checks in the spec's order: existence, lifecycle (only an active product
changes), then the command's fields; it emits one event carrying the facts after the change,
and apply copies those facts into the state.
"""

from angzarr import CommandRouter, guard, now, run, validate
from examples.product_pb2 import (
    CreateProduct,
    Discontinue,
    PriceSet,
    ProductCreated,
    ProductDiscontinued,
    ProductState,
    ProductUpdated,
    SetPrice,
    UpdateProduct,
)

aggregate = CommandRouter("product", ProductState)

ACTIVE, DISCONTINUED = "active", "discontinued"
MISSING = "product does not exist"
POSITIVE_PRICE = "price_cents must be positive"


def require_active(state: ProductState) -> None:
    """Existence, then lifecycle: a discontinued product is frozen."""
    guard(state.exists, MISSING)
    guard(state.status != DISCONTINUED, "product is discontinued")


@aggregate.on
def create_product(state: ProductState, cmd: CreateProduct) -> ProductCreated:
    guard(not state.exists, "product already exists")
    validate(cmd.sku, "sku is required")
    validate(cmd.name, "name is required")
    validate(cmd.price_cents >= 1, POSITIVE_PRICE)
    return ProductCreated(
        sku=cmd.sku,
        name=cmd.name,
        description=cmd.description,
        price_cents=cmd.price_cents,
        created_at=now(),
    )


@aggregate.on
def update_product(state: ProductState, cmd: UpdateProduct) -> ProductUpdated:
    require_active(state)
    validate(cmd.name, "name is required")
    return ProductUpdated(name=cmd.name, description=cmd.description, updated_at=now())


@aggregate.on
def set_price(state: ProductState, cmd: SetPrice) -> PriceSet:
    require_active(state)
    validate(cmd.price_cents >= 1, POSITIVE_PRICE)
    return PriceSet(
        price_cents=cmd.price_cents, previous_price_cents=state.price_cents, set_at=now()
    )


@aggregate.on
def discontinue(state: ProductState, cmd: Discontinue) -> ProductDiscontinued:
    guard(state.exists, MISSING)
    guard(state.status != DISCONTINUED, "product already discontinued")
    return ProductDiscontinued(reason=cmd.reason, discontinued_at=now())


@aggregate.apply
def created(state: ProductState, event: ProductCreated) -> None:
    state.CopyFrom(
        ProductState(
            exists=True,
            sku=event.sku,
            name=event.name,
            description=event.description,
            price_cents=event.price_cents,
            status=ACTIVE,
        )
    )


@aggregate.apply
def updated(state: ProductState, event: ProductUpdated) -> None:
    state.name, state.description = event.name, event.description


@aggregate.apply
def price_set(state: ProductState, event: PriceSet) -> None:
    state.price_cents = event.price_cents


@aggregate.apply
def discontinued(state: ProductState, event: ProductDiscontinued) -> None:
    state.status = DISCONTINUED


def main() -> None:
    run(aggregate)


if __name__ == "__main__":
    main()
