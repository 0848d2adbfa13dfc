# examples-spec §3.5: one scenario per numbered rule.
Feature: Order, priced from its lines and its loyalty discount, paid once, then completed or cancelled

  Background:
    Given the order aggregate

  Scenario: 1 Placing an order prices its lines
    When CreateOrder {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}, {"product_id": "B", "name": "Gadget", "quantity": 1, "unit_price_cents": 2500}]}
    Then the events are:
      | OrderCreated | {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}, {"product_id": "B", "name": "Gadget", "quantity": 1, "unit_price_cents": 2500}], "subtotal_cents": 4500} |

  Scenario: 2 An order is placed only once
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    When CreateOrder {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}, {"product_id": "B", "name": "Gadget", "quantity": 1, "unit_price_cents": 2500}]}
    Then the command is rejected with FAILED_PRECONDITION "already exists"

  Scenario: 3 An order needs at least one line
    When CreateOrder {"customer_id": "alice@example.com", "cart_id": "$K", "items": []}
    Then the command is rejected with INVALID_ARGUMENT "items"

  Scenario: 4 Every line needs a quantity
    When CreateOrder {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 0, "unit_price_cents": 1000}]}
    Then the command is rejected with INVALID_ARGUMENT "quantity"

  Scenario: 5 An order needs its customer
    When CreateOrder {"customer_id": "", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}, {"product_id": "B", "name": "Gadget", "quantity": 1, "unit_price_cents": 2500}]}
    Then the command is rejected with INVALID_ARGUMENT "customer"

  Scenario: 6 Every line needs a product
    When CreateOrder {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}]}
    Then the command is rejected with INVALID_ARGUMENT "product"

  Scenario: 7 Every line needs a price
    When CreateOrder {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 0}]}
    Then the command is rejected with INVALID_ARGUMENT "price"

  Scenario: 8 An order need not come from a cart
    When CreateOrder {"customer_id": "alice@example.com", "cart_id": "", "items": [{"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}, {"product_id": "B", "name": "Gadget", "quantity": 1, "unit_price_cents": 2500}]}
    Then the events are:
      | OrderCreated | {"customer_id": "alice@example.com", "cart_id": "", "subtotal_cents": 4500} |

  Scenario: 9 A pending order takes a loyalty discount
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    When ApplyLoyaltyDiscount {"points": 200, "discount_cents": 200}
    Then the events are:
      | LoyaltyDiscountApplied | {"points_used": 200, "discount_cents": 200} |

  Scenario: 10 A loyalty discount may cover the whole subtotal
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    When ApplyLoyaltyDiscount {"points": 5000, "discount_cents": 5000}
    Then the events are:
      | LoyaltyDiscountApplied | {"points_used": 5000, "discount_cents": 5000} |

  Scenario: 11 An order takes only one loyalty discount
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    And LoyaltyDiscountApplied {"points_used": 200, "discount_cents": 200}
    When ApplyLoyaltyDiscount {"points": 100, "discount_cents": 100}
    Then the command is rejected with FAILED_PRECONDITION "already applied"

  Scenario: 12 A loyalty discount cannot exceed the subtotal
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    When ApplyLoyaltyDiscount {"points": 5001, "discount_cents": 5001}
    Then the command is rejected with INVALID_ARGUMENT "discount"

  Scenario: 13 A second discount is refused as already applied before its amount is looked at
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    And LoyaltyDiscountApplied {"points_used": 200, "discount_cents": 200}
    When ApplyLoyaltyDiscount {"points": 10, "discount_cents": 6000}
    Then the command is rejected with FAILED_PRECONDITION "already applied"

  Scenario: 14 No discount without an order
    When ApplyLoyaltyDiscount {"points": 200, "discount_cents": 200}
    Then the command is rejected with FAILED_PRECONDITION "does not exist"

  Scenario: 15 Once payment is submitted, and after completion, the discount is closed
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    And PaymentSubmitted {"payment_method": "card", "amount_cents": 5000}
    When ApplyLoyaltyDiscount {"points": 200, "discount_cents": 200}
    Then the command is rejected with FAILED_PRECONDITION "not pending"
    Given OrderCompleted {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000, "final_total_cents": 5000, "loyalty_points_earned": 50, "payment_method": "card", "payment_reference": "PAY-1"}
    When ApplyLoyaltyDiscount {"points": 200, "discount_cents": 200}
    Then the command is rejected with FAILED_PRECONDITION "not pending"

  Scenario: 16 A cancelled order takes no discount
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    And OrderCancelled {"reason": "changed mind", "customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}]}
    When ApplyLoyaltyDiscount {"points": 200, "discount_cents": 200}
    Then the command is rejected with FAILED_PRECONDITION "not pending"

  Scenario: 17 A loyalty discount needs points
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    When ApplyLoyaltyDiscount {"points": 0, "discount_cents": 200}
    Then the command is rejected with INVALID_ARGUMENT "points"

  Scenario: 18 A loyalty discount needs an amount
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    When ApplyLoyaltyDiscount {"points": 200, "discount_cents": 0}
    Then the command is rejected with INVALID_ARGUMENT "discount"

  Scenario: 19 A pending order is paid in full
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    When SubmitPayment {"payment_method": "card", "amount_cents": 5000}
    Then the events are:
      | PaymentSubmitted | {"payment_method": "card", "amount_cents": 5000} |

  Scenario: 20 The payment is the subtotal less the discount
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    And LoyaltyDiscountApplied {"points_used": 500, "discount_cents": 500}
    When SubmitPayment {"payment_method": "card", "amount_cents": 4500}
    Then the events are:
      | PaymentSubmitted | {"payment_method": "card", "amount_cents": 4500} |

  Scenario: 21 A payment short of the total is refused
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    When SubmitPayment {"payment_method": "card", "amount_cents": 4000}
    Then the command is rejected with INVALID_ARGUMENT "amount"

  Scenario: 22 A payment that ignores the discount is refused
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    And LoyaltyDiscountApplied {"points_used": 500, "discount_cents": 500}
    When SubmitPayment {"payment_method": "card", "amount_cents": 5000}
    Then the command is rejected with INVALID_ARGUMENT "amount"

  Scenario: 23 Payment is submitted only once
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    And PaymentSubmitted {"payment_method": "card", "amount_cents": 5000}
    When SubmitPayment {"payment_method": "card", "amount_cents": 5000}
    Then the command is rejected with FAILED_PRECONDITION "already submitted"

  Scenario: 24 A completed order takes no further payment
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    And PaymentSubmitted {"payment_method": "card", "amount_cents": 5000}
    And OrderCompleted {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000, "final_total_cents": 5000, "loyalty_points_earned": 50, "payment_method": "card", "payment_reference": "PAY-1"}
    When SubmitPayment {"payment_method": "card", "amount_cents": 5000}
    Then the command is rejected with FAILED_PRECONDITION "already submitted"

  Scenario: 25 A cancelled order takes no payment
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    And OrderCancelled {"reason": "changed mind", "customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}]}
    When SubmitPayment {"payment_method": "card", "amount_cents": 5000}
    Then the command is rejected with FAILED_PRECONDITION "cancelled"

  Scenario: 26 A payment needs a payment method
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    When SubmitPayment {"payment_method": "", "amount_cents": 5000}
    Then the command is rejected with INVALID_ARGUMENT "payment method"

  Scenario: 27 No payment without an order
    When SubmitPayment {"payment_method": "card", "amount_cents": 5000}
    Then the command is rejected with FAILED_PRECONDITION "does not exist"

  Scenario: 28 Confirming the payment completes the order and earns a point per currency unit
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    And PaymentSubmitted {"payment_method": "card", "amount_cents": 5000}
    When ConfirmPayment {"payment_reference": "PAY-1"}
    Then the events are:
      | OrderCompleted | {"subtotal_cents": 5000, "discount_cents": 0, "final_total_cents": 5000, "loyalty_points_earned": 50, "payment_method": "card", "payment_reference": "PAY-1"} |

  Scenario: 29 A discounted order earns points on what was paid
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    And LoyaltyDiscountApplied {"points_used": 500, "discount_cents": 500}
    And PaymentSubmitted {"payment_method": "card", "amount_cents": 4500}
    When ConfirmPayment {"payment_reference": "PAY-1"}
    Then the events are:
      | OrderCompleted | {"subtotal_cents": 5000, "discount_cents": 500, "final_total_cents": 4500, "loyalty_points_used": 500, "loyalty_points_earned": 45} |

  Scenario: 30 Loyalty points count whole currency units only
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 1, "unit_price_cents": 4599}], "subtotal_cents": 4599}
    And PaymentSubmitted {"payment_method": "card", "amount_cents": 4599}
    When ConfirmPayment {"payment_reference": "PAY-1"}
    Then the events are:
      | OrderCompleted | {"final_total_cents": 4599, "loyalty_points_earned": 45} |

  Scenario: 31 An order under one currency unit earns no points
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 1, "unit_price_cents": 99}], "subtotal_cents": 99}
    And PaymentSubmitted {"payment_method": "card", "amount_cents": 99}
    When ConfirmPayment {"payment_reference": "PAY-1"}
    Then the events are:
      | OrderCompleted | {"final_total_cents": 99, "loyalty_points_earned": 0} |

  Scenario: 32 A completed order tells who bought what from which cart
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}, {"product_id": "B", "name": "Gadget", "quantity": 1, "unit_price_cents": 2500}], "subtotal_cents": 4500}
    And PaymentSubmitted {"payment_method": "card", "amount_cents": 4500}
    When ConfirmPayment {"payment_reference": "PAY-1"}
    Then the events are:
      | OrderCompleted | {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}, {"product_id": "B", "name": "Gadget", "quantity": 1, "unit_price_cents": 2500}], "subtotal_cents": 4500} |

  Scenario: 33 An unpaid order cannot be confirmed
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    When ConfirmPayment {"payment_reference": "PAY-1"}
    Then the command is rejected with FAILED_PRECONDITION "not submitted"

  Scenario: 34 An order is completed only once
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    And PaymentSubmitted {"payment_method": "card", "amount_cents": 5000}
    And OrderCompleted {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000, "final_total_cents": 5000, "loyalty_points_earned": 50, "payment_method": "card", "payment_reference": "PAY-1"}
    When ConfirmPayment {"payment_reference": "PAY-2"}
    Then the command is rejected with FAILED_PRECONDITION "already completed"

  Scenario: 35 A cancelled order cannot be confirmed
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    And PaymentSubmitted {"payment_method": "card", "amount_cents": 5000}
    And OrderCancelled {"reason": "changed mind", "customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}]}
    When ConfirmPayment {"payment_reference": "PAY-1"}
    Then the command is rejected with FAILED_PRECONDITION "cancelled"

  Scenario: 36 A confirmation needs a payment reference
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    And PaymentSubmitted {"payment_method": "card", "amount_cents": 5000}
    When ConfirmPayment {"payment_reference": ""}
    Then the command is rejected with INVALID_ARGUMENT "payment reference"

  Scenario: 37 No confirmation without an order
    When ConfirmPayment {"payment_reference": "PAY-1"}
    Then the command is rejected with FAILED_PRECONDITION "does not exist"

  Scenario: 38 A pending order is cancelled with what it held
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    When CancelOrder {"reason": "changed mind"}
    Then the events are:
      | OrderCancelled | {"reason": "changed mind", "loyalty_points_used": 0, "customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}]} |

  Scenario: 39 A paid order can still be cancelled
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    And PaymentSubmitted {"payment_method": "card", "amount_cents": 5000}
    When CancelOrder {"reason": "changed mind"}
    Then the events are:
      | OrderCancelled | {"reason": "changed mind"} |

  Scenario: 40 Cancelling reports the loyalty points the order used
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    And LoyaltyDiscountApplied {"points_used": 200, "discount_cents": 200}
    When CancelOrder {"reason": "changed mind"}
    Then the events are:
      | OrderCancelled | {"loyalty_points_used": 200} |

  Scenario: 41 A completed order cannot be cancelled
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    And PaymentSubmitted {"payment_method": "card", "amount_cents": 5000}
    And OrderCompleted {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000, "final_total_cents": 5000, "loyalty_points_earned": 50, "payment_method": "card", "payment_reference": "PAY-1"}
    When CancelOrder {"reason": "changed mind"}
    Then the command is rejected with FAILED_PRECONDITION "completed"

  Scenario: 42 An order is cancelled only once
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    And OrderCancelled {"reason": "changed mind", "customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}]}
    When CancelOrder {"reason": "changed mind"}
    Then the command is rejected with FAILED_PRECONDITION "already cancelled"

  Scenario: 43 A cancellation needs a reason
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    When CancelOrder {"reason": ""}
    Then the command is rejected with INVALID_ARGUMENT "reason"

  Scenario: 44 No cancellation without an order
    When CancelOrder {"reason": "changed mind"}
    Then the command is rejected with FAILED_PRECONDITION "does not exist"

  Scenario: 45 A placed order is pending with its subtotal and no discount
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    Then the state is {"exists": true, "customer_id": "alice@example.com", "cart_id": "$K", "subtotal_cents": 5000, "discount_cents": 0, "loyalty_points_used": 0, "status": "pending"}

  Scenario: 46 An order remembers its loyalty discount
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    And LoyaltyDiscountApplied {"points_used": 200, "discount_cents": 200}
    Then the state is {"loyalty_points_used": 200, "discount_cents": 200, "status": "pending"}

  Scenario: 47 An order moves from pending to paid to completed
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    And PaymentSubmitted {"payment_method": "card", "amount_cents": 5000}
    Then the state is {"status": "payment_submitted", "payment_method": "card"}
    Given OrderCompleted {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000, "final_total_cents": 5000, "loyalty_points_earned": 50, "payment_method": "card", "payment_reference": "PAY-1"}
    Then the state is {"status": "completed", "payment_reference": "PAY-1"}

  Scenario: 48 A cancelled order stays cancelled
    Given OrderCreated {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}
    And OrderCancelled {"reason": "changed mind", "customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "A", "name": "Widget", "quantity": 5, "unit_price_cents": 1000}]}
    Then the state is {"status": "cancelled"}
