"""Every component the shop implements in Python, by its name in examples-spec.md.

This is the one place to add a component: the feature runner (examples/python/tests) drives
what is listed here, and `python -m shop <name>` serves it.
"""

from typing import Any

from angzarr import CommandRouter, EventRouter, ProcessManagerRouter, ProjectorRouter
from shop import (
    cart,
    customer,
    fulfillment,
    inventory,
    order,
    pm_order_fulfillment,
    pm_order_status,
    product,
    projector_customer_loyalty,
    projector_inventory_stock,
    projector_order_accounting,
    projector_order_web,
    saga_cart_inventory,
    saga_order_customer,
    saga_order_fulfillment,
    saga_order_inventory,
)

#: Aggregates by domain.
AGGREGATES: dict[str, CommandRouter[Any]] = {
    "customer": customer.aggregate,
    "product": product.aggregate,
    "inventory": inventory.aggregate,
    "cart": cart.aggregate,
    "order": order.aggregate,
    "fulfillment": fulfillment.aggregate,
}

#: Sagas by name (saga-order-fulfillment, ...).
SAGAS: dict[str, EventRouter] = {
    "saga-order-fulfillment": saga_order_fulfillment.saga,
    "saga-order-customer": saga_order_customer.saga,
    "saga-order-inventory": saga_order_inventory.saga,
    "saga-cart-inventory": saga_cart_inventory.saga,
}

#: Process managers by name, which is also the domain of their own history (order-status, ...).
PROCESS_MANAGERS: dict[str, ProcessManagerRouter[Any]] = {
    "order-fulfillment": pm_order_fulfillment.process_manager,
    "order-status": pm_order_status.process_manager,
}

#: Projectors by name (projector-order-web, ...).
PROJECTORS: dict[str, ProjectorRouter] = {
    "projector-order-web": projector_order_web.projector,
    "projector-order-accounting": projector_order_accounting.projector,
    "projector-customer-loyalty": projector_customer_loyalty.projector,
    "projector-inventory-stock": projector_inventory_stock.projector,
}

KINDS: dict[str, dict[str, Any]] = {
    "aggregate": AGGREGATES,
    "saga": SAGAS,
    "process manager": PROCESS_MANAGERS,
    "projector": PROJECTORS,
}


def find(kind: str, name: str) -> Any:
    """The component `name` of `kind` ("aggregate", "saga", "process manager", "projector");
    `LookupError` naming what is implemented when it is not."""
    table = KINDS[kind]
    if name not in table:
        known = ", ".join(table) or "none yet"
        raise LookupError(f"no {kind} named {name} is implemented in Python (registered: {known})")
    return table[name]
