# examples-spec §6.1: one scenario per numbered rule.
# One row per order, at the order root: the order as the shop's web pages show it.
Feature: projector-order-web, each order as the customer sees it on the web

  Background:
    Given the projector-order-web projector

  Scenario: 1 A new order is shown pending at its subtotal
    When it handles OrderCreated from order $R at sequence 0 {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}], "subtotal_cents": 5000}
    Then the rows are:
      | $R | {"order_id": "$R", "customer_id": "alice@example.com", "status": "pending", "subtotal_cents": 5000, "discount_cents": 0, "total_cents": 5000, "loyalty_points_used": 0, "loyalty_points_earned": 0, "last_sequence": 0} |

  Scenario: 2 A loyalty discount lowers the total shown and records the points used
    Given it handled OrderCreated from order $R at sequence 0 {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    When it handles LoyaltyDiscountApplied from order $R at sequence 1 {"points_used": 200, "discount_cents": 200}
    Then row $R is {"status": "pending", "subtotal_cents": 5000, "discount_cents": 200, "total_cents": 4800, "loyalty_points_used": 200, "last_sequence": 1}

  Scenario: 3 A submitted payment shows the order as paid
    Given it handled OrderCreated from order $R at sequence 0 {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    When it handles PaymentSubmitted from order $R at sequence 1 {"payment_method": "card", "amount_cents": 5000}
    Then row $R is {"status": "paid", "subtotal_cents": 5000, "total_cents": 5000, "last_sequence": 1}

  Scenario: 4 A completed order shows its final total and the points it earned
    Given it handled OrderCreated from order $R at sequence 0 {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    And it handled PaymentSubmitted from order $R at sequence 1 {"payment_method": "card", "amount_cents": 5000}
    When it handles OrderCompleted from order $R at sequence 2 {"customer_id": "alice@example.com", "subtotal_cents": 5000, "discount_cents": 0, "final_total_cents": 5000, "loyalty_points_earned": 50, "payment_method": "card", "payment_reference": "PAY-1"}
    Then row $R is {"status": "completed", "total_cents": 5000, "loyalty_points_earned": 50, "last_sequence": 2}

  Scenario: 5 A cancelled order is shown cancelled with its amounts as they were
    Given it handled OrderCreated from order $R at sequence 0 {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    And it handled LoyaltyDiscountApplied from order $R at sequence 1 {"points_used": 500, "discount_cents": 500}
    When it handles OrderCancelled from order $R at sequence 2 {"reason": "changed mind", "customer_id": "alice@example.com", "loyalty_points_used": 500}
    Then row $R is {"status": "cancelled", "subtotal_cents": 5000, "discount_cents": 500, "total_cents": 4500, "loyalty_points_used": 500, "loyalty_points_earned": 0, "last_sequence": 2}

  Scenario: 6 A discounted order paid and confirmed shows every amount
    Given it handled OrderCreated from order $R at sequence 0 {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}], "subtotal_cents": 5000}
    And it handled LoyaltyDiscountApplied from order $R at sequence 1 {"points_used": 500, "discount_cents": 500}
    And it handled PaymentSubmitted from order $R at sequence 2 {"payment_method": "card", "amount_cents": 4500}
    When it handles OrderCompleted from order $R at sequence 3 {"customer_id": "alice@example.com", "subtotal_cents": 5000, "discount_cents": 500, "final_total_cents": 4500, "loyalty_points_used": 500, "loyalty_points_earned": 45, "payment_method": "card", "payment_reference": "PAY-1"}
    Then the rows are:
      | $R | {"order_id": "$R", "customer_id": "alice@example.com", "status": "completed", "subtotal_cents": 5000, "discount_cents": 500, "total_cents": 4500, "loyalty_points_used": 500, "loyalty_points_earned": 45, "last_sequence": 3} |

  Scenario: 7 An order event delivered a second time changes nothing
    Given it handled OrderCreated from order $R at sequence 0 {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    And it handled PaymentSubmitted from order $R at sequence 1 {"payment_method": "card", "amount_cents": 5000}
    When it handles OrderCreated from order $R at sequence 0 {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    Then the rows are:
      | $R | {"order_id": "$R", "customer_id": "alice@example.com", "status": "paid", "subtotal_cents": 5000, "discount_cents": 0, "total_cents": 5000, "last_sequence": 1} |
