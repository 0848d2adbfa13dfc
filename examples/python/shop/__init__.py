"""The example shop of examples-spec.md in Python: one module per component.

Each module builds its router at import time and has a `main` that serves it (`python -m
shop.customer`, the `shop-customer` program, or `python -m shop customer`). `shop.registry`
names every component the shop implements in Python.
"""
