# examples-spec §7 "Order completion", flows 14-21, against the whole shop: one scenario per flow.
# A completed order is shipped (saga-order-fulfillment), earns its customer points
# (saga-order-customer) and turns its reservations into sold stock (saga-order-inventory).
Feature: End to end, completing an order ships it, rewards the customer and commits its stock

  Background:
    Given the shop is running
    And customer alice@example.com named Alice
    And product WIDGET-A priced 2500 with stock 100 and threshold 10
    And product GADGET-B priced 1000 with stock 50 and threshold 0

  Scenario: 14 A paid order is shipped, rewarded and takes its reserved stock
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    And Checkout is sent to cart $K {}
    And CreateOrder is sent to order $R {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 5000}
    And ConfirmPayment is sent to order $R {"payment_reference": "PAY-1"}
    Then the order $R has OrderCompleted {"customer_id": "alice@example.com", "cart_id": "$K", "final_total_cents": 5000, "loyalty_points_earned": 50, "payment_method": "card", "payment_reference": "PAY-1"}
    And the fulfillment $R events are ShipmentCreated
    And the fulfillment $R has ShipmentCreated {"order_id": "$R", "status": "pending"}
    And the customer key(customer, alice@example.com) has LoyaltyPointsAdded {"points": 50, "new_balance": 50, "reason": "order:$R"}
    And the inventory key(inventory, WIDGET-A) has ReservationCommitted {"order_id": "$K", "quantity": 2, "new_on_hand": 98, "new_reserved": 0, "new_available": 98}
    And the state of inventory key(inventory, WIDGET-A) is {"on_hand": 98, "reserved": 0, "reservations": {}}

  Scenario: 15 Everything a purchase causes carries its correlation id
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    And Checkout is sent to cart $K {}
    And CreateOrder is sent to order $R {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 5000}
    And ConfirmPayment is sent to order $R {"payment_reference": "PAY-1"}
    Then every OrderCompleted of order $R carries the correlation id $C
    And every ShipmentCreated of fulfillment $R carries the correlation id $C
    And every LoyaltyPointsAdded of customer key(customer, alice@example.com) carries the correlation id $C
    And every ReservationCommitted of inventory key(inventory, WIDGET-A) carries the correlation id $C

  Scenario: 16 Two completed orders are shipped separately
    When CreateOrder is sent to order $R1 {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R1 {"payment_method": "card", "amount_cents": 2500}
    And ConfirmPayment is sent to order $R1 {"payment_reference": "PAY-1"}
    Given the correlation id $C2
    When CreateOrder is sent to order $R2 {"customer_id": "alice@example.com", "items": [{"product_id": "GADGET-B", "quantity": 3, "unit_price_cents": 1000}]}
    And SubmitPayment is sent to order $R2 {"payment_method": "card", "amount_cents": 3000}
    And ConfirmPayment is sent to order $R2 {"payment_reference": "PAY-2"}
    Then the fulfillment $R1 events are ShipmentCreated
    And the fulfillment $R1 has ShipmentCreated {"order_id": "$R1"}
    And every ShipmentCreated of fulfillment $R1 carries the correlation id $C
    And the fulfillment $R2 events are ShipmentCreated
    And the fulfillment $R2 has ShipmentCreated {"order_id": "$R2"}
    And every ShipmentCreated of fulfillment $R2 carries the correlation id $C2

  Scenario: 17 An order for an unknown customer is still shipped, without points
    When CreateOrder is sent to order $R {"customer_id": "ghost@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 2500}
    And ConfirmPayment is sent to order $R {"payment_reference": "PAY-1"}
    Then the fulfillment $R has ShipmentCreated {"order_id": "$R"}
    And the customer key(customer, ghost@example.com) events are no events
    And the order $R events are OrderCreated, PaymentSubmitted, OrderCompleted
    And the state of order $R is {"status": "completed"}

  Scenario: 18 A completed order cannot be confirmed again
    When CreateOrder is sent to order $R {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 2500}
    And ConfirmPayment is sent to order $R {"payment_reference": "PAY-1"}
    Then the fulfillment $R has 1 ShipmentCreated
    When I try ConfirmPayment on order $R {"payment_reference": "PAY-2"}
    Then it is rejected with FAILED_PRECONDITION "already completed"
    And the order $R has 1 OrderCompleted
    And the fulfillment $R has 1 ShipmentCreated

  Scenario: 19 An order under one currency unit earns no points
    Given product TRINKET-D priced 99 with stock 10 and threshold 0
    When CreateOrder is sent to order $R {"customer_id": "alice@example.com", "items": [{"product_id": "TRINKET-D", "quantity": 1, "unit_price_cents": 99}]}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 99}
    And ConfirmPayment is sent to order $R {"payment_reference": "PAY-1"}
    Then the order $R has OrderCompleted {"final_total_cents": 99, "loyalty_points_earned": 0}
    And the fulfillment $R has ShipmentCreated {"order_id": "$R"}
    And the customer key(customer, alice@example.com) has 0 LoyaltyPointsAdded

  Scenario: 20 Stock reserved under the order itself is committed when it completes
    When CreateOrder is sent to order $R {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    And ReserveStock is sent to inventory key(inventory, WIDGET-A) {"quantity": 1, "order_id": "$R"}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 2500}
    And ConfirmPayment is sent to order $R {"payment_reference": "PAY-1"}
    Then the inventory key(inventory, WIDGET-A) has ReservationCommitted {"order_id": "$R", "quantity": 1, "new_on_hand": 99, "new_reserved": 0}
    And the state of inventory key(inventory, WIDGET-A) is {"on_hand": 99, "reserved": 0, "reservations": {}}

  Scenario: 21 A completion delivered again to the sagas ships and rewards only once
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    And Checkout is sent to cart $K {}
    And CreateOrder is sent to order $R {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 5000}
    And ConfirmPayment is sent to order $R {"payment_reference": "PAY-1"}
    Then the fulfillment $R has 1 ShipmentCreated
    And the customer key(customer, alice@example.com) has 1 LoyaltyPointsAdded
    And the inventory key(inventory, WIDGET-A) has 1 ReservationCommitted
    When the runtime restarts with saga-order-fulfillment reading from the start
    And the runtime restarts with saga-order-customer reading from the start
    And the runtime restarts with saga-order-inventory reading from the start
    Then the fulfillment $R has 1 ShipmentCreated
    And the customer key(customer, alice@example.com) has 1 LoyaltyPointsAdded
    And the customer key(customer, alice@example.com) has LoyaltyPointsAdded {"points": 50, "reason": "order:$R"}
    And the state of customer key(customer, alice@example.com) is {"loyalty_points": 50, "lifetime_points": 50}
    And the inventory key(inventory, WIDGET-A) has 1 ReservationCommitted
    And the state of inventory key(inventory, WIDGET-A) is {"on_hand": 98, "reserved": 0}
