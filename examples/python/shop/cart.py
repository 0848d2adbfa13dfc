"""The cart aggregate (examples-spec §3.4).

Each handler checks in the spec's order: existence, lifecycle, the command's fields, then the
state (overflow included); it emits one event carrying the facts after the change, and apply
copies those facts into the state. The discount is derived: whenever the subtotal changes it
is recomputed from the coupon, so checkout always prices the final subtotal.
"""

from angzarr import CommandRejected, CommandRouter, guard, int32, int64, now, run, validate
from examples.cart_pb2 import (
    AddItem,
    ApplyCoupon,
    CartCheckedOut,
    CartCleared,
    CartCreated,
    CartItem,
    CartState,
    Checkout,
    ClearCart,
    Coupon,
    CouponApplied,
    CreateCart,
    ItemAdded,
    ItemRemoved,
    QuantityUpdated,
    RemoveItem,
    UpdateQuantity,
)

aggregate = CommandRouter("cart", CartState)

ACTIVE, CHECKED_OUT = "active", "checked_out"
PERCENTAGE, FIXED = "percentage", "fixed"
EMPTY = "cart is empty"


def require_active(state: CartState) -> None:
    """Every command but CreateCart needs an existing cart that is still active."""
    guard(state.exists, "cart does not exist")
    guard(state.status != CHECKED_OUT, "cart already checked out")


def line(state: CartState, product_id: str) -> CartItem:
    for item in state.lines:
        if item.product_id == product_id:
            return item
    raise CommandRejected.not_found("product is not in cart")


def subtotal_after(state: CartState, product_id: str, changed: CartItem | None = None) -> int:
    """Σ quantity × unit price over the lines after the change: `product_id`'s line replaced
    by `changed`, or dropped. Refuses what does not fit an int64."""
    lines = [item for item in state.lines if item.product_id != product_id]
    lines += [changed] if changed is not None else []
    return int64(sum(int64(item.quantity * item.unit_price_cents) for item in lines))


def discount(coupon: Coupon, subtotal: int) -> int:
    """Percentage: subtotal × value / 100, truncated; fixed: the value, at most the subtotal."""
    if coupon.coupon_type == PERCENTAGE:
        return subtotal * coupon.value // 100
    return min(coupon.value, subtotal)


def set_subtotal(state: CartState, subtotal: int) -> None:
    """Sets the subtotal and recomputes the discount from the coupon at that subtotal."""
    state.subtotal_cents = subtotal
    state.discount_cents = discount(state.coupon, subtotal) if state.HasField("coupon") else 0


@aggregate.on
def create_cart(state: CartState, cmd: CreateCart) -> CartCreated:
    guard(not state.exists, "cart already exists")
    validate(cmd.customer_id, "customer id is required")
    return CartCreated(customer_id=cmd.customer_id, created_at=now())


@aggregate.on
def add_item(state: CartState, cmd: AddItem) -> ItemAdded:
    require_active(state)
    validate(cmd.product_id, "product id is required")
    validate(cmd.quantity >= 1, "quantity must be at least 1")
    validate(cmd.unit_price_cents >= 1, "unit price must be at least 1")
    # A product already in the cart merges into its line, which takes the new name and price.
    held = sum(item.quantity for item in state.lines if item.product_id == cmd.product_id)
    merged = CartItem(
        product_id=cmd.product_id,
        name=cmd.name,
        quantity=int32(held + cmd.quantity),
        unit_price_cents=cmd.unit_price_cents,
    )
    return ItemAdded(
        product_id=cmd.product_id,
        name=cmd.name,
        quantity=cmd.quantity,
        line_quantity=merged.quantity,
        unit_price_cents=cmd.unit_price_cents,
        new_subtotal=subtotal_after(state, cmd.product_id, merged),
        added_at=now(),
    )


@aggregate.on
def update_quantity(state: CartState, cmd: UpdateQuantity) -> QuantityUpdated:
    require_active(state)
    validate(cmd.new_quantity >= 1, "quantity must be at least 1")
    current = line(state, cmd.product_id)
    updated = CartItem(quantity=cmd.new_quantity, unit_price_cents=current.unit_price_cents)
    return QuantityUpdated(
        product_id=cmd.product_id,
        old_quantity=current.quantity,
        new_quantity=cmd.new_quantity,
        new_subtotal=subtotal_after(state, cmd.product_id, updated),
        updated_at=now(),
    )


