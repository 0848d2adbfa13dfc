"""Every component the shop implements in Python, by its name in examples-spec.md.

This is the one place to add a component: the feature runner (examples/python/tests) drives
what is listed here, and `python -m shop <name>` serves it.
"""

from typing import Any

from angzarr import CommandRouter, EventRouter, ProcessManagerRouter, ProjectorRouter
from shop import cart, customer, fulfillment, inventory, order, product

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
SAGAS: dict[str, EventRouter] = {}

#: Process managers by name, which is also the domain of their own history (order-status, ...).
PROCESS_MANAGERS: dict[str, ProcessManagerRouter[Any]] = {}

#: Projectors by name (projector-order-web, ...).
PROJECTORS: dict[str, ProjectorRouter] = {}

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
