# examples-spec §7 "Projections", flows 44-52, against the whole shop: one scenario per flow.
# Rows: projector-order-web at the order root, projector-order-accounting at
# <order root>:<entry type>, projector-customer-loyalty at the customer root and
# projector-inventory-stock at the inventory root.
Feature: End to end, the read models follow the orders, the loyalty points and the stock

  Background:
    Given the shop is running
    And customer alice@example.com named Alice
    And product WIDGET-A priced 2500 with stock 100 and threshold 10
    And product GADGET-B priced 1000 with stock 50 and threshold 0

  Scenario: 44 A discounted order is shown and booked at its discounted total
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    And Checkout is sent to cart $K {}
    And CreateOrder is sent to order $R {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}]}
    And ApplyLoyaltyDiscount is sent to order $R {"points": 500, "discount_cents": 500}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 4500}
    And ConfirmPayment is sent to order $R {"payment_reference": "PAY-1"}
    Then row $R of projector-order-web is {"order_id": "$R", "customer_id": "alice@example.com", "status": "completed", "subtotal_cents": 5000, "discount_cents": 500, "total_cents": 4500, "loyalty_points_used": 500, "loyalty_points_earned": 45}
    And the rows of projector-order-accounting are:
      | $R:revenue  | {"order_id": "$R", "entry_type": "revenue", "amount_cents": 4500} |
      | $R:discount | {"order_id": "$R", "entry_type": "discount", "amount_cents": 500} |

  Scenario: 45 The order view follows the order from pending to paid to completed
    When CreateOrder is sent to order $R {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}]}
    Then row $R of projector-order-web is {"order_id": "$R", "customer_id": "alice@example.com", "status": "pending", "subtotal_cents": 5000, "discount_cents": 0, "total_cents": 5000}
    When SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 5000}
    Then row $R of projector-order-web is {"status": "paid"}
    When ConfirmPayment is sent to order $R {"payment_reference": "PAY-1"}
    Then row $R of projector-order-web is {"status": "completed", "total_cents": 5000, "loyalty_points_earned": 50}

  Scenario: 46 The order view and the ledger agree on a completed order's total
    When CreateOrder is sent to order $R {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 3, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 7500}
    And ConfirmPayment is sent to order $R {"payment_reference": "PAY-1"}
    Then row $R of projector-order-web is {"status": "completed", "total_cents": 7500}
    And the rows of projector-order-accounting are:
      | $R:revenue | {"order_id": "$R", "entry_type": "revenue", "amount_cents": 7500} |

  Scenario: 47 A discounted order books its revenue and its discount
    When CreateOrder is sent to order $R {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 4, "unit_price_cents": 2500}]}
    And ApplyLoyaltyDiscount is sent to order $R {"points": 1500, "discount_cents": 1500}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 8500}
    And ConfirmPayment is sent to order $R {"payment_reference": "PAY-1"}
    Then the rows of projector-order-accounting are:
      | $R:revenue  | {"order_id": "$R", "entry_type": "revenue", "amount_cents": 8500} |
      | $R:discount | {"order_id": "$R", "entry_type": "discount", "amount_cents": 1500} |

  Scenario: 48 A cancelled order is shown cancelled and books nothing
    When CreateOrder is sent to order $R {"customer_id": "alice@example.com", "items": [{"product_id": "GADGET-B", "quantity": 3, "unit_price_cents": 1000}]}
    And CancelOrder is sent to order $R {"reason": "changed mind"}
    Then row $R of projector-order-web is {"status": "cancelled", "subtotal_cents": 3000, "total_cents": 3000}
    And projector-order-accounting has no row $R:revenue
    And projector-order-accounting has no row $R:discount

  Scenario: 49 The loyalty view follows points earned and redeemed
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    And Checkout is sent to cart $K {}
    And CreateOrder is sent to order $R {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 5000}
    And ConfirmPayment is sent to order $R {"payment_reference": "PAY-1"}
    Then row key(customer, alice@example.com) of projector-customer-loyalty is {"customer_id": "alice@example.com", "name": "Alice", "current_points": 50, "lifetime_points": 50}
    When RedeemLoyaltyPoints is sent to customer key(customer, alice@example.com) {"points": 20, "redemption_type": "discount"}
    Then row key(customer, alice@example.com) of projector-customer-loyalty is {"current_points": 30, "lifetime_points": 50}

  Scenario: 50 The loyalty view counts refunded points as earned again
    When AddLoyaltyPoints is sent to customer key(customer, alice@example.com) {"points": 100, "reason": "welcome"}
    And RedeemLoyaltyPoints is sent to customer key(customer, alice@example.com) {"points": 100, "redemption_type": "discount"}
    Then the state of customer key(customer, alice@example.com) is {"loyalty_points": 0}
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}
    And Checkout is sent to cart $K {}
    And CreateOrder is sent to order $R {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    And ApplyLoyaltyDiscount is sent to order $R {"points": 100, "discount_cents": 100}
    And CancelOrder is sent to order $R {"reason": "changed mind"}
    Then row key(customer, alice@example.com) of projector-customer-loyalty is {"customer_id": "alice@example.com", "current_points": 100, "lifetime_points": 200}

  Scenario: 51 The stock view follows a cart's reservation and the order's commit
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    Then row key(inventory, WIDGET-A) of projector-inventory-stock is {"product_id": "WIDGET-A", "on_hand": 100, "reserved": 2, "available": 98, "low_stock": false}
    When Checkout is sent to cart $K {}
    And CreateOrder is sent to order $R {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 5000}
    And ConfirmPayment is sent to order $R {"payment_reference": "PAY-1"}
    Then row key(inventory, WIDGET-A) of projector-inventory-stock is {"product_id": "WIDGET-A", "on_hand": 98, "reserved": 0, "available": 98, "low_stock": false}

  Scenario: 52 Projectors reading every event again leave their rows as they were
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    And Checkout is sent to cart $K {}
    And CreateOrder is sent to order $R {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}]}
    And ApplyLoyaltyDiscount is sent to order $R {"points": 500, "discount_cents": 500}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 4500}
    And ConfirmPayment is sent to order $R {"payment_reference": "PAY-1"}
    Then the rows of projector-order-accounting are:
      | $R:revenue  | {"order_id": "$R", "entry_type": "revenue", "amount_cents": 4500} |
      | $R:discount | {"order_id": "$R", "entry_type": "discount", "amount_cents": 500} |
    And the rows of projector-order-web are:
      | $R | {"order_id": "$R", "customer_id": "alice@example.com", "status": "completed", "subtotal_cents": 5000, "discount_cents": 500, "total_cents": 4500, "loyalty_points_used": 500, "loyalty_points_earned": 45, "last_sequence": 3} |
    When the runtime restarts with projector-order-accounting reading from the start
    And the runtime restarts with projector-order-web reading from the start
    Then the rows of projector-order-accounting are:
      | $R:revenue  | {"order_id": "$R", "entry_type": "revenue", "amount_cents": 4500} |
      | $R:discount | {"order_id": "$R", "entry_type": "discount", "amount_cents": 500} |
    And the rows of projector-order-web are:
      | $R | {"order_id": "$R", "customer_id": "alice@example.com", "status": "completed", "subtotal_cents": 5000, "discount_cents": 500, "total_cents": 4500, "loyalty_points_used": 500, "loyalty_points_earned": 45, "last_sequence": 3} |
