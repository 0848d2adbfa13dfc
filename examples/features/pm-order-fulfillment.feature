# examples-spec §5.1: one scenario per numbered rule.
# Prerequisites: payment (order: PaymentSubmitted), inventory (inventory: StockReserved),
# fulfillment (fulfillment: ItemsPacked). Lists follow that fixed order. The shipment of order
# $R lives at $R.
Feature: order-fulfillment, a purchase ships once it is paid, reserved and packed

  Background:
    Given the order-fulfillment process manager

  Scenario: 1 Payment alone ships nothing
    When it receives PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 5000}
    Then it records:
      | PrerequisiteCompleted | {"prerequisite": "payment", "source_root": "$R", "completed": ["payment"], "remaining": ["inventory", "fulfillment"]} |
    And it sends nothing
    And its state is {"completed": ["payment"], "fulfillment_root": "", "dispatched": false}

  Scenario: 2 Payment and stock still wait for packing
    Given it received PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 5000}
    When it receives StockReserved from inventory $I {"order_id": "$R", "quantity": 1, "new_on_hand": 100, "new_reserved": 1, "new_available": 99}
    Then it records:
      | PrerequisiteCompleted | {"prerequisite": "inventory", "source_root": "$I", "completed": ["payment", "inventory"], "remaining": ["fulfillment"]} |
    And it sends nothing
    And its state is {"completed": ["payment", "inventory"], "dispatched": false}

  Scenario: 3 Packing after payment and stock ships the order
    Given it received PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 5000}
    And it received StockReserved from inventory key(inventory, A) {"order_id": "$R", "quantity": 1}
    When it receives ItemsPacked from fulfillment $R {"packer_id": "packer-3"}
    Then it records:
      | PrerequisiteCompleted | {"prerequisite": "fulfillment", "source_root": "$R", "completed": ["payment", "inventory", "fulfillment"], "remaining": []} |
      | DispatchIssued        | {"fulfillment_root": "$R", "completed": ["payment", "inventory", "fulfillment"]}                                           |
    And it sends:
      | fulfillment | $R | Ship | {"carrier": "auto", "tracking_number": "auto-$R"} |
    And its state is {"completed": ["payment", "inventory", "fulfillment"], "fulfillment_root": "$R", "dispatched": true}

  Scenario: 4 Packed, reserved, then paid ships the order
    Given it received ItemsPacked from fulfillment $R {"packer_id": "packer-3"}
    And it received StockReserved from inventory key(inventory, A) {"order_id": "$R", "quantity": 1}
    When it receives PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 5000}
    Then it records:
      | PrerequisiteCompleted | {"prerequisite": "payment", "source_root": "$R", "completed": ["payment", "inventory", "fulfillment"], "remaining": []} |
      | DispatchIssued        | {"fulfillment_root": "$R", "completed": ["payment", "inventory", "fulfillment"]}                                       |
    And it sends:
      | fulfillment | $R | Ship | {"carrier": "auto", "tracking_number": "auto-$R"} |

  Scenario: 5 Reserved, paid, then packed ships the order
    Given it received StockReserved from inventory key(inventory, A) {"order_id": "$R", "quantity": 1}
    And it received PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 5000}
    When it receives ItemsPacked from fulfillment $R {"packer_id": "packer-3"}
    Then it sends:
      | fulfillment | $R | Ship | {"carrier": "auto", "tracking_number": "auto-$R"} |

  Scenario: 6 When the stock comes last the shipment still goes to the packed order
    Given it received PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 5000}
    And it received ItemsPacked from fulfillment $R {"packer_id": "packer-3"}
    When it receives StockReserved from inventory key(inventory, A) {"order_id": "$R", "quantity": 1}
    Then it records:
      | PrerequisiteCompleted | {"prerequisite": "inventory", "completed": ["payment", "inventory", "fulfillment"], "remaining": []} |
      | DispatchIssued        | {"fulfillment_root": "$R", "completed": ["payment", "inventory", "fulfillment"]}                    |
    And it sends:
      | fulfillment | $R | Ship | {"carrier": "auto", "tracking_number": "auto-$R"} |

  Scenario: 7 A prerequisite that arrives again changes nothing
    Given it received PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 5000}
    And it received StockReserved from inventory key(inventory, A) {"order_id": "$R", "quantity": 1}
    When it receives StockReserved from inventory key(inventory, B) {"order_id": "$R", "quantity": 2}
    Then it records nothing
    And it sends nothing
    And its state is {"completed": ["payment", "inventory"], "dispatched": false}

  Scenario: 8 A dispatched purchase ignores every later trigger
    Given it received PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 5000}
    And it received StockReserved from inventory key(inventory, A) {"order_id": "$R", "quantity": 1}
    And it received ItemsPacked from fulfillment $R {"packer_id": "packer-3"}
    When it receives PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 5000}
    Then it records nothing
    And it sends nothing
    When it receives StockReserved from inventory key(inventory, B) {"order_id": "$R", "quantity": 2}
    Then it records nothing
    And it sends nothing
    When it receives ItemsPacked from fulfillment $R {"packer_id": "packer-4"}
    Then it records nothing
    And it sends nothing

  Scenario: 9 A trigger outside any purchase is ignored
    When it receives PaymentSubmitted from order $R under correlation "" {"payment_method": "card", "amount_cents": 5000}
    Then it records nothing
    And it sends nothing
    And its state under correlation "" is {"completed": [], "dispatched": false}

  Scenario: 10 Purchases never share progress
    Given it received PaymentSubmitted from order $R under correlation $A {"payment_method": "card", "amount_cents": 5000}
    And it received PaymentSubmitted from order $R2 under correlation $B {"payment_method": "card", "amount_cents": 3000}
    And it received StockReserved from inventory key(inventory, A) under correlation $B {"order_id": "$R2", "quantity": 1}
    When it receives ItemsPacked from fulfillment $R2 under correlation $B {"packer_id": "packer-3"}
    Then it sends:
      | fulfillment | $R2 | Ship | {"carrier": "auto", "tracking_number": "auto-$R2"} |
    And its state under correlation $A is {"completed": ["payment"], "fulfillment_root": "", "dispatched": false}
    And its state under correlation $B is {"completed": ["payment", "inventory", "fulfillment"], "fulfillment_root": "$R2", "dispatched": true}

  Scenario: 11 The shipment ships under the purchase's correlation id
    Given it received PaymentSubmitted from order $R under correlation $A {"payment_method": "card", "amount_cents": 5000}
    And it received StockReserved from inventory key(inventory, A) under correlation $A {"order_id": "$R", "quantity": 1}
    When it receives ItemsPacked from fulfillment $R under correlation $A {"packer_id": "packer-3"}
    Then it sends:
      | fulfillment | $R | Ship | {"carrier": "auto", "tracking_number": "auto-$R"} |
    And every command carries the correlation id $A

  Scenario: 12 A refused shipment is left as it is
    Given it received PaymentSubmitted from order $R {"payment_method": "card", "amount_cents": 5000}
    And it received StockReserved from inventory key(inventory, A) {"order_id": "$R", "quantity": 1}
    And it received ItemsPacked from fulfillment $R {"packer_id": "packer-3"}
    When its command Ship to fulfillment $R is rejected with FAILED_PRECONDITION "not packed"
    Then it records nothing
    And it sends nothing
    And its state is {"dispatched": true}
