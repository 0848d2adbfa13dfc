# examples-spec §3.2: one scenario per numbered rule.
Feature: Product, a catalogue entry with a price that can be discontinued

  Background:
    Given the product aggregate

  Scenario: 1 Listing a new product
    When CreateProduct {"sku": "WIDGET-A", "name": "Widget", "description": "A fine widget", "price_cents": 1999}
    Then the events are:
      | ProductCreated | {"sku": "WIDGET-A", "name": "Widget", "description": "A fine widget", "price_cents": 1999} |

  Scenario: 2 A product is listed only once
    Given ProductCreated {"sku": "WIDGET-A", "name": "Widget", "description": "A fine widget", "price_cents": 1999}
    When CreateProduct {"sku": "WIDGET-A", "name": "Widget", "description": "A fine widget", "price_cents": 1999}
    Then the command is rejected with FAILED_PRECONDITION "already exists"

  Scenario: 3 A product needs a SKU
    When CreateProduct {"sku": "", "name": "Widget", "description": "A fine widget", "price_cents": 1999}
    Then the command is rejected with INVALID_ARGUMENT "sku"

  Scenario: 4 A product needs a name
    When CreateProduct {"sku": "WIDGET-A", "name": "", "description": "A fine widget", "price_cents": 1999}
    Then the command is rejected with INVALID_ARGUMENT "name"

  Scenario: 5 A product cannot be free
    When CreateProduct {"sku": "WIDGET-A", "name": "Widget", "description": "A fine widget", "price_cents": 0}
    Then the command is rejected with INVALID_ARGUMENT "price"

  Scenario: 6 A product cannot have a negative price
    When CreateProduct {"sku": "WIDGET-A", "name": "Widget", "description": "A fine widget", "price_cents": -100}
    Then the command is rejected with INVALID_ARGUMENT "price"

  Scenario: 7 A product may cost one cent and have no description
    When CreateProduct {"sku": "WIDGET-A", "name": "Widget", "description": "", "price_cents": 1}
    Then the events are:
      | ProductCreated | {"sku": "WIDGET-A", "name": "Widget", "description": "", "price_cents": 1} |

  Scenario: 8 An active product gets a new name and description
    Given ProductCreated {"sku": "WIDGET-A", "name": "Widget", "description": "A fine widget", "price_cents": 1999}
    When UpdateProduct {"name": "Widget Pro", "description": "Better"}
    Then the events are:
      | ProductUpdated | {"name": "Widget Pro", "description": "Better"} |

  Scenario: 9 An unknown product cannot be updated
    When UpdateProduct {"name": "Widget Pro", "description": "Better"}
    Then the command is rejected with FAILED_PRECONDITION "does not exist"

  Scenario: 10 A discontinued product cannot be updated
    Given ProductCreated {"sku": "WIDGET-A", "name": "Widget", "description": "A fine widget", "price_cents": 1999}
    And ProductDiscontinued {"reason": "recalled"}
    When UpdateProduct {"name": "Widget Pro", "description": "Better"}
    Then the command is rejected with FAILED_PRECONDITION "discontinued"

  Scenario: 11 An update needs a name
    Given ProductCreated {"sku": "WIDGET-A", "name": "Widget", "description": "A fine widget", "price_cents": 1999}
    When UpdateProduct {"name": "", "description": "Better"}
    Then the command is rejected with INVALID_ARGUMENT "name"

  Scenario: 12 A new price records the one it replaces
    Given ProductCreated {"sku": "WIDGET-A", "name": "Widget", "description": "A fine widget", "price_cents": 1000}
    When SetPrice {"price_cents": 1500}
    Then the events are:
      | PriceSet | {"price_cents": 1500, "previous_price_cents": 1000} |

  Scenario: 13 The replaced price is the latest one
    Given ProductCreated {"sku": "WIDGET-A", "name": "Widget", "description": "A fine widget", "price_cents": 1000}
    And PriceSet {"price_cents": 1500, "previous_price_cents": 1000}
    When SetPrice {"price_cents": 1200}
    Then the events are:
      | PriceSet | {"price_cents": 1200, "previous_price_cents": 1500} |

  Scenario: 14 A price cannot be negative
    Given ProductCreated {"sku": "WIDGET-A", "name": "Widget", "description": "A fine widget", "price_cents": 1000}
    When SetPrice {"price_cents": -500}
    Then the command is rejected with INVALID_ARGUMENT "price"

  Scenario: 15 A price cannot be zero
    Given ProductCreated {"sku": "WIDGET-A", "name": "Widget", "description": "A fine widget", "price_cents": 1000}
    When SetPrice {"price_cents": 0}
    Then the command is rejected with INVALID_ARGUMENT "price"

  Scenario: 16 An unknown product has no price to set
    When SetPrice {"price_cents": 1500}
    Then the command is rejected with FAILED_PRECONDITION "does not exist"

  Scenario: 17 A discontinued product keeps its price
    Given ProductCreated {"sku": "WIDGET-A", "name": "Widget", "description": "A fine widget", "price_cents": 1000}
    And ProductDiscontinued {"reason": "recalled"}
    When SetPrice {"price_cents": 1500}
    Then the command is rejected with FAILED_PRECONDITION "discontinued"

  Scenario: 18 A discontinued product is reported before the price is looked at
    Given ProductCreated {"sku": "WIDGET-A", "name": "Widget", "description": "A fine widget", "price_cents": 1000}
    And ProductDiscontinued {"reason": "recalled"}
    When SetPrice {"price_cents": 0}
    Then the command is rejected with FAILED_PRECONDITION "discontinued"

  Scenario: 19 An active product is discontinued with a reason
    Given ProductCreated {"sku": "WIDGET-A", "name": "Widget", "description": "A fine widget", "price_cents": 1999}
    When Discontinue {"reason": "recalled"}
    Then the events are:
      | ProductDiscontinued | {"reason": "recalled"} |

  Scenario: 20 A product can be discontinued without a reason
    Given ProductCreated {"sku": "WIDGET-A", "name": "Widget", "description": "A fine widget", "price_cents": 1999}
    When Discontinue {"reason": ""}
    Then the events are:
      | ProductDiscontinued | {"reason": ""} |

  Scenario: 21 An unknown product cannot be discontinued
    When Discontinue {"reason": "recalled"}
    Then the command is rejected with FAILED_PRECONDITION "does not exist"

  Scenario: 22 A product is discontinued only once
    Given ProductCreated {"sku": "WIDGET-A", "name": "Widget", "description": "A fine widget", "price_cents": 1999}
    And ProductDiscontinued {"reason": "recalled"}
    When Discontinue {"reason": "again"}
    Then the command is rejected with FAILED_PRECONDITION "already discontinued"

  Scenario: 23 A new price replaces the listed one
    Given ProductCreated {"sku": "WIDGET-A", "name": "Widget", "description": "A fine widget", "price_cents": 1999}
    And PriceSet {"price_cents": 1200, "previous_price_cents": 1999}
    Then the state is {"exists": true, "sku": "WIDGET-A", "name": "Widget", "price_cents": 1200, "status": "active"}

  Scenario: 24 A discontinued product stays discontinued
    Given ProductCreated {"sku": "WIDGET-A", "name": "Widget", "description": "A fine widget", "price_cents": 1999}
    And ProductDiscontinued {"reason": "recalled"}
    Then the state is {"status": "discontinued"}

  Scenario: 25 An update replaces only the name and description
    Given ProductCreated {"sku": "WIDGET-A", "name": "Widget", "description": "A fine widget", "price_cents": 1999}
    And ProductUpdated {"name": "Widget Pro", "description": "Better"}
    Then the state is {"sku": "WIDGET-A", "name": "Widget Pro", "description": "Better", "price_cents": 1999, "status": "active"}
