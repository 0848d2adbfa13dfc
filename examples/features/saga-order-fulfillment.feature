# examples-spec §4.1: one scenario per numbered rule.
Feature: saga-order-fulfillment, a completed order gets its shipment at the order's own root

  Background:
    Given the saga-order-fulfillment saga

  Scenario: 1 A completed order opens its shipment
    When it receives OrderCompleted from order $R {"customer_id": "alice@example.com", "items": [{"product_id": "A", "quantity": 2, "unit_price_cents": 2500}], "subtotal_cents": 5000, "final_total_cents": 5000, "loyalty_points_earned": 50}
    Then it sends:
      | fulfillment | $R | CreateShipment | {"order_id": "$R"} |

  Scenario: 2 A new order is not shipped yet
    When it receives OrderCreated from order $R {"customer_id": "alice@example.com", "items": [{"product_id": "A", "quantity": 2, "unit_price_cents": 2500}], "subtotal_cents": 5000}
    Then it sends nothing

  Scenario: 3 A cancelled order is never shipped
    When it receives OrderCancelled from order $R {"reason": "changed mind", "customer_id": "alice@example.com", "items": [{"product_id": "A", "quantity": 2, "unit_price_cents": 2500}]}
    Then it sends nothing

  Scenario: 4 Paying or applying a discount ships nothing
    When it receives PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 5000}
    Then it sends nothing
    When it receives LoyaltyDiscountApplied from order $R {"points_used": 500, "discount_cents": 500}
    Then it sends nothing

  Scenario: 5 The shipment belongs to the purchase that completed the order
    When it receives OrderCompleted from order $R under correlation $A {"customer_id": "alice@example.com", "final_total_cents": 5000, "loyalty_points_earned": 50}
    Then it sends:
      | fulfillment | $R | CreateShipment | {"order_id": "$R"} |
    And every command carries the correlation id $A

  Scenario: 6 A shipment that already exists is left as it is
    Given it received OrderCompleted from order $R {"customer_id": "alice@example.com", "final_total_cents": 5000, "loyalty_points_earned": 50}
    When its command CreateShipment to fulfillment $R is rejected with FAILED_PRECONDITION "already exists"
    Then it sends nothing
