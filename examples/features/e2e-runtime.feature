# examples-spec §7 "Runtime behaviour through the examples", flows 53-55, against the whole
# shop, plus three scenarios without a flow number: an idempotent retry, and the projections a
# command's response carries with sync mode SIMPLE and CASCADE.
# Sequences count from 0: a cart with 2 events expects next sequence 2.
Feature: End to end, the runtime guards the shop's histories and answers with its read models

  Background:
    Given the shop is running
    And customer alice@example.com named Alice
    And product WIDGET-A priced 2500 with stock 100 and threshold 10
    And product GADGET-B priced 1000 with stock 50 and threshold 0

  Scenario: 53 A command expecting an outdated sequence is refused
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    And I try AddItem on cart $K expecting sequence 1 {"product_id": "GADGET-B", "quantity": 1, "unit_price_cents": 1000}
    Then it is rejected with ABORTED "next sequence is 2"
    And the cart $K events are CartCreated, ItemAdded
    And the state of cart $K is {"lines": [{"product_id": "WIDGET-A", "quantity": 2}], "subtotal_cents": 5000}
    And the inventory key(inventory, GADGET-B) events are StockInitialized

  Scenario: 54 A sequence conflict is reported before the business rules
    When I try AddItem on cart $K expecting sequence 5 {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    Then it is rejected with ABORTED "sequence"
    And the cart $K events are no events

  Scenario: 55 A refused command stores nothing and leaves the sequence where it was
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And I try Checkout on cart $K {}
    Then it is rejected with FAILED_PRECONDITION "empty"
    And the cart $K events are CartCreated
    When I try AddItem on cart $K expecting sequence 1 {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    Then it is accepted
    And the cart $K events are CartCreated, ItemAdded

  Scenario: Retrying a command with its idempotency key applies it once
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K with idempotency key add-$K {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    And AddItem is sent to cart $K with idempotency key add-$K {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    Then the answer is the same as the previous one
    And the cart $K events are CartCreated, ItemAdded
    And the state of cart $K is {"lines": [{"product_id": "WIDGET-A", "quantity": 2}], "subtotal_cents": 5000}
    And the inventory key(inventory, WIDGET-A) has 1 StockReserved
    And the state of inventory key(inventory, WIDGET-A) is {"reserved": 2, "reservations": {"$K": 2}}

  Scenario: A command sent with sync mode SIMPLE answers with the order's view
    When CreateOrder is sent to order $R with sync mode SIMPLE {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}]}
    Then the response has a projection from projector-order-web matching {"order_id": "$R", "customer_id": "alice@example.com", "status": "pending", "subtotal_cents": 5000, "discount_cents": 0, "total_cents": 5000}

  Scenario: A command sent with sync mode CASCADE answers with the read models of everything it caused
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    And Checkout is sent to cart $K {}
    And CreateOrder is sent to order $R {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 5000}
    And ConfirmPayment is sent to order $R with sync mode CASCADE {"payment_reference": "PAY-1"}
    Then the response has a projection from projector-order-web matching {"order_id": "$R", "status": "completed", "total_cents": 5000, "loyalty_points_earned": 50}
    And the response has a projection from projector-order-accounting matching {"order_id": "$R", "entry_type": "revenue", "amount_cents": 5000}
    And the response has a projection from projector-inventory-stock matching {"product_id": "WIDGET-A", "on_hand": 98, "reserved": 0, "available": 98}
    And the response has a projection from projector-customer-loyalty matching {"customer_id": "alice@example.com", "current_points": 50, "lifetime_points": 50}
