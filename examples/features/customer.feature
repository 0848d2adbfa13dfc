# examples-spec §3.1: one scenario per numbered rule.
Feature: Customer, a registered shopper collecting and spending loyalty points

  Background:
    Given the customer aggregate

  Scenario: 1 Registering a new customer
    When CreateCustomer {"name": "Alice", "email": "alice@example.com"}
    Then the events are:
      | CustomerCreated | {"name": "Alice", "email": "alice@example.com"} |

  Scenario: 2 A customer is registered only once
    Given CustomerCreated {"name": "Alice", "email": "alice@example.com"}
    When CreateCustomer {"name": "Alice", "email": "alice@example.com"}
    Then the command is rejected with FAILED_PRECONDITION "already exists"

  Scenario: 3 A customer needs a name
    When CreateCustomer {"name": "", "email": "alice@example.com"}
    Then the command is rejected with INVALID_ARGUMENT "name"

  Scenario: 4 A customer needs an email
    When CreateCustomer {"name": "Alice", "email": ""}
    Then the command is rejected with INVALID_ARGUMENT "email"

  Scenario: 5 Registering an existing customer is refused before the name is looked at
    Given CustomerCreated {"name": "Alice", "email": "alice@example.com"}
    When CreateCustomer {"name": "", "email": "alice@example.com"}
    Then the command is rejected with FAILED_PRECONDITION "already exists"

  Scenario: 6 A new customer earns welcome points
    Given CustomerCreated {"name": "Alice", "email": "alice@example.com"}
    When AddLoyaltyPoints {"points": 100, "reason": "welcome"}
    Then the events are:
      | LoyaltyPointsAdded | {"points": 100, "new_balance": 100, "new_lifetime_points": 100, "reason": "welcome"} |

  Scenario: 7 Earned points add to the balance and to the lifetime total
    Given CustomerCreated {"name": "Alice", "email": "alice@example.com"}
    And LoyaltyPointsAdded {"points": 50, "new_balance": 50, "new_lifetime_points": 50}
    When AddLoyaltyPoints {"points": 30}
    Then the events are:
      | LoyaltyPointsAdded | {"points": 30, "new_balance": 80, "new_lifetime_points": 80} |

  Scenario: 8 Spent points still count towards the lifetime total
    Given CustomerCreated {"name": "Alice", "email": "alice@example.com"}
    And LoyaltyPointsAdded {"points": 200, "new_balance": 200, "new_lifetime_points": 200}
    And LoyaltyPointsRedeemed {"points": 50, "new_balance": 150}
    When AddLoyaltyPoints {"points": 10}
    Then the events are:
      | LoyaltyPointsAdded | {"points": 10, "new_balance": 160, "new_lifetime_points": 210} |

  Scenario: 9 Points can be earned without a reason
    Given CustomerCreated {"name": "Alice", "email": "alice@example.com"}
    When AddLoyaltyPoints {"points": 25, "reason": ""}
    Then the events are:
      | LoyaltyPointsAdded | {"points": 25, "new_balance": 25, "new_lifetime_points": 25, "reason": ""} |

  Scenario: 10 Only a registered customer earns points
    When AddLoyaltyPoints {"points": 100, "reason": "welcome"}
    Then the command is rejected with FAILED_PRECONDITION "does not exist"

  Scenario: 11 Earning zero points is refused
    Given CustomerCreated {"name": "Alice", "email": "alice@example.com"}
    When AddLoyaltyPoints {"points": 0}
    Then the command is rejected with INVALID_ARGUMENT "positive"

  Scenario: 12 Earning negative points is refused
    Given CustomerCreated {"name": "Alice", "email": "alice@example.com"}
    When AddLoyaltyPoints {"points": -10}
    Then the command is rejected with INVALID_ARGUMENT "positive"

  Scenario: 13 An unknown customer is reported before the points are looked at
    When AddLoyaltyPoints {"points": 0}
    Then the command is rejected with FAILED_PRECONDITION "does not exist"

  Scenario: 14 Redeeming points lowers the balance
    Given CustomerCreated {"name": "Alice", "email": "alice@example.com"}
    And LoyaltyPointsAdded {"points": 100, "new_balance": 100, "new_lifetime_points": 100}
    When RedeemLoyaltyPoints {"points": 50, "redemption_type": "discount"}
    Then the events are:
      | LoyaltyPointsRedeemed | {"points": 50, "new_balance": 50, "redemption_type": "discount"} |

  Scenario: 15 The whole balance can be redeemed
    Given CustomerCreated {"name": "Alice", "email": "alice@example.com"}
    And LoyaltyPointsAdded {"points": 100, "new_balance": 100, "new_lifetime_points": 100}
    When RedeemLoyaltyPoints {"points": 100}
    Then the events are:
      | LoyaltyPointsRedeemed | {"points": 100, "new_balance": 0} |

  Scenario: 16 More points than the balance cannot be redeemed
    Given CustomerCreated {"name": "Alice", "email": "alice@example.com"}
    And LoyaltyPointsAdded {"points": 50, "new_balance": 50, "new_lifetime_points": 50}
    When RedeemLoyaltyPoints {"points": 100}
    Then the command is rejected with FAILED_PRECONDITION "insufficient"

  Scenario: 17 Only a registered customer redeems points
    When RedeemLoyaltyPoints {"points": 50, "redemption_type": "discount"}
    Then the command is rejected with FAILED_PRECONDITION "does not exist"

  Scenario: 18 Redeeming zero points is refused
    Given CustomerCreated {"name": "Alice", "email": "alice@example.com"}
    And LoyaltyPointsAdded {"points": 100, "new_balance": 100, "new_lifetime_points": 100}
    When RedeemLoyaltyPoints {"points": 0}
    Then the command is rejected with INVALID_ARGUMENT "positive"

  Scenario: 19 Redeeming negative points is refused
    Given CustomerCreated {"name": "Alice", "email": "alice@example.com"}
    And LoyaltyPointsAdded {"points": 100, "new_balance": 100, "new_lifetime_points": 100}
    When RedeemLoyaltyPoints {"points": -5}
    Then the command is rejected with INVALID_ARGUMENT "positive"

  Scenario: 20 Zero points are refused as such even with an empty balance
    Given CustomerCreated {"name": "Alice", "email": "alice@example.com"}
    When RedeemLoyaltyPoints {"points": 0}
    Then the command is rejected with INVALID_ARGUMENT "positive"

  Scenario: 21 The balance and lifetime total follow earnings and redemptions
    Given CustomerCreated {"name": "Alice", "email": "alice@example.com"}
    And LoyaltyPointsAdded {"points": 100, "new_balance": 100, "new_lifetime_points": 100}
    And LoyaltyPointsAdded {"points": 50, "new_balance": 150, "new_lifetime_points": 150}
    And LoyaltyPointsRedeemed {"points": 30, "new_balance": 120}
    Then the state is {"exists": true, "name": "Alice", "email": "alice@example.com", "loyalty_points": 120, "lifetime_points": 150}

  Scenario: 22 Redeeming leaves the lifetime total alone
    Given CustomerCreated {"name": "Alice", "email": "alice@example.com"}
    And LoyaltyPointsAdded {"points": 200, "new_balance": 200, "new_lifetime_points": 200}
    And LoyaltyPointsRedeemed {"points": 50, "new_balance": 150}
    Then the state is {"loyalty_points": 150, "lifetime_points": 200}

  Scenario: 23 The state takes the balances the events report
    Given CustomerCreated {"name": "Alice", "email": "alice@example.com"}
    And LoyaltyPointsAdded {"points": 10, "new_balance": 500, "new_lifetime_points": 700}
    Then the state is {"loyalty_points": 500, "lifetime_points": 700}
