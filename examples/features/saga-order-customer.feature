# examples-spec §4.2: one scenario per numbered rule.
Feature: saga-order-customer, loyalty points follow the order's outcome

  Background:
    Given the saga-order-customer saga

  Scenario: 1 A completed order credits the points it earned
    When it receives OrderCompleted from order $R {"customer_id": "alice@example.com", "final_total_cents": 5000, "loyalty_points_earned": 50}
    Then it sends:
      | customer | key(customer, alice@example.com) | AddLoyaltyPoints | {"points": 50, "reason": "order:$R"} |

  Scenario: 2 An order too small to earn points credits nothing
    When it receives OrderCompleted from order $R {"customer_id": "alice@example.com", "final_total_cents": 99, "loyalty_points_earned": 0}
    Then it sends nothing

  Scenario: 3 A cancelled order gives back the points it used
    When it receives OrderCancelled from order $R {"reason": "changed mind", "customer_id": "alice@example.com", "loyalty_points_used": 100}
    Then it sends:
      | customer | key(customer, alice@example.com) | AddLoyaltyPoints | {"points": 100, "reason": "refund:$R"} |

  Scenario: 4 A cancelled order that used no points gives nothing back
    When it receives OrderCancelled from order $R {"reason": "changed mind", "customer_id": "alice@example.com", "loyalty_points_used": 0}
    Then it sends nothing

  Scenario: 5 A new order credits nothing
    When it receives OrderCreated from order $R {"customer_id": "alice@example.com", "items": [{"product_id": "A", "quantity": 2, "unit_price_cents": 2500}], "subtotal_cents": 5000}
    Then it sends nothing

  Scenario: 6 Points move under the purchase's correlation id
    When it receives OrderCompleted from order $R under correlation $A {"customer_id": "alice@example.com", "final_total_cents": 5000, "loyalty_points_earned": 50}
    Then it sends:
      | customer | key(customer, alice@example.com) | AddLoyaltyPoints | {"points": 50, "reason": "order:$R"} |
    And every command carries the correlation id $A
    When it receives OrderCancelled from order $R2 under correlation $B {"reason": "changed mind", "customer_id": "alice@example.com", "loyalty_points_used": 100}
    Then it sends:
      | customer | key(customer, alice@example.com) | AddLoyaltyPoints | {"points": 100, "reason": "refund:$R2"} |
    And every command carries the correlation id $B

  Scenario: 7 Points for an unknown customer are dropped and the order stands
    Given it received OrderCompleted from order $R {"customer_id": "ghost@example.com", "final_total_cents": 5000, "loyalty_points_earned": 50}
    When its command AddLoyaltyPoints to customer key(customer, ghost@example.com) is rejected with FAILED_PRECONDITION "does not exist"
    Then it sends nothing
