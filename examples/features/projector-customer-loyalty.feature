# examples-spec §6.3: one scenario per numbered rule.
# One row per customer, at the customer root: the loyalty balance a customer page shows.
Feature: projector-customer-loyalty, each customer's loyalty balance

  Background:
    Given the projector-customer-loyalty projector

  Scenario: 1 A new customer is shown with no points
    When it handles CustomerCreated from customer key(customer, alice@example.com) at sequence 0 {"name": "Alice", "email": "alice@example.com"}
    Then the rows are:
      | key(customer, alice@example.com) | {"customer_id": "alice@example.com", "name": "Alice", "current_points": 0, "lifetime_points": 0, "last_sequence": 0} |

  Scenario: 2 Added points show the new balance and lifetime total the event reports
    Given it handled CustomerCreated from customer key(customer, alice@example.com) at sequence 0 {"name": "Alice", "email": "alice@example.com"}
    And it handled LoyaltyPointsAdded from customer key(customer, alice@example.com) at sequence 1 {"points": 100, "new_balance": 100, "new_lifetime_points": 100}
    And it handled LoyaltyPointsRedeemed from customer key(customer, alice@example.com) at sequence 2 {"points": 40, "new_balance": 60}
    When it handles LoyaltyPointsAdded from customer key(customer, alice@example.com) at sequence 3 {"points": 50, "new_balance": 110, "new_lifetime_points": 150, "reason": "order:$R"}
    Then row key(customer, alice@example.com) is {"customer_id": "alice@example.com", "current_points": 110, "lifetime_points": 150, "last_sequence": 3}

  Scenario: 3 Redeemed points lower the balance but not the lifetime total
    Given it handled CustomerCreated from customer key(customer, alice@example.com) at sequence 0 {"name": "Alice", "email": "alice@example.com"}
    And it handled LoyaltyPointsAdded from customer key(customer, alice@example.com) at sequence 1 {"points": 100, "new_balance": 100, "new_lifetime_points": 100}
    When it handles LoyaltyPointsRedeemed from customer key(customer, alice@example.com) at sequence 2 {"points": 30, "new_balance": 70, "redemption_type": "discount"}
    Then row key(customer, alice@example.com) is {"current_points": 70, "lifetime_points": 100, "last_sequence": 2}

  Scenario: 4 A customer's first 250 points
    Given it handled CustomerCreated from customer key(customer, alice@example.com) at sequence 0 {"name": "Alice", "email": "alice@example.com"}
    When it handles LoyaltyPointsAdded from customer key(customer, alice@example.com) at sequence 1 {"points": 250, "new_balance": 250, "new_lifetime_points": 250}
    Then row key(customer, alice@example.com) is {"customer_id": "alice@example.com", "name": "Alice", "current_points": 250, "lifetime_points": 250, "last_sequence": 1}

  Scenario: 5 Redeeming 200 of 500 points leaves 300 and a lifetime of 500
    Given it handled CustomerCreated from customer key(customer, alice@example.com) at sequence 0 {"name": "Alice", "email": "alice@example.com"}
    And it handled LoyaltyPointsAdded from customer key(customer, alice@example.com) at sequence 1 {"points": 500, "new_balance": 500, "new_lifetime_points": 500}
    When it handles LoyaltyPointsRedeemed from customer key(customer, alice@example.com) at sequence 2 {"points": 200, "new_balance": 300}
    Then row key(customer, alice@example.com) is {"customer_id": "alice@example.com", "name": "Alice", "current_points": 300, "lifetime_points": 500, "last_sequence": 2}

  Scenario: 6 A customer event delivered a second time changes nothing
    Given it handled CustomerCreated from customer key(customer, alice@example.com) at sequence 0 {"name": "Alice", "email": "alice@example.com"}
    And it handled LoyaltyPointsAdded from customer key(customer, alice@example.com) at sequence 1 {"points": 250, "new_balance": 250, "new_lifetime_points": 250}
    And it handled LoyaltyPointsRedeemed from customer key(customer, alice@example.com) at sequence 2 {"points": 100, "new_balance": 150}
    When it handles LoyaltyPointsAdded from customer key(customer, alice@example.com) at sequence 1 {"points": 250, "new_balance": 250, "new_lifetime_points": 250}
    Then the rows are:
      | key(customer, alice@example.com) | {"customer_id": "alice@example.com", "name": "Alice", "current_points": 150, "lifetime_points": 250, "last_sequence": 2} |
