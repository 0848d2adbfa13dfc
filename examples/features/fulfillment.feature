# examples-spec §3.6: one scenario per numbered rule.
Feature: Fulfillment, one shipment per order moving one step at a time

  Background:
    Given the fulfillment aggregate

  Scenario: 1 Creating a shipment for an order starts it pending
    When CreateShipment {"order_id": "$R"}
    Then the events are:
      | ShipmentCreated | {"order_id": "$R", "status": "pending"} |

  Scenario: 2 An order has only one shipment
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    When CreateShipment {"order_id": "$R"}
    Then the command is rejected with FAILED_PRECONDITION "already exists"

  Scenario: 3 A shipment needs its order
    When CreateShipment {"order_id": ""}
    Then the command is rejected with INVALID_ARGUMENT "order"

  Scenario: 4 A pending shipment gets picked
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    When MarkPicked {"picker_id": "picker-7"}
    Then the events are:
      | ItemsPicked | {"picker_id": "picker-7"} |

  Scenario: 5 Items cannot be picked twice
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    And ItemsPicked {"picker_id": "picker-7"}
    When MarkPicked {"picker_id": "picker-8"}
    Then the command is rejected with FAILED_PRECONDITION "not pending"

  Scenario: 6 Nothing can be picked without a shipment
    When MarkPicked {"picker_id": "picker-7"}
    Then the command is rejected with FAILED_PRECONDITION "does not exist"

  Scenario: 7 Picking needs a picker
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    When MarkPicked {"picker_id": ""}
    Then the command is rejected with INVALID_ARGUMENT "picker"

  Scenario: 8 A picked shipment refuses picking before looking at the picker
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    And ItemsPicked {"picker_id": "picker-7"}
    When MarkPicked {"picker_id": ""}
    Then the command is rejected with FAILED_PRECONDITION "not pending"

  Scenario: 9 Picked items get packed
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    And ItemsPicked {"picker_id": "picker-7"}
    When MarkPacked {"packer_id": "packer-3"}
    Then the events are:
      | ItemsPacked | {"packer_id": "packer-3"} |

  Scenario: 10 Items cannot be packed before they are picked
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    When MarkPacked {"packer_id": "packer-3"}
    Then the command is rejected with FAILED_PRECONDITION "not picked"

  Scenario: 11 Items cannot be packed twice
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    And ItemsPicked {"picker_id": "picker-7"}
    And ItemsPacked {"packer_id": "packer-3"}
    When MarkPacked {"packer_id": "packer-4"}
    Then the command is rejected with FAILED_PRECONDITION "not picked"

  Scenario: 12 Packing needs a packer
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    And ItemsPicked {"picker_id": "picker-7"}
    When MarkPacked {"packer_id": ""}
    Then the command is rejected with INVALID_ARGUMENT "packer"

  Scenario: 13 Nothing can be packed without a shipment
    When MarkPacked {"packer_id": "packer-3"}
    Then the command is rejected with FAILED_PRECONDITION "does not exist"

  Scenario: 14 A packed shipment is shipped
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    And ItemsPicked {"picker_id": "picker-7"}
    And ItemsPacked {"packer_id": "packer-3"}
    When Ship {"carrier": "UPS", "tracking_number": "1Z999"}
    Then the events are:
      | Shipped | {"carrier": "UPS", "tracking_number": "1Z999"} |

  Scenario: 15 Picked items cannot ship before they are packed
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    And ItemsPicked {"picker_id": "picker-7"}
    When Ship {"carrier": "UPS", "tracking_number": "1Z999"}
    Then the command is rejected with FAILED_PRECONDITION "not packed"

  Scenario: 16 A pending shipment cannot ship
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    When Ship {"carrier": "UPS", "tracking_number": "1Z999"}
    Then the command is rejected with FAILED_PRECONDITION "not packed"

  Scenario: 17 A shipment ships only once
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    And ItemsPicked {"picker_id": "picker-7"}
    And ItemsPacked {"packer_id": "packer-3"}
    And Shipped {"carrier": "UPS", "tracking_number": "1Z999"}
    When Ship {"carrier": "DHL", "tracking_number": "JD0001"}
    Then the command is rejected with FAILED_PRECONDITION "not packed"

  Scenario: 18 Shipping needs a carrier
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    And ItemsPicked {"picker_id": "picker-7"}
    And ItemsPacked {"packer_id": "packer-3"}
    When Ship {"carrier": "", "tracking_number": "1Z999"}
    Then the command is rejected with INVALID_ARGUMENT "carrier"

  Scenario: 19 Shipping needs a tracking number
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    And ItemsPicked {"picker_id": "picker-7"}
    And ItemsPacked {"packer_id": "packer-3"}
    When Ship {"carrier": "UPS", "tracking_number": ""}
    Then the command is rejected with INVALID_ARGUMENT "tracking"

  Scenario: 20 Nothing ships without a shipment
    When Ship {"carrier": "UPS", "tracking_number": "1Z999"}
    Then the command is rejected with FAILED_PRECONDITION "does not exist"

  Scenario: 21 A shipped parcel is delivered against a signature
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    And ItemsPicked {"picker_id": "picker-7"}
    And ItemsPacked {"packer_id": "packer-3"}
    And Shipped {"carrier": "UPS", "tracking_number": "1Z999"}
    When RecordDelivery {"signature": "J. Doe"}
    Then the events are:
      | Delivered | {"signature": "J. Doe"} |

  Scenario: 22 A delivery may be recorded without a signature
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    And ItemsPicked {"picker_id": "picker-7"}
    And ItemsPacked {"packer_id": "packer-3"}
    And Shipped {"carrier": "UPS", "tracking_number": "1Z999"}
    When RecordDelivery {"signature": ""}
    Then the events are:
      | Delivered | {"signature": ""} |

  Scenario: 23 A parcel that has not shipped cannot be delivered
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    And ItemsPicked {"picker_id": "picker-7"}
    And ItemsPacked {"packer_id": "packer-3"}
    When RecordDelivery {"signature": "J. Doe"}
    Then the command is rejected with FAILED_PRECONDITION "not shipped"

  Scenario: 24 A parcel is delivered only once
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    And ItemsPicked {"picker_id": "picker-7"}
    And ItemsPacked {"packer_id": "packer-3"}
    And Shipped {"carrier": "UPS", "tracking_number": "1Z999"}
    And Delivered {"signature": "J. Doe"}
    When RecordDelivery {"signature": "J. Doe"}
    Then the command is rejected with FAILED_PRECONDITION "already delivered"

  Scenario: 25 Nothing is delivered without a shipment
    When RecordDelivery {"signature": "J. Doe"}
    Then the command is rejected with FAILED_PRECONDITION "does not exist"

  Scenario: 26 A created shipment remembers its order and is pending
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    Then the state is {"exists": true, "order_id": "$R", "status": "pending"}

  Scenario: 27 A picked shipment remembers its picker
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    And ItemsPicked {"picker_id": "picker-7"}
    Then the state is {"order_id": "$R", "status": "picked", "picker_id": "picker-7"}

  Scenario: 28 A packed shipment remembers its packer
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    And ItemsPicked {"picker_id": "picker-7"}
    And ItemsPacked {"packer_id": "packer-3"}
    Then the state is {"order_id": "$R", "status": "packed", "picker_id": "picker-7", "packer_id": "packer-3"}

  Scenario: 29 A shipped parcel remembers its carrier and tracking number
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    And ItemsPicked {"picker_id": "picker-7"}
    And ItemsPacked {"packer_id": "packer-3"}
    And Shipped {"carrier": "UPS", "tracking_number": "1Z999"}
    Then the state is {"order_id": "$R", "status": "shipped", "carrier": "UPS", "tracking_number": "1Z999"}

  Scenario: 30 A delivered parcel remembers the signature
    Given ShipmentCreated {"order_id": "$R", "status": "pending"}
    And ItemsPicked {"picker_id": "picker-7"}
    And ItemsPacked {"packer_id": "packer-3"}
    And Shipped {"carrier": "UPS", "tracking_number": "1Z999"}
    And Delivered {"signature": "J. Doe"}
    Then the state is {"order_id": "$R", "status": "delivered", "signature": "J. Doe", "carrier": "UPS"}
