# examples-spec §4.4: one scenario per numbered rule.
# Every line of cart K is reserved under the key K at its product's inventory,
# key(inventory, <product_id>).
Feature: saga-cart-inventory, a cart's lines hold stock while the customer shops

  Background:
    Given the saga-cart-inventory saga

  Scenario: 1 A new line reserves its quantity
    When it receives ItemAdded from cart $K {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    Then it sends:
      | inventory | key(inventory, A) | ReserveStock | {"quantity": 2, "order_id": "$K"} |

  Scenario: 2 Adding more to a line re-reserves the whole line
    When it receives ItemAdded from cart $K {"product_id": "A", "name": "Widget", "quantity": 3, "line_quantity": 5, "unit_price_cents": 1000, "new_subtotal": 5000}
    Then it sends:
      | inventory | key(inventory, A) | ReleaseReservation | {"order_id": "$K"}                |
      | inventory | key(inventory, A) | ReserveStock       | {"quantity": 5, "order_id": "$K"} |

  Scenario: 3 Changing a line's quantity re-reserves it
    When it receives QuantityUpdated from cart $K {"product_id": "A", "old_quantity": 2, "new_quantity": 5, "new_subtotal": 5000}
    Then it sends:
      | inventory | key(inventory, A) | ReleaseReservation | {"order_id": "$K"}                |
      | inventory | key(inventory, A) | ReserveStock       | {"quantity": 5, "order_id": "$K"} |

  Scenario: 4 A removed line gives its stock back
    When it receives ItemRemoved from cart $K {"product_id": "A", "quantity": 2, "new_subtotal": 0}
    Then it sends:
      | inventory | key(inventory, A) | ReleaseReservation | {"order_id": "$K"} |

  Scenario: 5 Clearing the cart gives back the stock of every line
    When it receives CartCleared from cart $K {"items": [{"product_id": "A", "quantity": 2, "unit_price_cents": 1000}, {"product_id": "B", "quantity": 1, "unit_price_cents": 2500}], "new_subtotal": 0}
    Then it sends:
      | inventory | key(inventory, A) | ReleaseReservation | {"order_id": "$K"} |
      | inventory | key(inventory, B) | ReleaseReservation | {"order_id": "$K"} |

  Scenario: 6 Clearing an empty cart gives nothing back
    When it receives CartCleared from cart $K {"items": [], "new_subtotal": 0}
    Then it sends nothing

  Scenario: 7 Opening, discounting and checking out a cart leave the reservations alone
    When it receives CartCreated from cart $K {"customer_id": "alice@example.com"}
    Then it sends nothing
    When it receives CouponApplied from cart $K {"code": "SAVE10", "coupon_type": "percentage", "value": 10, "discount_cents": 200}
    Then it sends nothing
    When it receives CartCheckedOut from cart $K {"customer_id": "alice@example.com", "items": [{"product_id": "A", "quantity": 2, "unit_price_cents": 1000}], "final_subtotal": 2000, "discount_cents": 200}
    Then it sends nothing

  Scenario: 8 Reservations move under the cart's correlation id
    When it receives ItemAdded from cart $K under correlation $A {"product_id": "A", "name": "Widget", "quantity": 3, "line_quantity": 5, "unit_price_cents": 1000, "new_subtotal": 5000}
    Then it sends:
      | inventory | key(inventory, A) | ReleaseReservation | {"order_id": "$K"}                |
      | inventory | key(inventory, A) | ReserveStock       | {"quantity": 5, "order_id": "$K"} |
    And every command carries the correlation id $A

  Scenario: 9 A line whose stock cannot be reserved comes out of the cart again
    Given it received ItemAdded from cart $K under correlation $A {"product_id": "A", "name": "Widget", "quantity": 10, "line_quantity": 10, "unit_price_cents": 1000, "new_subtotal": 10000}
    When its command ReserveStock to inventory key(inventory, A) is rejected with FAILED_PRECONDITION "insufficient stock"
    Then it sends:
      | cart | $K | RemoveItem | {"product_id": "A"} |
    And every command carries the correlation id $A
    When it receives ItemAdded from cart $K {"product_id": "B", "name": "Gadget", "quantity": 1, "line_quantity": 3, "unit_price_cents": 2500, "new_subtotal": 7500}
    And its command ReserveStock to inventory key(inventory, B) is rejected with FAILED_PRECONDITION "already reserved"
    Then it sends:
      | cart | $K | RemoveItem | {"product_id": "B"} |
    And every command carries the correlation id $C
    When it receives QuantityUpdated from cart $K {"product_id": "NO-STOCK", "old_quantity": 1, "new_quantity": 4, "new_subtotal": 2000}
    And its command ReserveStock to inventory key(inventory, NO-STOCK) is rejected with FAILED_PRECONDITION "not initialized"
    Then it sends:
      | cart | $K | RemoveItem | {"product_id": "NO-STOCK"} |

  Scenario: 10 A release with nothing to release is left alone
    Given it received ItemRemoved from cart $K {"product_id": "A", "quantity": 2, "new_subtotal": 0}
    When its command ReleaseReservation to inventory key(inventory, A) is rejected with FAILED_PRECONDITION "not found"
    Then it sends nothing

  Scenario: 11 A line that cannot be taken out of the cart is left alone
    Given it received ItemAdded from cart $K {"product_id": "A", "name": "Widget", "quantity": 10, "line_quantity": 10, "unit_price_cents": 1000, "new_subtotal": 10000}
    When its command ReserveStock to inventory key(inventory, A) is rejected with FAILED_PRECONDITION "insufficient stock"
    And its command RemoveItem to cart $K is rejected with NOT_FOUND "not in cart"
    Then it sends nothing
    When it receives ItemAdded from cart $K2 {"product_id": "A", "name": "Widget", "quantity": 10, "line_quantity": 10, "unit_price_cents": 1000, "new_subtotal": 10000}
    And its command ReserveStock to inventory key(inventory, A) is rejected with FAILED_PRECONDITION "insufficient stock"
    And its command RemoveItem to cart $K2 is rejected with FAILED_PRECONDITION "checked out"
    Then it sends nothing
