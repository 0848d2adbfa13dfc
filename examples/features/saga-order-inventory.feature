# examples-spec §4.3: one scenario per numbered rule.
# The reservation key is the order's cart K when it has one, else the order's root R.
Feature: saga-order-inventory, an order's outcome settles its stock reservations

  Background:
    Given the saga-order-inventory saga

  Scenario: 1 A completed order commits its cart's reservations, product by product
    When it receives OrderCompleted from order $R {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "quantity": 2, "unit_price_cents": 1000}, {"product_id": "B", "quantity": 1, "unit_price_cents": 2500}]}
    Then it sends:
      | inventory | key(inventory, A) | CommitReservation | {"order_id": "$K"} |
      | inventory | key(inventory, B) | CommitReservation | {"order_id": "$K"} |

  Scenario: 2 An order without a cart commits the reservations held under the order itself
    When it receives OrderCompleted from order $R {"customer_id": "alice@example.com", "cart_id": "", "items": [{"product_id": "A", "quantity": 2, "unit_price_cents": 1000}, {"product_id": "B", "quantity": 1, "unit_price_cents": 2500}]}
    Then it sends:
      | inventory | key(inventory, A) | CommitReservation | {"order_id": "$R"} |
      | inventory | key(inventory, B) | CommitReservation | {"order_id": "$R"} |

  Scenario: 3 A cancelled order releases its cart's reservations
    When it receives OrderCancelled from order $R {"reason": "changed mind", "customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "quantity": 1, "unit_price_cents": 1000}]}
    Then it sends:
      | inventory | key(inventory, A) | ReleaseReservation | {"order_id": "$K"} |

  Scenario: 4 A cancelled order without a cart releases the reservations held under the order
    When it receives OrderCancelled from order $R {"reason": "changed mind", "customer_id": "alice@example.com", "cart_id": "", "items": [{"product_id": "A", "quantity": 1, "unit_price_cents": 1000}, {"product_id": "B", "quantity": 1, "unit_price_cents": 2500}]}
    Then it sends:
      | inventory | key(inventory, A) | ReleaseReservation | {"order_id": "$R"} |
      | inventory | key(inventory, B) | ReleaseReservation | {"order_id": "$R"} |

  Scenario: 5 A product on several lines is settled once
    When it receives OrderCompleted from order $R {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "quantity": 1, "unit_price_cents": 1000}, {"product_id": "A", "quantity": 2, "unit_price_cents": 1000}]}
    Then it sends:
      | inventory | key(inventory, A) | CommitReservation | {"order_id": "$K"} |

  Scenario: 6 Creating or paying for an order settles nothing
    When it receives OrderCreated from order $R {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "quantity": 2, "unit_price_cents": 1000}], "subtotal_cents": 2000}
    Then it sends nothing
    When it receives PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 2000}
    Then it sends nothing

  Scenario: 7 Settlements happen under the purchase's correlation id
    When it receives OrderCompleted from order $R under correlation $A {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "quantity": 2, "unit_price_cents": 1000}, {"product_id": "B", "quantity": 1, "unit_price_cents": 2500}]}
    Then it sends:
      | inventory | key(inventory, A) | CommitReservation | {"order_id": "$K"} |
      | inventory | key(inventory, B) | CommitReservation | {"order_id": "$K"} |
    And every command carries the correlation id $A

  Scenario: 8 A product with nothing to settle does not hold up the others
    When it receives OrderCompleted from order $R {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "quantity": 2, "unit_price_cents": 1000}, {"product_id": "B", "quantity": 1, "unit_price_cents": 2500}]}
    Then it sends:
      | inventory | key(inventory, A) | CommitReservation | {"order_id": "$K"} |
      | inventory | key(inventory, B) | CommitReservation | {"order_id": "$K"} |
    When its command CommitReservation to inventory key(inventory, A) is rejected with FAILED_PRECONDITION "not found"
    Then it sends nothing
    When it receives OrderCancelled from order $R2 {"reason": "changed mind", "customer_id": "alice@example.com", "cart_id": "", "items": [{"product_id": "A", "quantity": 1, "unit_price_cents": 1000}, {"product_id": "NO-STOCK", "quantity": 1, "unit_price_cents": 500}]}
    And its command ReleaseReservation to inventory key(inventory, NO-STOCK) is rejected with FAILED_PRECONDITION "not initialized"
    Then it sends nothing
