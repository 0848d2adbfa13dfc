"""The order aggregate (examples-spec §3.5).

An order is priced from its own lines and its loyalty discount. Each handler checks in the
spec's order: existence, lifecycle, the command's fields, then the state; it emits one event
carrying the facts after the change, and apply copies those facts into the state.
"""

from angzarr import CommandRejected, CommandRouter, guard, int64, now, run, validate
from examples.order_pb2 import (
    ApplyLoyaltyDiscount,
    CancelOrder,
    ConfirmPayment,
    CreateOrder,
    LoyaltyDiscountApplied,
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderState,
    PaymentSubmitted,
    SubmitPayment,
)

aggregate = CommandRouter("order", OrderState)

PENDING, PAYMENT_SUBMITTED, COMPLETED, CANCELLED = "pending", "payment_submitted", "completed", "cancelled"


def lifecycle(state: OrderState, refused: dict[str, str]) -> None:
    """Existence, then the lifecycle: `refused` maps each status the command may not run in
    to the rejection's words."""
    guard(state.exists, "order does not exist")
    if state.status in refused:
        raise CommandRejected.failed_precondition(refused[state.status])


def total(state: OrderState) -> int:
    """What the customer pays (the discount never exceeds the subtotal)."""
    return state.subtotal_cents - state.discount_cents


@aggregate.on
def create_order(state: OrderState, cmd: CreateOrder) -> OrderCreated:
    guard(not state.exists, "order already exists")
    validate(cmd.customer_id, "customer id is required")
    validate(cmd.items, "items must not be empty")
    for item in cmd.items:
        validate(item.product_id, "product id is required")
        validate(item.quantity >= 1, "quantity must be at least 1")
        validate(item.unit_price_cents >= 1, "unit price must be at least 1")
    subtotal = int64(sum(int64(item.quantity * item.unit_price_cents) for item in cmd.items))
    return OrderCreated(
        customer_id=cmd.customer_id,
        cart_id=cmd.cart_id,
        items=cmd.items,
        subtotal_cents=subtotal,
        created_at=now(),
    )


@aggregate.on
def apply_loyalty_discount(state: OrderState, cmd: ApplyLoyaltyDiscount) -> LoyaltyDiscountApplied:
    not_pending = "order is not pending"
    lifecycle(state, {PAYMENT_SUBMITTED: not_pending, COMPLETED: not_pending, CANCELLED: not_pending})
    validate(cmd.points >= 1, "points must be at least 1")
    validate(cmd.discount_cents >= 1, "discount must be at least 1")
    # One discount per order; this is checked before the amount (rule 13).
    guard(state.discount_cents == 0, "loyalty discount already applied")
    validate(
        cmd.discount_cents <= state.subtotal_cents,
        f"discount {cmd.discount_cents} exceeds the subtotal {state.subtotal_cents}",
    )
    return LoyaltyDiscountApplied(
        points_used=cmd.points, discount_cents=cmd.discount_cents, applied_at=now()
    )


@aggregate.on
def submit_payment(state: OrderState, cmd: SubmitPayment) -> PaymentSubmitted:
    submitted = "payment already submitted"
    lifecycle(state, {PAYMENT_SUBMITTED: submitted, COMPLETED: submitted, CANCELLED: "order is cancelled"})
    validate(cmd.payment_method, "payment method is required")
    validate(
        cmd.amount_cents == total(state),
        f"amount {cmd.amount_cents} does not match the total {total(state)}",
    )
    return PaymentSubmitted(
        payment_method=cmd.payment_method, amount_cents=cmd.amount_cents, submitted_at=now()
    )


@aggregate.on
def confirm_payment(state: OrderState, cmd: ConfirmPayment) -> OrderCompleted:
    lifecycle(
        state,
        {PENDING: "payment not submitted", COMPLETED: "order already completed", CANCELLED: "order is cancelled"},
    )
    validate(cmd.payment_reference, "payment reference is required")
    return OrderCompleted(
        customer_id=state.customer_id,
        cart_id=state.cart_id,
        items=state.items,
        subtotal_cents=state.subtotal_cents,
        discount_cents=state.discount_cents,
        final_total_cents=total(state),
        loyalty_points_used=state.loyalty_points_used,
        loyalty_points_earned=total(state) // 100,  # one point per whole currency unit
        payment_method=state.payment_method,
        payment_reference=cmd.payment_reference,
        completed_at=now(),
    )


@aggregate.on
def cancel_order(state: OrderState, cmd: CancelOrder) -> OrderCancelled:
    lifecycle(state, {COMPLETED: "order already completed", CANCELLED: "order already cancelled"})
    validate(cmd.reason, "reason is required")
    return OrderCancelled(
        reason=cmd.reason,
        customer_id=state.customer_id,
        cart_id=state.cart_id,
        items=state.items,
        loyalty_points_used=state.loyalty_points_used,
        cancelled_at=now(),
    )


@aggregate.apply
def created(state: OrderState, event: OrderCreated) -> None:
    state.exists, state.status = True, PENDING
    state.customer_id, state.cart_id = event.customer_id, event.cart_id
    state.subtotal_cents = event.subtotal_cents
    del state.items[:]
    state.items.extend(event.items)


@aggregate.apply
def discount_applied(state: OrderState, event: LoyaltyDiscountApplied) -> None:
    state.loyalty_points_used, state.discount_cents = event.points_used, event.discount_cents


@aggregate.apply
def payment_submitted(state: OrderState, event: PaymentSubmitted) -> None:
    state.payment_method, state.status = event.payment_method, PAYMENT_SUBMITTED


@aggregate.apply
def completed(state: OrderState, event: OrderCompleted) -> None:
    state.payment_reference, state.status = event.payment_reference, COMPLETED


@aggregate.apply
def cancelled(state: OrderState, event: OrderCancelled) -> None:
    state.status = CANCELLED


def main() -> None:
    run(aggregate)


if __name__ == "__main__":
    main()
