# examples-spec §6.2: one scenario per numbered rule.
# Ledger rows at <order root>:<entry type>, at most one per order and entry type.
Feature: projector-order-accounting, the ledger books revenue when an order completes

  Background:
    Given the projector-order-accounting projector

  Scenario: 1 A completed order without discount books its revenue only
    When it handles OrderCompleted from order $R at sequence 2 {"customer_id": "alice@example.com", "subtotal_cents": 5000, "discount_cents": 0, "final_total_cents": 5000, "loyalty_points_earned": 50, "payment_method": "card", "payment_reference": "PAY-1"}
    Then the rows are:
      | $R:revenue | {"order_id": "$R", "entry_type": "revenue", "amount_cents": 5000} |

  Scenario: 2 A discounted order books its revenue after discount and the discount itself
    When it handles OrderCompleted from order $R at sequence 3 {"customer_id": "alice@example.com", "subtotal_cents": 10000, "discount_cents": 1500, "final_total_cents": 8500, "loyalty_points_used": 1500, "loyalty_points_earned": 85, "payment_method": "card", "payment_reference": "PAY-1"}
    Then the rows are:
      | $R:revenue  | {"order_id": "$R", "entry_type": "revenue", "amount_cents": 8500} |
      | $R:discount | {"order_id": "$R", "entry_type": "discount", "amount_cents": 1500} |

  Scenario: 3 An order created and then cancelled books nothing
    Given it handled OrderCreated from order $R at sequence 0 {"customer_id": "alice@example.com", "items": [{"product_id": "GADGET-B", "quantity": 3, "unit_price_cents": 1000}], "subtotal_cents": 3000}
    When it handles OrderCancelled from order $R at sequence 1 {"reason": "changed mind", "customer_id": "alice@example.com"}
    Then there are no rows

  Scenario: 4 A completion delivered a second time books nothing more
    Given it handled OrderCompleted from order $R at sequence 3 {"customer_id": "alice@example.com", "subtotal_cents": 10000, "discount_cents": 1500, "final_total_cents": 8500, "loyalty_points_used": 1500, "loyalty_points_earned": 85}
    When it handles the same event again
    Then the rows are:
      | $R:revenue  | {"order_id": "$R", "entry_type": "revenue", "amount_cents": 8500} |
      | $R:discount | {"order_id": "$R", "entry_type": "discount", "amount_cents": 1500} |
