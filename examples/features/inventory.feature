# examples-spec §3.3: one scenario per numbered rule.
# available = on_hand - reserved; it is not a state field, so rebuild rules check on_hand and
# reserved.
Feature: Inventory, one product's stock on hand and the reservations held against it

  Background:
    Given the inventory aggregate

  Scenario: 1 Starting to track a product's stock
    When InitializeStock {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    Then the events are:
      | StockInitialized | {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10} |

  Scenario: 2 Stock is initialized only once
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    When InitializeStock {"product_id": "WIDGET-A", "quantity": 50, "low_stock_threshold": 5}
    Then the command is rejected with FAILED_PRECONDITION "already initialized"

  Scenario: 3 Stock cannot start negative
    When InitializeStock {"product_id": "WIDGET-A", "quantity": -10, "low_stock_threshold": 10}
    Then the command is rejected with INVALID_ARGUMENT "quantity"

  Scenario: 4 Stock may start empty
    When InitializeStock {"product_id": "WIDGET-A", "quantity": 0, "low_stock_threshold": 10}
    Then the events are:
      | StockInitialized | {"product_id": "WIDGET-A", "quantity": 0, "low_stock_threshold": 10} |
    And the state is {"initialized": true, "on_hand": 0, "reserved": 0}

  Scenario: 5 Stock belongs to a product
    When InitializeStock {"product_id": "", "quantity": 100, "low_stock_threshold": 10}
    Then the command is rejected with INVALID_ARGUMENT "product"

  Scenario: 6 The low-stock threshold cannot be negative
    When InitializeStock {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": -1}
    Then the command is rejected with INVALID_ARGUMENT "threshold"

  Scenario: 7 A zero threshold turns low-stock alerts off
    When InitializeStock {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 0}
    Then the events are:
      | StockInitialized | {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 0} |

  Scenario: 8 Received stock adds to what is on hand
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 50, "low_stock_threshold": 10}
    When ReceiveStock {"quantity": 25, "reference": "PO-1"}
    Then the events are:
      | StockReceived | {"quantity": 25, "new_on_hand": 75, "reference": "PO-1"} |

  Scenario: 9 Stock cannot be received for an untracked product
    When ReceiveStock {"quantity": 25, "reference": "PO-1"}
    Then the command is rejected with FAILED_PRECONDITION "not initialized"

  Scenario: 10 A negative delivery is refused
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 50, "low_stock_threshold": 10}
    When ReceiveStock {"quantity": -5, "reference": "PO-1"}
    Then the command is rejected with INVALID_ARGUMENT "quantity"

  Scenario: 11 An empty delivery is refused
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 50, "low_stock_threshold": 10}
    When ReceiveStock {"quantity": 0, "reference": "PO-1"}
    Then the command is rejected with INVALID_ARGUMENT "quantity"

  Scenario: 12 Reserving stock holds it without taking it off the shelf
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    When ReserveStock {"quantity": 10, "order_id": "o-1"}
    Then the events are:
      | StockReserved | {"order_id": "o-1", "quantity": 10, "new_on_hand": 100, "new_reserved": 10, "new_available": 90} |

  Scenario: 13 Reservations add up
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    And StockReserved {"order_id": "o-1", "quantity": 20, "new_on_hand": 100, "new_reserved": 20, "new_available": 80}
    When ReserveStock {"quantity": 30, "order_id": "o-2"}
    Then the events are:
      | StockReserved | {"order_id": "o-2", "quantity": 30, "new_on_hand": 100, "new_reserved": 50, "new_available": 50} |

  Scenario: 14 The last unit can be reserved, and with alerts off nobody is alerted
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 10, "low_stock_threshold": 0}
    When ReserveStock {"quantity": 10, "order_id": "o-1"}
    Then the events are:
      | StockReserved | {"order_id": "o-1", "quantity": 10, "new_on_hand": 10, "new_reserved": 10, "new_available": 0} |

  Scenario: 15 More than the available stock cannot be reserved
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 50, "low_stock_threshold": 0}
    And StockReserved {"order_id": "o-1", "quantity": 40, "new_on_hand": 50, "new_reserved": 40, "new_available": 10}
    When ReserveStock {"quantity": 20, "order_id": "o-2"}
    Then the command is rejected with FAILED_PRECONDITION "insufficient"

  Scenario: 16 Stock cannot be reserved for an untracked product
    When ReserveStock {"quantity": 10, "order_id": "o-1"}
    Then the command is rejected with FAILED_PRECONDITION "not initialized"

  Scenario: 17 Reserving nothing is refused
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    When ReserveStock {"quantity": 0, "order_id": "o-1"}
    Then the command is rejected with INVALID_ARGUMENT "quantity"

  Scenario: 18 Reserving a negative quantity is refused
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    When ReserveStock {"quantity": -3, "order_id": "o-1"}
    Then the command is rejected with INVALID_ARGUMENT "quantity"

  Scenario: 19 A reservation needs a key
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    When ReserveStock {"quantity": 10, "order_id": ""}
    Then the command is rejected with INVALID_ARGUMENT "order"

  Scenario: 20 A key holds one reservation at a time
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    And StockReserved {"order_id": "o-1", "quantity": 10, "new_on_hand": 100, "new_reserved": 10, "new_available": 90}
    When ReserveStock {"quantity": 5, "order_id": "o-1"}
    Then the command is rejected with FAILED_PRECONDITION "already reserved"

  Scenario: 21 A second reservation for the same key is reported before the shortage
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 10, "low_stock_threshold": 0}
    And StockReserved {"order_id": "o-1", "quantity": 10, "new_on_hand": 10, "new_reserved": 10, "new_available": 0}
    When ReserveStock {"quantity": 5, "order_id": "o-1"}
    Then the command is rejected with FAILED_PRECONDITION "already reserved"

  Scenario: 22 A released key can reserve again
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    And StockReserved {"order_id": "o-1", "quantity": 10, "new_on_hand": 100, "new_reserved": 10, "new_available": 90}
    And ReservationReleased {"order_id": "o-1", "quantity": 10, "new_on_hand": 100, "new_reserved": 0, "new_available": 100}
    When ReserveStock {"quantity": 5, "order_id": "o-1"}
    Then the events are:
      | StockReserved | {"order_id": "o-1", "quantity": 5, "new_on_hand": 100, "new_reserved": 5, "new_available": 95} |

  Scenario: 23 Releasing a reservation makes its stock available again
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    And StockReserved {"order_id": "o-1", "quantity": 25, "new_on_hand": 100, "new_reserved": 25, "new_available": 75}
    When ReleaseReservation {"order_id": "o-1"}
    Then the events are:
      | ReservationReleased | {"order_id": "o-1", "quantity": 25, "new_on_hand": 100, "new_reserved": 0, "new_available": 100} |

  Scenario: 24 Only a held reservation can be released
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    And StockReserved {"order_id": "o-2", "quantity": 5, "new_on_hand": 100, "new_reserved": 5, "new_available": 95}
    When ReleaseReservation {"order_id": "o-1"}
    Then the command is rejected with FAILED_PRECONDITION "not found"

  Scenario: 25 Nothing can be released for an untracked product
    When ReleaseReservation {"order_id": "o-1"}
    Then the command is rejected with FAILED_PRECONDITION "not initialized"

  Scenario: 26 A reservation is released only once
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    And StockReserved {"order_id": "o-1", "quantity": 25, "new_on_hand": 100, "new_reserved": 25, "new_available": 75}
    And ReservationReleased {"order_id": "o-1", "quantity": 25, "new_on_hand": 100, "new_reserved": 0, "new_available": 100}
    When ReleaseReservation {"order_id": "o-1"}
    Then the command is rejected with FAILED_PRECONDITION "not found"

  Scenario: 27 Committing a reservation takes its stock off the shelf
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    And StockReserved {"order_id": "o-1", "quantity": 15, "new_on_hand": 100, "new_reserved": 15, "new_available": 85}
    When CommitReservation {"order_id": "o-1"}
    Then the events are:
      | ReservationCommitted | {"order_id": "o-1", "quantity": 15, "new_on_hand": 85, "new_reserved": 0, "new_available": 85} |

  Scenario: 28 Committing one reservation leaves the others held
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    And StockReserved {"order_id": "o-1", "quantity": 15, "new_on_hand": 100, "new_reserved": 15, "new_available": 85}
    And StockReserved {"order_id": "o-2", "quantity": 5, "new_on_hand": 100, "new_reserved": 20, "new_available": 80}
    When CommitReservation {"order_id": "o-1"}
    Then the events are:
      | ReservationCommitted | {"order_id": "o-1", "quantity": 15, "new_on_hand": 85, "new_reserved": 5, "new_available": 80} |

  Scenario: 29 Only a held reservation can be committed
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    And StockReserved {"order_id": "o-2", "quantity": 5, "new_on_hand": 100, "new_reserved": 5, "new_available": 95}
    When CommitReservation {"order_id": "o-1"}
    Then the command is rejected with FAILED_PRECONDITION "not found"

  Scenario: 30 Nothing can be committed for an untracked product
    When CommitReservation {"order_id": "o-1"}
    Then the command is rejected with FAILED_PRECONDITION "not initialized"

  Scenario: 31 A released reservation cannot be committed
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    And StockReserved {"order_id": "o-1", "quantity": 15, "new_on_hand": 100, "new_reserved": 15, "new_available": 85}
    And ReservationReleased {"order_id": "o-1", "quantity": 15, "new_on_hand": 100, "new_reserved": 0, "new_available": 100}
    When CommitReservation {"order_id": "o-1"}
    Then the command is rejected with FAILED_PRECONDITION "not found"

  Scenario: 32 A reservation that drops available stock below the threshold raises an alert
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 20, "low_stock_threshold": 10}
    When ReserveStock {"quantity": 15, "order_id": "o-1"}
    Then the events are:
      | StockReserved | {"order_id": "o-1", "quantity": 15, "new_on_hand": 20, "new_reserved": 15, "new_available": 5} |
      | LowStockAlert | {"product_id": "WIDGET-A", "available": 5, "threshold": 10} |

  Scenario: 33 Stock already below the threshold raises no second alert
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 20, "low_stock_threshold": 10}
    And StockReserved {"order_id": "o-1", "quantity": 12, "new_on_hand": 20, "new_reserved": 12, "new_available": 8}
    And LowStockAlert {"product_id": "WIDGET-A", "available": 8, "threshold": 10}
    When ReserveStock {"quantity": 2, "order_id": "o-2"}
    Then the events are:
      | StockReserved | {"order_id": "o-2", "quantity": 2, "new_on_hand": 20, "new_reserved": 14, "new_available": 6} |

  Scenario: 34 Reaching the threshold exactly is not low stock
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 12, "low_stock_threshold": 10}
    When ReserveStock {"quantity": 2, "order_id": "o-1"}
    Then the events are:
      | StockReserved | {"order_id": "o-1", "quantity": 2, "new_on_hand": 12, "new_reserved": 2, "new_available": 10} |

  Scenario: 35 With alerts off, selling out raises no alert
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 5, "low_stock_threshold": 0}
    When ReserveStock {"quantity": 5, "order_id": "o-1"}
    Then the events are:
      | StockReserved | {"order_id": "o-1", "quantity": 5, "new_on_hand": 5, "new_reserved": 5, "new_available": 0} |

  Scenario: 36 Stock that recovers above the threshold alerts again when it drops below
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 20, "low_stock_threshold": 10}
    And StockReserved {"order_id": "o-1", "quantity": 15, "new_on_hand": 20, "new_reserved": 15, "new_available": 5}
    And LowStockAlert {"product_id": "WIDGET-A", "available": 5, "threshold": 10}
    And StockReceived {"quantity": 20, "new_on_hand": 40, "reference": "PO-2"}
    When ReserveStock {"quantity": 20, "order_id": "o-2"}
    Then the events are:
      | StockReserved | {"order_id": "o-2", "quantity": 20, "new_on_hand": 40, "new_reserved": 35, "new_available": 5} |
      | LowStockAlert | {"product_id": "WIDGET-A", "available": 5, "threshold": 10} |

  Scenario: 37 Received stock is on hand
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 50, "low_stock_threshold": 10}
    And StockReceived {"quantity": 30, "new_on_hand": 80}
    Then the state is {"initialized": true, "product_id": "WIDGET-A", "on_hand": 80, "reserved": 0, "low_stock_threshold": 10}

  Scenario: 38 Reserved stock stays on hand
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    And StockReserved {"order_id": "o-1", "quantity": 25, "new_on_hand": 100, "new_reserved": 25, "new_available": 75}
    Then the state is {"on_hand": 100, "reserved": 25, "reservations": {"o-1": 25}}

  Scenario: 39 Committed stock has left
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    And StockReserved {"order_id": "o-1", "quantity": 30, "new_on_hand": 100, "new_reserved": 30, "new_available": 70}
    And ReservationCommitted {"order_id": "o-1", "quantity": 30, "new_on_hand": 70, "new_reserved": 0, "new_available": 70}
    Then the state is {"on_hand": 70, "reserved": 0, "reservations": {}}

  Scenario: 40 Released stock is whole again
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    And StockReserved {"order_id": "o-1", "quantity": 40, "new_on_hand": 100, "new_reserved": 40, "new_available": 60}
    And ReservationReleased {"order_id": "o-1", "quantity": 40, "new_on_hand": 100, "new_reserved": 0, "new_available": 100}
    Then the state is {"on_hand": 100, "reserved": 0, "reservations": {}}

  Scenario: 41 Releasing one reservation keeps the others
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    And StockReserved {"order_id": "o-1", "quantity": 10, "new_on_hand": 100, "new_reserved": 10, "new_available": 90}
    And StockReserved {"order_id": "o-2", "quantity": 20, "new_on_hand": 100, "new_reserved": 30, "new_available": 70}
    And ReservationReleased {"order_id": "o-1", "quantity": 10, "new_on_hand": 100, "new_reserved": 20, "new_available": 80}
    Then the state is {"on_hand": 100, "reserved": 20, "reservations": {"o-2": 20}}

  Scenario: 42 The state takes the stock level the events report
    Given StockInitialized {"product_id": "WIDGET-A", "quantity": 100, "low_stock_threshold": 10}
    And StockReceived {"quantity": 5, "new_on_hand": 300}
    Then the state is {"on_hand": 300}
