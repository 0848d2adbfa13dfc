# examples-spec §6.4: one scenario per numbered rule.
# One row per inventory aggregate, at its root: the stock levels of one product.
# The projector does not handle LowStockAlert: it works low_stock out from the levels.
Feature: projector-inventory-stock, each product's stock levels and whether it runs low

  Background:
    Given the projector-inventory-stock projector

  Scenario: 1 Initialized stock is all available
    When it handles StockInitialized from inventory key(inventory, WIDGET-A) at sequence 0 {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    Then the rows are:
      | key(inventory, WIDGET-A) | {"product_id": "WIDGET-A", "on_hand": 100, "reserved": 0, "available": 100, "low_stock_threshold": 10, "low_stock": false, "last_sequence": 0} |

  Scenario: 2 Stock initialized below its threshold is low from the start
    When it handles StockInitialized from inventory key(inventory, WIDGET-A) at sequence 0 {"product_id": "WIDGET-A", "quantity": 5, "low_stock_threshold": 10}
    Then row key(inventory, WIDGET-A) is {"on_hand": 5, "reserved": 0, "available": 5, "low_stock_threshold": 10, "low_stock": true}

  Scenario: 3 Received stock raises what is on hand and what is available
    Given it handled StockInitialized from inventory key(inventory, WIDGET-A) at sequence 0 {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    And it handled StockReserved from inventory key(inventory, WIDGET-A) at sequence 1 {"order_id": "o-1", "quantity": 30, "new_on_hand": 100, "new_reserved": 30, "new_available": 70}
    When it handles StockReceived from inventory key(inventory, WIDGET-A) at sequence 2 {"quantity": 25, "new_on_hand": 125, "reference": "PO-1"}
    Then row key(inventory, WIDGET-A) is {"on_hand": 125, "reserved": 30, "available": 95, "low_stock": false, "last_sequence": 2}

  Scenario: 4 Reserving, committing and releasing show the levels each event reports
    Given it handled StockInitialized from inventory key(inventory, WIDGET-A) at sequence 0 {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    When it handles StockReserved from inventory key(inventory, WIDGET-A) at sequence 1 {"order_id": "o-1", "quantity": 30, "new_on_hand": 100, "new_reserved": 30, "new_available": 70}
    Then row key(inventory, WIDGET-A) is {"on_hand": 100, "reserved": 30, "available": 70, "last_sequence": 1}
    When it handles ReservationCommitted from inventory key(inventory, WIDGET-A) at sequence 2 {"order_id": "o-1", "quantity": 30, "new_on_hand": 70, "new_reserved": 0, "new_available": 70}
    Then row key(inventory, WIDGET-A) is {"on_hand": 70, "reserved": 0, "available": 70, "last_sequence": 2}
    When it handles StockReserved from inventory key(inventory, WIDGET-A) at sequence 3 {"order_id": "o-2", "quantity": 20, "new_on_hand": 70, "new_reserved": 20, "new_available": 50}
    And it handles ReservationReleased from inventory key(inventory, WIDGET-A) at sequence 4 {"order_id": "o-2", "quantity": 20, "new_on_hand": 70, "new_reserved": 0, "new_available": 70}
    Then row key(inventory, WIDGET-A) is {"on_hand": 70, "reserved": 0, "available": 70, "low_stock": false, "last_sequence": 4}

  Scenario: 5 Stock runs low when a reservation takes it below the threshold and recovers on delivery
    Given it handled StockInitialized from inventory key(inventory, WIDGET-A) at sequence 0 {"product_id": "WIDGET-A", "quantity": 20, "low_stock_threshold": 10}
    When it handles StockReserved from inventory key(inventory, WIDGET-A) at sequence 1 {"order_id": "o-1", "quantity": 15, "new_on_hand": 20, "new_reserved": 15, "new_available": 5}
    And it handles LowStockAlert from inventory key(inventory, WIDGET-A) at sequence 2 {"product_id": "WIDGET-A", "available": 5, "threshold": 10}
    Then row key(inventory, WIDGET-A) is {"on_hand": 20, "reserved": 15, "available": 5, "low_stock": true, "last_sequence": 1}
    When it handles StockReceived from inventory key(inventory, WIDGET-A) at sequence 3 {"quantity": 20, "new_on_hand": 40}
    Then row key(inventory, WIDGET-A) is {"on_hand": 40, "reserved": 15, "available": 25, "low_stock": false, "last_sequence": 3}

  Scenario: 6 An inventory event delivered a second time changes nothing
    Given it handled StockInitialized from inventory key(inventory, WIDGET-A) at sequence 0 {"product_id": "WIDGET-A", "quantity": 20, "low_stock_threshold": 10}
    And it handled StockReserved from inventory key(inventory, WIDGET-A) at sequence 1 {"order_id": "o-1", "quantity": 15, "new_on_hand": 20, "new_reserved": 15, "new_available": 5}
    And it handled StockReceived from inventory key(inventory, WIDGET-A) at sequence 2 {"quantity": 20, "new_on_hand": 40}
    When it handles StockReserved from inventory key(inventory, WIDGET-A) at sequence 1 {"order_id": "o-1", "quantity": 15, "new_on_hand": 20, "new_reserved": 15, "new_available": 5}
    Then the rows are:
      | key(inventory, WIDGET-A) | {"product_id": "WIDGET-A", "on_hand": 40, "reserved": 15, "available": 25, "low_stock_threshold": 10, "low_stock": false, "last_sequence": 2} |
