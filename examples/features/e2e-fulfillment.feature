# examples-spec §7 "Fulfillment process manager", flows 28-35, against the whole shop: one
# scenario per flow. The order-fulfillment process manager ships an order once it is paid
# (order: PaymentSubmitted), its stock is reserved (inventory: StockReserved) and its shipment
# is packed (fulfillment: ItemsPacked), in any order, all under the purchase's correlation id.
# Its state lives at key(order-fulfillment, <correlation id>). Where a flow fixes the order of
# the prerequisites, a Then step between them lets the process manager handle each in turn.
Feature: End to end, an order is shipped once it is paid, reserved and packed

  Background:
    Given the shop is running
    And customer alice@example.com named Alice
    And product WIDGET-A priced 2500 with stock 100 and threshold 10
    And product GADGET-B priced 1000 with stock 50 and threshold 0

  Scenario: 28 A paid, reserved and packed order is shipped
    When CreateOrder is sent to order $R {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 2500}
    Then the order-fulfillment key(order-fulfillment, $C) history ends with:
      | PrerequisiteCompleted | {"prerequisite": "payment", "source_root": "$R", "completed": ["payment"], "remaining": ["inventory", "fulfillment"]} |
    When ReserveStock is sent to inventory key(inventory, WIDGET-A) {"quantity": 1, "order_id": "$R"}
    Then the order-fulfillment key(order-fulfillment, $C) history ends with:
      | PrerequisiteCompleted | {"prerequisite": "inventory", "completed": ["payment", "inventory"], "remaining": ["fulfillment"]} |
    When CreateShipment is sent to fulfillment $R {"order_id": "$R"}
    And MarkPicked is sent to fulfillment $R {"picker_id": "picker-7"}
    And MarkPacked is sent to fulfillment $R {"packer_id": "packer-3"}
    Then the fulfillment $R history ends with:
      | Shipped | {"carrier": "auto", "tracking_number": "auto-$R"} |
    And every Shipped of fulfillment $R carries the correlation id $C
    And the order-fulfillment key(order-fulfillment, $C) events are PrerequisiteCompleted, PrerequisiteCompleted, PrerequisiteCompleted, DispatchIssued
    And the order-fulfillment key(order-fulfillment, $C) history ends with:
      | PrerequisiteCompleted | {"prerequisite": "fulfillment", "source_root": "$R", "completed": ["payment", "inventory", "fulfillment"], "remaining": []} |
      | DispatchIssued        | {"fulfillment_root": "$R", "completed": ["payment", "inventory", "fulfillment"]} |
    And the state of fulfillment $R is {"status": "shipped", "carrier": "auto", "tracking_number": "auto-$R"}

  Scenario: 29 A paid order alone is not shipped
    When CreateOrder is sent to order $R {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 2500}
    Then the order-fulfillment key(order-fulfillment, $C) events are PrerequisiteCompleted
    And the order-fulfillment key(order-fulfillment, $C) history ends with:
      | PrerequisiteCompleted | {"prerequisite": "payment", "source_root": "$R", "completed": ["payment"], "remaining": ["inventory", "fulfillment"]} |
    And the state of order-fulfillment key(order-fulfillment, $C) is {"completed": ["payment"], "dispatched": false}
    And the fulfillment $R has 0 Shipped

  Scenario: 30 An order packed first, then reserved, then paid is shipped
    When CreateOrder is sent to order $R {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    And CreateShipment is sent to fulfillment $R {"order_id": "$R"}
    And MarkPicked is sent to fulfillment $R {"picker_id": "picker-7"}
    And MarkPacked is sent to fulfillment $R {"packer_id": "packer-3"}
    Then the order-fulfillment key(order-fulfillment, $C) history ends with:
      | PrerequisiteCompleted | {"prerequisite": "fulfillment", "source_root": "$R", "completed": ["fulfillment"], "remaining": ["payment", "inventory"]} |
    When ReserveStock is sent to inventory key(inventory, WIDGET-A) {"quantity": 1, "order_id": "$R"}
    Then the order-fulfillment key(order-fulfillment, $C) history ends with:
      | PrerequisiteCompleted | {"prerequisite": "inventory", "completed": ["inventory", "fulfillment"], "remaining": ["payment"]} |
    And the fulfillment $R has 0 Shipped
    When SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 2500}
    Then the fulfillment $R history ends with:
      | Shipped | {"carrier": "auto", "tracking_number": "auto-$R"} |
    And the order-fulfillment key(order-fulfillment, $C) has 1 DispatchIssued

  Scenario: 31 An order reserved first, then paid, then packed is shipped
    When CreateOrder is sent to order $R {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    And ReserveStock is sent to inventory key(inventory, WIDGET-A) {"quantity": 1, "order_id": "$R"}
    Then the order-fulfillment key(order-fulfillment, $C) history ends with:
      | PrerequisiteCompleted | {"prerequisite": "inventory", "completed": ["inventory"], "remaining": ["payment", "fulfillment"]} |
    When SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 2500}
    Then the order-fulfillment key(order-fulfillment, $C) history ends with:
      | PrerequisiteCompleted | {"prerequisite": "payment", "completed": ["payment", "inventory"], "remaining": ["fulfillment"]} |
    When CreateShipment is sent to fulfillment $R {"order_id": "$R"}
    And MarkPicked is sent to fulfillment $R {"picker_id": "picker-7"}
    And MarkPacked is sent to fulfillment $R {"packer_id": "packer-3"}
    Then the fulfillment $R history ends with:
      | Shipped | {"carrier": "auto", "tracking_number": "auto-$R"} |
    And the order-fulfillment key(order-fulfillment, $C) has 1 DispatchIssued

  Scenario: 32 An order whose stock is reserved last is still shipped from its own shipment
    When CreateOrder is sent to order $R {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 2500}
    And CreateShipment is sent to fulfillment $R {"order_id": "$R"}
    And MarkPicked is sent to fulfillment $R {"picker_id": "picker-7"}
    And MarkPacked is sent to fulfillment $R {"packer_id": "packer-3"}
    Then the order-fulfillment key(order-fulfillment, $C) history ends with:
      | PrerequisiteCompleted | {"prerequisite": "fulfillment", "source_root": "$R", "completed": ["payment", "fulfillment"], "remaining": ["inventory"]} |
    And the fulfillment $R has 0 Shipped
    When ReserveStock is sent to inventory key(inventory, WIDGET-A) {"quantity": 1, "order_id": "$R"}
    Then the fulfillment $R history ends with:
      | Shipped | {"carrier": "auto", "tracking_number": "auto-$R"} |
    And the order-fulfillment key(order-fulfillment, $C) history ends with:
      | PrerequisiteCompleted | {"prerequisite": "inventory", "completed": ["payment", "inventory", "fulfillment"], "remaining": []} |
      | DispatchIssued        | {"fulfillment_root": "$R"} |

  Scenario: 33 An order is shipped only once
    When CreateOrder is sent to order $R {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 2500}
    And ReserveStock is sent to inventory key(inventory, WIDGET-A) {"quantity": 1, "order_id": "$R"}
    And CreateShipment is sent to fulfillment $R {"order_id": "$R"}
    And MarkPicked is sent to fulfillment $R {"picker_id": "picker-7"}
    And MarkPacked is sent to fulfillment $R {"packer_id": "packer-3"}
    Then the fulfillment $R has 1 Shipped
    When I try SubmitPayment on order $R {"payment_method": "card", "amount_cents": 2500}
    Then it is rejected with FAILED_PRECONDITION "already submitted"
    When I try MarkPacked on fulfillment $R {"packer_id": "packer-3"}
    Then it is rejected with FAILED_PRECONDITION "not picked"
    And the fulfillment $R has 1 Shipped
    And the order-fulfillment key(order-fulfillment, $C) has 1 DispatchIssued
    And the order-fulfillment key(order-fulfillment, $C) has 3 PrerequisiteCompleted

  Scenario: 34 Purchases are shipped on their own prerequisites only
    Given the correlation id $A
    When CreateOrder is sent to order $R1 {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R1 {"payment_method": "card", "amount_cents": 2500}
    Given the correlation id $B
    When CreateOrder is sent to order $R2 {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R2 {"payment_method": "card", "amount_cents": 5000}
    And ReserveStock is sent to inventory key(inventory, WIDGET-A) {"quantity": 2, "order_id": "$R2"}
    And CreateShipment is sent to fulfillment $R2 {"order_id": "$R2"}
    And MarkPicked is sent to fulfillment $R2 {"picker_id": "picker-7"}
    And MarkPacked is sent to fulfillment $R2 {"packer_id": "packer-3"}
    Then the order-fulfillment key(order-fulfillment, $A) events are PrerequisiteCompleted
    And the fulfillment $R1 events are no events
    And the fulfillment $R2 history ends with:
      | Shipped | {"carrier": "auto", "tracking_number": "auto-$R2"} |
    And every Shipped of fulfillment $R2 carries the correlation id $B

  Scenario: 35 A completed order is picked, packed, shipped and delivered
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    And Checkout is sent to cart $K {}
    And CreateOrder is sent to order $R {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 5000}
    And ConfirmPayment is sent to order $R {"payment_reference": "PAY-1"}
    Then the fulfillment $R events are ShipmentCreated
    When MarkPicked is sent to fulfillment $R {"picker_id": "picker-7"}
    And MarkPacked is sent to fulfillment $R {"packer_id": "packer-3"}
    Then the fulfillment $R history ends with:
      | Shipped | {"carrier": "auto", "tracking_number": "auto-$R"} |
    When RecordDelivery is sent to fulfillment $R {"signature": "A. Lice"}
    Then the fulfillment $R events are ShipmentCreated, ItemsPicked, ItemsPacked, Shipped, Delivered
    And the fulfillment $R history ends with:
      | Delivered | {"signature": "A. Lice"} |
    And the state of fulfillment $R is {"status": "delivered", "signature": "A. Lice"}
