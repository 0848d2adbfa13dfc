# examples-spec §5.2: one scenario per numbered rule.
# An observer: it records each status transition of one purchase and sends no commands.
Feature: order-status, the status of a purchase as its events arrive

  Background:
    Given the order-status process manager

  Scenario: 1 A new order is created
    When it receives OrderCreated from order $R {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    Then it records:
      | OrderStatusChanged | {"from_status": "", "to_status": "created", "trigger_event": "OrderCreated", "trigger_domain": "order"} |
    And it sends nothing
    And its state is {"status": "created"}

  Scenario: 2 Payment on a created order is received
    Given it received OrderCreated from order $R {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    When it receives PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 5000}
    Then it records:
      | OrderStatusChanged | {"from_status": "created", "to_status": "payment_received", "trigger_event": "PaymentSubmitted", "trigger_domain": "order"} |
    And its state is {"status": "payment_received"}

  Scenario: 3 Stock reserved for a created order
    Given it received OrderCreated from order $R {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    When it receives StockReserved from inventory key(inventory, A) {"order_id": "$R", "quantity": 2}
    Then it records:
      | OrderStatusChanged | {"from_status": "created", "to_status": "stock_reserved", "trigger_event": "StockReserved", "trigger_domain": "inventory"} |
    And its state is {"status": "stock_reserved"}

  Scenario: 4 A paid order whose stock is reserved is ready
    Given it received OrderCreated from order $R {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    And it received PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 5000}
    When it receives StockReserved from inventory key(inventory, A) {"order_id": "$R", "quantity": 2}
    Then it records:
      | OrderStatusChanged | {"from_status": "payment_received", "to_status": "ready", "trigger_event": "StockReserved", "trigger_domain": "inventory"} |
    And its state is {"status": "ready"}

  Scenario: 5 A reserved order that is paid is ready
    Given it received OrderCreated from order $R {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    And it received StockReserved from inventory key(inventory, A) {"order_id": "$R", "quantity": 2}
    When it receives PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 5000}
    Then it records:
      | OrderStatusChanged | {"from_status": "stock_reserved", "to_status": "ready", "trigger_event": "PaymentSubmitted", "trigger_domain": "order"} |
    And its state is {"status": "ready"}

  Scenario: 6 An order completes from any open status
    Given it received OrderCreated from order $R {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    And it received PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 5000}
    And it received StockReserved from inventory key(inventory, A) {"order_id": "$R", "quantity": 2}
    And it received OrderCreated from order $RA under correlation $A {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    And it received OrderCreated from order $RB under correlation $B {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    And it received PaymentSubmitted from order $RB under correlation $B {"payment_method": "card", "amount_cents": 5000}
    And it received OrderCreated from order $RD under correlation $D {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    And it received StockReserved from inventory key(inventory, A) under correlation $D {"order_id": "$RD", "quantity": 2}
    When it receives OrderCompleted from order $R {"customer_id": "alice@example.com", "final_total_cents": 5000, "loyalty_points_earned": 50}
    Then it records:
      | OrderStatusChanged | {"from_status": "ready", "to_status": "completed", "trigger_event": "OrderCompleted", "trigger_domain": "order"} |
    And its state is {"status": "completed"}
    When it receives OrderCompleted from order $RA under correlation $A {"customer_id": "alice@example.com", "final_total_cents": 5000, "loyalty_points_earned": 50}
    Then it records:
      | OrderStatusChanged | {"from_status": "created", "to_status": "completed", "trigger_event": "OrderCompleted", "trigger_domain": "order"} |
    And its state under correlation $A is {"status": "completed"}
    When it receives OrderCompleted from order $RB under correlation $B {"customer_id": "alice@example.com", "final_total_cents": 5000, "loyalty_points_earned": 50}
    Then it records:
      | OrderStatusChanged | {"from_status": "payment_received", "to_status": "completed", "trigger_event": "OrderCompleted", "trigger_domain": "order"} |
    And its state under correlation $B is {"status": "completed"}
    When it receives OrderCompleted from order $RD under correlation $D {"customer_id": "alice@example.com", "final_total_cents": 5000, "loyalty_points_earned": 50}
    Then it records:
      | OrderStatusChanged | {"from_status": "stock_reserved", "to_status": "completed", "trigger_event": "OrderCompleted", "trigger_domain": "order"} |
    And its state under correlation $D is {"status": "completed"}

  Scenario: 7 An order is cancelled from any open status
    Given it received OrderCreated from order $R {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    And it received PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 5000}
    And it received StockReserved from inventory key(inventory, A) {"order_id": "$R", "quantity": 2}
    And it received OrderCreated from order $RA under correlation $A {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    And it received OrderCreated from order $RB under correlation $B {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    And it received PaymentSubmitted from order $RB under correlation $B {"payment_method": "card", "amount_cents": 5000}
    And it received OrderCreated from order $RD under correlation $D {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    And it received StockReserved from inventory key(inventory, A) under correlation $D {"order_id": "$RD", "quantity": 2}
    When it receives OrderCancelled from order $RB under correlation $B {"reason": "changed mind", "customer_id": "alice@example.com"}
    Then it records:
      | OrderStatusChanged | {"from_status": "payment_received", "to_status": "cancelled", "trigger_event": "OrderCancelled", "trigger_domain": "order"} |
    And its state under correlation $B is {"status": "cancelled"}
    When it receives OrderCancelled from order $RA under correlation $A {"reason": "changed mind", "customer_id": "alice@example.com"}
    Then it records:
      | OrderStatusChanged | {"from_status": "created", "to_status": "cancelled", "trigger_event": "OrderCancelled", "trigger_domain": "order"} |
    And its state under correlation $A is {"status": "cancelled"}
    When it receives OrderCancelled from order $RD under correlation $D {"reason": "changed mind", "customer_id": "alice@example.com"}
    Then it records:
      | OrderStatusChanged | {"from_status": "stock_reserved", "to_status": "cancelled", "trigger_event": "OrderCancelled", "trigger_domain": "order"} |
    And its state under correlation $D is {"status": "cancelled"}
    When it receives OrderCancelled from order $R {"reason": "changed mind", "customer_id": "alice@example.com"}
    Then it records:
      | OrderStatusChanged | {"from_status": "ready", "to_status": "cancelled", "trigger_event": "OrderCancelled", "trigger_domain": "order"} |
    And its state is {"status": "cancelled"}

  Scenario: 8 A completed order whose shipment is created is shipping
    Given it received OrderCreated from order $R {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    And it received PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 5000}
    And it received OrderCompleted from order $R {"customer_id": "alice@example.com", "final_total_cents": 5000, "loyalty_points_earned": 50}
    When it receives ShipmentCreated from fulfillment $R {"order_id": "$R", "status": "pending"}
    Then it records:
      | OrderStatusChanged | {"from_status": "completed", "to_status": "shipping", "trigger_event": "ShipmentCreated", "trigger_domain": "fulfillment"} |
    And its state is {"status": "shipping"}

  Scenario: 9 Stock reserved before the order exists is not a status
    When it receives StockReserved from inventory key(inventory, A) {"order_id": "$R", "quantity": 2}
    Then it records nothing
    And its state is {"status": ""}

  Scenario: 10 More stock for a ready order changes nothing
    Given it received OrderCreated from order $R {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    And it received PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 5000}
    And it received StockReserved from inventory key(inventory, A) {"order_id": "$R", "quantity": 2}
    When it receives StockReserved from inventory key(inventory, B) {"order_id": "$R", "quantity": 1}
    Then it records nothing
    And its state is {"status": "ready"}

  Scenario: 11 A cancelled order stays cancelled
    Given it received OrderCreated from order $R {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    And it received OrderCancelled from order $R {"reason": "changed mind", "customer_id": "alice@example.com"}
    When it receives OrderCreated from order $R {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    Then it records nothing
    When it receives PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 5000}
    Then it records nothing
    When it receives StockReserved from inventory key(inventory, A) {"order_id": "$R", "quantity": 2}
    Then it records nothing
    When it receives OrderCompleted from order $R {"customer_id": "alice@example.com", "final_total_cents": 5000, "loyalty_points_earned": 50}
    Then it records nothing
    When it receives OrderCancelled from order $R {"reason": "changed mind", "customer_id": "alice@example.com"}
    Then it records nothing
    When it receives ShipmentCreated from fulfillment $R {"order_id": "$R", "status": "pending"}
    Then it records nothing
    And its state is {"status": "cancelled"}

  Scenario: 12 A completed order cannot be cancelled
    Given it received OrderCreated from order $R {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    And it received PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 5000}
    And it received OrderCompleted from order $R {"customer_id": "alice@example.com", "final_total_cents": 5000, "loyalty_points_earned": 50}
    When it receives OrderCancelled from order $R {"reason": "changed mind", "customer_id": "alice@example.com"}
    Then it records nothing
    And its state is {"status": "completed"}

  Scenario: 13 A shipping order stays shipping
    Given it received OrderCreated from order $R {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    And it received PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 5000}
    And it received OrderCompleted from order $R {"customer_id": "alice@example.com", "final_total_cents": 5000, "loyalty_points_earned": 50}
    And it received ShipmentCreated from fulfillment $R {"order_id": "$R", "status": "pending"}
    When it receives OrderCreated from order $R {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    Then it records nothing
    When it receives PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 5000}
    Then it records nothing
    When it receives StockReserved from inventory key(inventory, A) {"order_id": "$R", "quantity": 2}
    Then it records nothing
    When it receives OrderCompleted from order $R {"customer_id": "alice@example.com", "final_total_cents": 5000, "loyalty_points_earned": 50}
    Then it records nothing
    When it receives OrderCancelled from order $R {"reason": "changed mind", "customer_id": "alice@example.com"}
    Then it records nothing
    When it receives ShipmentCreated from fulfillment $R {"order_id": "$R", "status": "pending"}
    Then it records nothing
    And its state is {"status": "shipping"}

  Scenario: 14 A trigger outside any purchase is ignored
    When it receives OrderCreated from order $R under correlation "" {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    Then it records nothing
    And it sends nothing
    And its state under correlation "" is {"status": ""}

  Scenario: 15 Each purchase keeps its own status
    Given it received OrderCreated from order $R under correlation $A {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    And it received PaymentSubmitted from order $R under correlation $A {"payment_method": "card", "amount_cents": 5000}
    And it received OrderCreated from order $R2 under correlation $B {"customer_id": "alice@example.com", "subtotal_cents": 5000}
    And it received PaymentSubmitted from order $R2 under correlation $B {"payment_method": "card", "amount_cents": 5000}
    When it receives StockReserved from inventory key(inventory, A) under correlation $B {"order_id": "$R2", "quantity": 2}
    Then it records:
      | OrderStatusChanged | {"from_status": "payment_received", "to_status": "ready", "trigger_event": "StockReserved", "trigger_domain": "inventory"} |
    And its state under correlation $A is {"status": "payment_received"}
    And its state under correlation $B is {"status": "ready"}