@aggregate.on
def remove_item(state: CartState, cmd: RemoveItem) -> ItemRemoved:
    require_active(state)
    removed = line(state, cmd.product_id)
    return ItemRemoved(
        product_id=cmd.product_id,
        quantity=removed.quantity,
        new_subtotal=subtotal_after(state, cmd.product_id),
        removed_at=now(),
    )


@aggregate.on
def apply_coupon(state: CartState, cmd: ApplyCoupon) -> CouponApplied:
    require_active(state)
    validate(cmd.code, "coupon code is required")
    validate(
        cmd.coupon_type in (PERCENTAGE, FIXED),
        f"coupon type {cmd.coupon_type!r} is neither {PERCENTAGE} nor {FIXED}",
    )
    in_range = 1 <= cmd.value <= 100 if cmd.coupon_type == PERCENTAGE else cmd.value >= 1
    validate(in_range, f"value {cmd.value} is out of range for a {cmd.coupon_type} coupon")
    # One coupon per cart, even once its lines are gone (rule 33): checked before emptiness.
    guard(not state.HasField("coupon"), "coupon already applied")
    guard(state.lines, EMPTY)
    coupon = Coupon(code=cmd.code, coupon_type=cmd.coupon_type, value=cmd.value)
    return CouponApplied(
        code=cmd.code,
        coupon_type=cmd.coupon_type,
        value=cmd.value,
        discount_cents=discount(coupon, state.subtotal_cents),
        applied_at=now(),
    )


@aggregate.on
def clear_cart(state: CartState, cmd: ClearCart) -> CartCleared:
    require_active(state)
    return CartCleared(items=state.lines, new_subtotal=0, cleared_at=now())


@aggregate.on
def checkout(state: CartState, cmd: Checkout) -> CartCheckedOut:
    require_active(state)
    guard(state.lines, EMPTY)
    return CartCheckedOut(
        customer_id=state.customer_id,
        items=state.lines,
        final_subtotal=state.subtotal_cents,
        discount_cents=state.discount_cents,
        checked_out_at=now(),
    )


@aggregate.apply
def created(state: CartState, event: CartCreated) -> None:
    state.exists, state.customer_id, state.status = True, event.customer_id, ACTIVE


@aggregate.apply
def item_added(state: CartState, event: ItemAdded) -> None:
    added = CartItem(
        product_id=event.product_id,
        name=event.name,
        quantity=event.line_quantity,
        unit_price_cents=event.unit_price_cents,
    )
    for item in state.lines:
        if item.product_id == event.product_id:
            item.CopyFrom(added)
            break
    else:
        state.lines.append(added)
    set_subtotal(state, event.new_subtotal)


@aggregate.apply
def quantity_updated(state: CartState, event: QuantityUpdated) -> None:
    for item in state.lines:
        if item.product_id == event.product_id:
            item.quantity = event.new_quantity
    set_subtotal(state, event.new_subtotal)


@aggregate.apply
def item_removed(state: CartState, event: ItemRemoved) -> None:
    products = [item.product_id for item in state.lines]
    if event.product_id in products:
        del state.lines[products.index(event.product_id)]
    set_subtotal(state, event.new_subtotal)


@aggregate.apply
def coupon_applied(state: CartState, event: CouponApplied) -> None:
    state.coupon.CopyFrom(Coupon(code=event.code, coupon_type=event.coupon_type, value=event.value))
    state.discount_cents = event.discount_cents


@aggregate.apply
def cleared(state: CartState, event: CartCleared) -> None:
    del state.lines[:]
    state.ClearField("coupon")
    set_subtotal(state, event.new_subtotal)


@aggregate.apply
def checked_out(state: CartState, event: CartCheckedOut) -> None:
    state.status = CHECKED_OUT


def main() -> None:
    run(aggregate)


if __name__ == "__main__":
    main()
