# examples-spec §7 "Cart and stock", flows 7, 8 and 10: the flows that initialize GADGET-B
# with 5 instead of 50 (the other flows are in e2e-cart-stock.feature).
Feature: End to end, a cart cannot hold stock that is not there

  Background:
    Given the shop is running
    And customer alice@example.com named Alice
    And product WIDGET-A priced 2500 with stock 100 and threshold 10
    And product GADGET-B priced 1000 with stock 5 and threshold 0

  Scenario: 7 A line the stock cannot cover is taken out of the cart again
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "GADGET-B", "quantity": 10, "unit_price_cents": 1000}
    Then the cart $K events are CartCreated, ItemAdded, ItemRemoved
    And the cart $K history ends with:
      | ItemRemoved | {"product_id": "GADGET-B", "quantity": 10, "new_subtotal": 0} |
    And every ItemRemoved of cart $K carries the correlation id $C
    And the state of cart $K is {"lines": [], "subtotal_cents": 0}
    And the inventory key(inventory, GADGET-B) has 0 StockReserved
    And the state of inventory key(inventory, GADGET-B) is {"on_hand": 5, "reserved": 0, "reservations": {}}

  Scenario: 8 Raising a line beyond the stock takes it out of the cart
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "GADGET-B", "quantity": 2, "unit_price_cents": 1000}
    Then the state of inventory key(inventory, GADGET-B) is {"reserved": 2, "reservations": {"$K": 2}}
    When UpdateQuantity is sent to cart $K {"product_id": "GADGET-B", "new_quantity": 10}
    Then the cart $K events are CartCreated, ItemAdded, QuantityUpdated, ItemRemoved
    And the state of cart $K is {"lines": [], "subtotal_cents": 0}
    And the state of inventory key(inventory, GADGET-B) is {"on_hand": 5, "reserved": 0, "reservations": {}}
    And row key(inventory, GADGET-B) of projector-inventory-stock is {"on_hand": 5, "reserved": 0, "available": 5}

  Scenario: 10 The first cart to reserve the last units keeps them
    When CreateCart is sent to cart $K1 {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K1 {"product_id": "GADGET-B", "quantity": 3, "unit_price_cents": 1000}
    Then the state of inventory key(inventory, GADGET-B) is {"reserved": 3, "reservations": {"$K1": 3}}
    Given the correlation id $C2
    When CreateCart is sent to cart $K2 {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K2 {"product_id": "GADGET-B", "quantity": 3, "unit_price_cents": 1000}
    Then the state of cart $K1 is {"lines": [{"product_id": "GADGET-B", "quantity": 3}]}
    And the cart $K2 events are CartCreated, ItemAdded, ItemRemoved
    And the state of cart $K2 is {"lines": []}
    And the state of inventory key(inventory, GADGET-B) is {"on_hand": 5, "reserved": 3, "reservations": {"$K1": 3}}
