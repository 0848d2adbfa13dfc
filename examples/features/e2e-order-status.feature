# examples-spec §7 "Order status", flows 36-43, against the whole shop: one scenario per flow.
# The order-status process manager records one OrderStatusChanged per transition at
# key(order-status, <correlation id>); its state is the current status. Its triggers come from
# three domains, so where a flow fixes their order a Then step between them lets it handle
# each in turn.
Feature: End to end, every purchase has one status that follows its order, stock and shipment

  Background:
    Given the shop is running
    And customer alice@example.com named Alice
    And product WIDGET-A priced 2500 with stock 100 and threshold 10
    And product GADGET-B priced 1000 with stock 50 and threshold 0

  Scenario: 36 An order paid, then reserved, is ready
    When CreateOrder is sent to order $R {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 2500}
    Then the state of order-status key(order-status, $C) is {"status": "payment_received"}
    When ReserveStock is sent to inventory key(inventory, WIDGET-A) {"quantity": 1, "order_id": "$R"}
    Then the state of order-status key(order-status, $C) is {"status": "ready"}
    And the order-status key(order-status, $C) events are OrderStatusChanged, OrderStatusChanged, OrderStatusChanged
    And the order-status key(order-status, $C) history ends with:
      | OrderStatusChanged | {"from_status": "", "to_status": "created", "trigger_event": "OrderCreated", "trigger_domain": "order"} |
      | OrderStatusChanged | {"from_status": "created", "to_status": "payment_received", "trigger_event": "PaymentSubmitted", "trigger_domain": "order"} |
      | OrderStatusChanged | {"from_status": "payment_received", "to_status": "ready", "trigger_event": "StockReserved", "trigger_domain": "inventory"} |

  Scenario: 37 An order reserved, then paid, is ready
    When CreateOrder is sent to order $R {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    Then the state of order-status key(order-status, $C) is {"status": "created"}
    When ReserveStock is sent to inventory key(inventory, WIDGET-A) {"quantity": 1, "order_id": "$R"}
    Then the state of order-status key(order-status, $C) is {"status": "stock_reserved"}
    When SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 2500}
    Then the state of order-status key(order-status, $C) is {"status": "ready"}
    And the order-status key(order-status, $C) history ends with:
      | OrderStatusChanged | {"from_status": "", "to_status": "created"} |
      | OrderStatusChanged | {"from_status": "created", "to_status": "stock_reserved", "trigger_event": "StockReserved", "trigger_domain": "inventory"} |
      | OrderStatusChanged | {"from_status": "stock_reserved", "to_status": "ready", "trigger_event": "PaymentSubmitted", "trigger_domain": "order"} |

  Scenario: 38 A completed order goes on to shipping
    When CreateOrder is sent to order $R {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 2500}
    And ConfirmPayment is sent to order $R {"payment_reference": "PAY-1"}
    Then the state of order-status key(order-status, $C) is {"status": "shipping"}
    And the order-status key(order-status, $C) events are OrderStatusChanged, OrderStatusChanged, OrderStatusChanged, OrderStatusChanged
    And the order-status key(order-status, $C) history ends with:
      | OrderStatusChanged | {"from_status": "", "to_status": "created"} |
      | OrderStatusChanged | {"from_status": "created", "to_status": "payment_received"} |
      | OrderStatusChanged | {"from_status": "payment_received", "to_status": "completed", "trigger_event": "OrderCompleted", "trigger_domain": "order"} |
      | OrderStatusChanged | {"from_status": "completed", "to_status": "shipping", "trigger_event": "ShipmentCreated", "trigger_domain": "fulfillment"} |

  Scenario: 39 A cancelled order stays cancelled
    When CreateOrder is sent to order $R {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    And CancelOrder is sent to order $R {"reason": "changed mind"}
    Then the state of order-status key(order-status, $C) is {"status": "cancelled"}
    When ReserveStock is sent to inventory key(inventory, WIDGET-A) {"quantity": 1, "order_id": "$R"}
    Then the inventory key(inventory, WIDGET-A) has StockReserved {"order_id": "$R", "quantity": 1}
    And the state of order-status key(order-status, $C) is {"status": "cancelled"}
    And the order-status key(order-status, $C) events are OrderStatusChanged, OrderStatusChanged
    And the order-status key(order-status, $C) history ends with:
      | OrderStatusChanged | {"from_status": "", "to_status": "created"} |
      | OrderStatusChanged | {"from_status": "created", "to_status": "cancelled", "trigger_event": "OrderCancelled", "trigger_domain": "order"} |

  Scenario: 40 A refused second payment leaves the status as it was
    When CreateOrder is sent to order $R {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 2500}
    And I try SubmitPayment on order $R {"payment_method": "card", "amount_cents": 2500}
    Then it is rejected with FAILED_PRECONDITION "already submitted"
    And the state of order-status key(order-status, $C) is {"status": "payment_received"}
    And the order-status key(order-status, $C) events are OrderStatusChanged, OrderStatusChanged

  Scenario: 41 Each purchase keeps its own status
    When CreateOrder is sent to order $R1 {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R1 {"payment_method": "card", "amount_cents": 2500}
    Given the correlation id $C2
    When CreateOrder is sent to order $R2 {"customer_id": "alice@example.com", "items": [{"product_id": "GADGET-B", "quantity": 2, "unit_price_cents": 1000}]}
    And SubmitPayment is sent to order $R2 {"payment_method": "card", "amount_cents": 2000}
    Then the state of order-status key(order-status, $C2) is {"status": "payment_received"}
    When ReserveStock is sent to inventory key(inventory, GADGET-B) {"quantity": 2, "order_id": "$R2"}
    Then the state of order-status key(order-status, $C) is {"status": "payment_received"}
    And the state of order-status key(order-status, $C2) is {"status": "ready"}

  Scenario: 42 Cancelling one order leaves another's status alone
    When CreateOrder is sent to order $R1 {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R1 {"payment_method": "card", "amount_cents": 2500}
    Given the correlation id $C2
    When CreateOrder is sent to order $R2 {"customer_id": "alice@example.com", "items": [{"product_id": "WIDGET-A", "quantity": 1, "unit_price_cents": 2500}]}
    And CancelOrder is sent to order $R2 {"reason": "changed mind"}
    Then the state of order-status key(order-status, $C2) is {"status": "cancelled"}
    And the state of order-status key(order-status, $C) is {"status": "payment_received"}
    And the order-status key(order-status, $C) events are OrderStatusChanged, OrderStatusChanged

  Scenario: 43 A cart's reservation before the order does not count toward its status
    When CreateCart is sent to cart $K {"customer_id": "alice@example.com"}
    And AddItem is sent to cart $K {"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}
    And Checkout is sent to cart $K {}
    Then the inventory key(inventory, WIDGET-A) has StockReserved {"order_id": "$K", "quantity": 2}
    And the order-status key(order-status, $C) events are no events
    When CreateOrder is sent to order $R {"customer_id": "alice@example.com", "cart_id": "$K", "items": [{"product_id": "WIDGET-A", "quantity": 2, "unit_price_cents": 2500}]}
    And SubmitPayment is sent to order $R {"payment_method": "card", "amount_cents": 5000}
    And ConfirmPayment is sent to order $R {"payment_reference": "PAY-1"}
    Then the state of order-status key(order-status, $C) is {"status": "shipping"}
    And the order-status key(order-status, $C) events are OrderStatusChanged, OrderStatusChanged, OrderStatusChanged, OrderStatusChanged
    And the order-status key(order-status, $C) history ends with:
      | OrderStatusChanged | {"from_status": "", "to_status": "created"} |
      | OrderStatusChanged | {"from_status": "created", "to_status": "payment_received"} |
      | OrderStatusChanged | {"from_status": "payment_received", "to_status": "completed"} |
      | OrderStatusChanged | {"from_status": "completed", "to_status": "shipping"} |
