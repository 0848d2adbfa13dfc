# examples-spec §7 "Cancellation", flows 22-27, against the whole shop: one scenario per flow.
# A cancelled order gives back its reserved stock (saga-order-inventory) and refunds the
# loyalty points it used (saga-order-customer).
Feature: End to end, cancelling an order gives back its stock and its points

  Background:
    Given the shop is running
    And customer alice@example.com named Alice
    And product WIDGET-A priced 2500 with stock 100 and threshold 10
    And product GADGET-B priced 1000 with stock 50 and threshold 0

  Scenario: 22 Cancelling an order releases its stock and refunds the points it used
    When AddLoyaltyPoints is sent to customer key(customer, alice@example.com) {"points": 100, "reason": "welcome"}
    And RedeemLoyaltyPoints is sent to customer key(customer, alice@example.com) {"points": 100, "redemption_type": "discount"}
    Then the state of customer key(customer, alice@example.com) is {"loyalty_points": 0, "lifetime_points": 100}
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}
    And Checkout is sent to cart $K {}
    And CreateOrder is sent to order $R {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    And ApplyLoyaltyDiscount is sent to order $R {"points": 100, "discount_cents": 100}
    And CancelOrder is sent to order $R {"reason": "changed mind"}
    Then the order $R history ends with:
      | OrderCancelled | {"reason": "changed mind", "customer_id": "alice@example.com", "cart_id": "$K", "loyalty_points_used": 100} |
    And the inventory key(inventory, WIDGET-A) has ReservationReleased {"order_id": "$K", "quantity": 1, "new_on_hand": 100, "new_reserved": 0, "new_available": 100}
    And the customer key(customer, alice@example.com) history ends with:
      | LoyaltyPointsAdded | {"points": 100, "new_balance": 100, "new_lifetime_points": 200, "reason": "refund:$R"} |
    And the state of customer key(customer, alice@example.com) is {"loyalty_points": 100, "lifetime_points": 200}

  Scenario: 23 Cancelling an order without a loyalty discount refunds nothing
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}
    And Checkout is sent to cart $K {}
    And CreateOrder is sent to order $R {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    And CancelOrder is sent to order $R {"reason": "changed mind"}
    Then the order $R history ends with:
      | OrderCancelled | {"reason": "changed mind", "loyalty_points_used": 0} |
    And the inventory key(inventory, WIDGET-A) has ReservationReleased {"order_id": "$K", "quantity": 1}
    And the state of inventory key(inventory, WIDGET-A) is {"on_hand": 100, "reserved": 0, "reservations": {}}
    And the customer key(customer, alice@example.com) events are CustomerCreated

  Scenario: 24 An order cancelled after payment still releases its stock and refunds its points
    When AddLoyaltyPoints is sent to customer key(customer, alice@example.com) {"points": 100, "reason": "welcome"}
    And RedeemLoyaltyPoints is sent to customer key(customer, alice@example.com) {"points": 100, "redemption_type": "discount"}
    Then the state of customer key(customer, alice@example.com) is {"loyalty_points": 0}
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    And Checkout is sent to cart $K {}
    And CreateOrder is sent to order $R {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}]}
    And ApplyLoyaltyDiscount is sent to order $R {"points": 100, "discount_cents": 100}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 4900}
    And CancelOrder is sent to order $R {"reason": "changed mind"}
    Then the order $R events are OrderCreated, LoyaltyDiscountApplied, PaymentSubmitted, OrderCancelled
    And the order $R has OrderCancelled {"reason": "changed mind", "loyalty_points_used": 100}
    And the inventory key(inventory, WIDGET-A) has ReservationReleased {"order_id": "$K", "quantity": 2}
    And the state of inventory key(inventory, WIDGET-A) is {"on_hand": 100, "reserved": 0, "reservations": {}}
    And the customer key(customer, alice@example.com) has LoyaltyPointsAdded {"points": 100, "reason": "refund:$R"}
    And the state of customer key(customer, alice@example.com) is {"loyalty_points": 100}

  Scenario: 25 Stock reserved under the order itself is released when it is cancelled
    When CreateOrder is sent to order $R {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    And ReserveStock is sent to inventory key(inventory, WIDGET-A) {"quantity": 1, "order_id": "$R"}
    Then the state of inventory key(inventory, WIDGET-A) is {"reserved": 1, "reservations": {"$R": 1}}
    When CancelOrder is sent to order $R {"reason": "changed mind"}
    Then the inventory key(inventory, WIDGET-A) has ReservationReleased {"order_id": "$R", "quantity": 1, "new_reserved": 0, "new_available": 100}
    And the state of inventory key(inventory, WIDGET-A) is {"on_hand": 100, "reserved": 0, "reservations": {}}

  Scenario: 26 Cancelling an order that holds no stock changes no inventory
    When CreateOrder is sent to order $R {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}, {"product_id": "GADGET-B", "quantity": 2, "unit_price_cents": 1000}]}
    And CancelOrder is sent to order $R {"reason": "changed mind"}
    Then the state of order $R is {"status": "cancelled"}
    And the inventory key(inventory, WIDGET-A) events are StockInitialized
    And the inventory key(inventory, GADGET-B) events are StockInitialized

  Scenario: 27 A completed order cannot be cancelled
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    And Checkout is sent to cart $K {}
    And CreateOrder is sent to order $R {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 5000}
    And ConfirmPayment is sent to order $R {"payment_reference": "PAY-1"}
    Then the state of order $R is {"status": "completed"}
    When I try CancelOrder on order $R {"reason": "changed mind"}
    Then it is rejected with FAILED_PRECONDITION "completed"
    And the order $R events are OrderCreated, PaymentSubmitted, OrderCompleted
    And the inventory key(inventory, WIDGET-A) has 0 ReservationReleased
    And the state of inventory key(inventory, WIDGET-A) is {"on_hand": 98, "reserved": 0}
