# examples-spec §7 "Cart and stock", flows 1-13, against the whole shop: one scenario per flow.
# Flows 7, 8 and 10 start GADGET-B with 5 in stock: they are in e2e-cart-stock-2.feature.
# available = on_hand - reserved is not a state field: the inventory state is checked by
# on_hand, reserved and reservations, and available by the projector-inventory-stock row.
Feature: End to end, a cart holds stock for its lines until checkout

  Background:
    Given the shop is running
    And customer alice@example.com named Alice
    And product WIDGET-A priced 2500 with stock 100 and threshold 10
    And product GADGET-B priced 1000 with stock 50 and threshold 0

  Scenario: 1 Adding a product to a cart reserves its stock for the cart
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    Then the state of inventory key(inventory, WIDGET-A) is {"on_hand": 100, "reserved": 2, "reservations": {"$K": 2}}
    And row key(inventory, WIDGET-A) of projector-inventory-stock is {"product_id": "WIDGET-A", "on_hand": 100, "reserved": 2, "available": 98}

  Scenario: 2 Adding more of a product reserves the whole line again
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 3, "unit_price_cents": 2500}
    Then the state of cart $K is {"lines": [{"product_id": "WIDGET-A", "quantity": 5, "unit_price_cents": 2500}]}
    And the state of inventory key(inventory, WIDGET-A) is {"on_hand": 100, "reserved": 5, "reservations": {"$K": 5}}
    And row key(inventory, WIDGET-A) of projector-inventory-stock is {"reserved": 5, "available": 95}

  Scenario: 3 Changing a line's quantity changes its reservation
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 3, "unit_price_cents": 2500}
    And UpdateQuantity is sent to cart $K {"product_id": "WIDGET-A", "new_quantity": 1}
    Then the state of cart $K is {"lines": [{"product_id": "WIDGET-A", "quantity": 1}]}
    And the state of inventory key(inventory, WIDGET-A) is {"reserved": 1, "reservations": {"$K": 1}}
    And row key(inventory, WIDGET-A) of projector-inventory-stock is {"reserved": 1, "available": 99}

  Scenario: 4 Removing a line gives its stock back
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 3, "unit_price_cents": 2500}
    And UpdateQuantity is sent to cart $K {"product_id": "WIDGET-A", "new_quantity": 1}
    And RemoveItem is sent to cart $K {"product_id": "WIDGET-A"}
    Then the state of cart $K is {"lines": []}
    And the state of inventory key(inventory, WIDGET-A) is {"on_hand": 100, "reserved": 0, "reservations": {}}
    And row key(inventory, WIDGET-A) of projector-inventory-stock is {"on_hand": 100, "reserved": 0, "available": 100}

  Scenario: 5 Clearing a cart gives back the stock of every line
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    And AddItem is sent to cart $K {"product_id": "GADGET-B", "quantity": 3, "unit_price_cents": 1000}
    Then the state of inventory key(inventory, WIDGET-A) is {"reserved": 2, "reservations": {"$K": 2}}
    And the state of inventory key(inventory, GADGET-B) is {"reserved": 3, "reservations": {"$K": 3}}
    When ClearCart is sent to cart $K {}
    Then the state of inventory key(inventory, WIDGET-A) is {"on_hand": 100, "reserved": 0, "reservations": {}}
    And the state of inventory key(inventory, GADGET-B) is {"on_hand": 50, "reserved": 0, "reservations": {}}

  Scenario: 6 Checking out keeps the cart's reservations
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    And Checkout is sent to cart $K {}
    Then the state of cart $K is {"status": "checked_out"}
    And the state of inventory key(inventory, WIDGET-A) is {"on_hand": 100, "reserved": 2, "reservations": {"$K": 2}}
    And the inventory key(inventory, WIDGET-A) has 0 ReservationReleased

  Scenario: 9 A product nobody stocks is taken out of the cart again
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "NO-STOCK", "quantity": 1, "unit_price_cents": 500}
    Then the cart $K events are CartCreated, ItemAdded, ItemRemoved
    And the cart $K history ends with:
      | ItemRemoved | {"product_id": "NO-STOCK", "quantity": 1, "new_subtotal": 0} |
    And the state of cart $K is {"lines": [], "subtotal_cents": 0}
    And the inventory key(inventory, NO-STOCK) events are no events

  Scenario: 11 Reserving below the threshold raises a low-stock alert
    Given product GIZMO-C priced 400 with stock 20 and threshold 10
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "GIZMO-C", "quantity": 15, "unit_price_cents": 400}
    Then the inventory key(inventory, GIZMO-C) history ends with:
      | StockReserved | {"order_id": "$K", "quantity": 15, "new_on_hand": 20, "new_reserved": 15, "new_available": 5} |
      | LowStockAlert | {"product_id": "GIZMO-C", "available": 5, "threshold": 10} |
    And row key(inventory, GIZMO-C) of projector-inventory-stock is {"on_hand": 20, "reserved": 15, "available": 5, "low_stock_threshold": 10, "low_stock": true}

  Scenario: 12 A cart with a coupon checks out at its discounted price
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 3, "unit_price_cents": 2500}
    And AddItem is sent to cart $K {"product_id": "GADGET-B", "quantity": 1, "unit_price_cents": 1000}
    And ApplyCoupon is sent to cart $K {"code": "SAVE10", "coupon_type": "percentage", "value": 10}
    And Checkout is sent to cart $K {}
    Then the cart $K events are CartCreated, ItemAdded, ItemAdded, CouponApplied, CartCheckedOut
    And the cart $K history ends with:
      | CartCheckedOut | {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 3, "unit_price_cents": 2500}, {"product_id": "GADGET-B", "quantity": 1, "unit_price_cents": 1000}], "final_subtotal": 8500, "discount_cents": 850} |

  Scenario: 13 Two purchases' carts stay apart
    When CreateCart is sent to cart $K1 {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K1 {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    Given the correlation id $C2
    When CreateCart is sent to cart $K2 {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K2 {"product_id": "WIDGET-A", "quantity": 3, "unit_price_cents": 2500}
    And AddItem is sent to cart $K2 {"product_id": "GADGET-B", "quantity": 1, "unit_price_cents": 1000}
    Then the cart $K1 events are CartCreated, ItemAdded
    And every CartCreated of cart $K1 carries the correlation id $C
    And every ItemAdded of cart $K1 carries the correlation id $C
    And the cart $K2 events are CartCreated, ItemAdded, ItemAdded
    And every CartCreated of cart $K2 carries the correlation id $C2
    And every ItemAdded of cart $K2 carries the correlation id $C2
    And the state of cart $K1 is {"customer_id": "alice@example.com", "lines": [{"product_id": "WIDGET-A", "quantity": 2}], "subtotal_cents": 5000}
    And the state of cart $K2 is {"customer_id": "alice@example.com", "lines": [{"product_id": "WIDGET-A", "quantity": 3}, {"product_id": "GADGET-B", "quantity": 1}], "subtotal_cents": 8500}
    And the state of inventory key(inventory, WIDGET-A) is {"reserved": 5, "reservations": {"$K1": 2, "$K2": 3}}
    And the state of inventory key(inventory, GADGET-B) is {"reserved": 1, "reservations": {"$K2": 1}}
