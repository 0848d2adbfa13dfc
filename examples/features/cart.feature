# examples-spec §3.4: one scenario per numbered rule.
Feature: Cart, lines of products with one optional coupon, until checkout

  Background:
    Given the cart aggregate

  Scenario: 1 Opening a cart for a customer
    When CreateCart {"customer_id": "alice@example.com"}
    Then the events are:
      | CartCreated | {"customer_id": "alice@example.com"} |

  Scenario: 2 A cart is opened only once
    Given CartCreated {"customer_id": "alice@example.com"}
    When CreateCart {"customer_id": "alice@example.com"}
    Then the command is rejected with FAILED_PRECONDITION "already exists"

  Scenario: 3 A cart needs its customer
    When CreateCart {"customer_id": ""}
    Then the command is rejected with INVALID_ARGUMENT "customer"

  Scenario: 4 Adding a product to an empty cart opens its line
    Given CartCreated {"customer_id": "alice@example.com"}
    When AddItem {"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}
    Then the events are:
      | ItemAdded | {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000} |

  Scenario: 5 Adding another product opens a second line
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    When AddItem {"product_id": "B", "name": "Gadget", "quantity": 1, "unit_price_cents": 2500}
    Then the events are:
      | ItemAdded | {"product_id": "B", "quantity": 1, "line_quantity": 1, "new_subtotal": 4500} |
    And the state is {"lines": [{"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}, {"product_id": "B", "name": "Gadget", "quantity": 1, "unit_price_cents": 2500}], "subtotal_cents": 4500}

  Scenario: 6 Adding more of a product merges into its line
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    When AddItem {"product_id": "A", "name": "Widget", "quantity": 3, "unit_price_cents": 1000}
    Then the events are:
      | ItemAdded | {"quantity": 3, "line_quantity": 5, "new_subtotal": 5000} |
    And the state is {"lines": [{"product_id": "A", "quantity": 5, "unit_price_cents": 1000}], "subtotal_cents": 5000}

  Scenario: 7 A merged line takes the latest name and price
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    When AddItem {"product_id": "A", "name": "Widget v2", "quantity": 1, "unit_price_cents": 1200}
    Then the events are:
      | ItemAdded | {"quantity": 1, "line_quantity": 3, "unit_price_cents": 1200, "new_subtotal": 3600} |
    And the state is {"lines": [{"product_id": "A", "name": "Widget v2", "quantity": 3, "unit_price_cents": 1200}], "subtotal_cents": 3600}

  Scenario: 8 Nothing is added without a cart
    When AddItem {"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}
    Then the command is rejected with FAILED_PRECONDITION "does not exist"

  Scenario: 9 An item needs a quantity
    Given CartCreated {"customer_id": "alice@example.com"}
    When AddItem {"product_id": "A", "name": "Widget", "quantity": 0, "unit_price_cents": 1000}
    Then the command is rejected with INVALID_ARGUMENT "quantity"

  Scenario: 10 An item quantity cannot be negative
    Given CartCreated {"customer_id": "alice@example.com"}
    When AddItem {"product_id": "A", "name": "Widget", "quantity": -1, "unit_price_cents": 1000}
    Then the command is rejected with INVALID_ARGUMENT "quantity"

  Scenario: 11 An item needs a product
    Given CartCreated {"customer_id": "alice@example.com"}
    When AddItem {"product_id": "", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}
    Then the command is rejected with INVALID_ARGUMENT "product"

  Scenario: 12 An item needs a price
    Given CartCreated {"customer_id": "alice@example.com"}
    When AddItem {"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 0}
    Then the command is rejected with INVALID_ARGUMENT "price"

  Scenario: 13 A checked-out cart takes no more items
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    And CartCheckedOut {"customer_id": "alice@example.com", "items": [{"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}], "final_subtotal": 2000, "discount_cents": 0}
    When AddItem {"product_id": "B", "name": "Gadget", "quantity": 1, "unit_price_cents": 2500}
    Then the command is rejected with FAILED_PRECONDITION "checked out"

  Scenario: 14 A line too expensive to count is refused
    Given CartCreated {"customer_id": "alice@example.com"}
    When AddItem {"product_id": "B", "name": "Gadget", "quantity": 2147483647, "unit_price_cents": 9223372036854775807}
    Then the command is rejected with INVALID_ARGUMENT "overflow"

  Scenario: 15 Changing the quantity of a line reprices the cart
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    When UpdateQuantity {"product_id": "A", "new_quantity": 5}
    Then the events are:
      | QuantityUpdated | {"product_id": "A", "old_quantity": 2, "new_quantity": 5, "new_subtotal": 5000} |

  Scenario: 16 Changing one line keeps the others
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    And ItemAdded {"product_id": "B", "name": "Gadget", "quantity": 1, "line_quantity": 1, "unit_price_cents": 2500, "new_subtotal": 4500}
    When UpdateQuantity {"product_id": "B", "new_quantity": 3}
    Then the events are:
      | QuantityUpdated | {"product_id": "B", "old_quantity": 1, "new_quantity": 3, "new_subtotal": 9500} |

  Scenario: 17 Only a product in the cart can change quantity
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    When UpdateQuantity {"product_id": "B", "new_quantity": 2}
    Then the command is rejected with NOT_FOUND "not in cart"

  Scenario: 18 A line cannot be set to no quantity
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    When UpdateQuantity {"product_id": "A", "new_quantity": 0}
    Then the command is rejected with INVALID_ARGUMENT "quantity"

  Scenario: 19 A zero quantity is refused before the product is looked up
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    When UpdateQuantity {"product_id": "B", "new_quantity": 0}
    Then the command is rejected with INVALID_ARGUMENT "quantity"

  Scenario: 20 No quantity changes without a cart
    When UpdateQuantity {"product_id": "A", "new_quantity": 5}
    Then the command is rejected with FAILED_PRECONDITION "does not exist"

  Scenario: 21 A checked-out cart keeps its quantities
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    And CartCheckedOut {"customer_id": "alice@example.com", "items": [{"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}], "final_subtotal": 2000, "discount_cents": 0}
    When UpdateQuantity {"product_id": "A", "new_quantity": 5}
    Then the command is rejected with FAILED_PRECONDITION "checked out"

  Scenario: 22 Removing the only line empties the subtotal
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    When RemoveItem {"product_id": "A"}
    Then the events are:
      | ItemRemoved | {"product_id": "A", "quantity": 2, "new_subtotal": 0} |

  Scenario: 23 Removing a line leaves the others priced
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    And ItemAdded {"product_id": "B", "name": "Gadget", "quantity": 1, "line_quantity": 1, "unit_price_cents": 2500, "new_subtotal": 4500}
    When RemoveItem {"product_id": "A"}
    Then the events are:
      | ItemRemoved | {"product_id": "A", "quantity": 2, "new_subtotal": 2500} |

  Scenario: 24 Only a product in the cart can be removed
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    When RemoveItem {"product_id": "B"}
    Then the command is rejected with NOT_FOUND "not in cart"

  Scenario: 25 A checked-out cart keeps its lines
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    And CartCheckedOut {"customer_id": "alice@example.com", "items": [{"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}], "final_subtotal": 2000, "discount_cents": 0}
    When RemoveItem {"product_id": "A"}
    Then the command is rejected with FAILED_PRECONDITION "checked out"

  Scenario: 26 A percentage coupon takes its share of the subtotal
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    When ApplyCoupon {"code": "SAVE10", "coupon_type": "percentage", "value": 10}
    Then the events are:
      | CouponApplied | {"code": "SAVE10", "coupon_type": "percentage", "value": 10, "discount_cents": 200} |

  Scenario: 27 A percentage discount drops the fraction of a cent
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 1, "line_quantity": 1, "unit_price_cents": 999, "new_subtotal": 999}
    When ApplyCoupon {"code": "SAVE15", "coupon_type": "percentage", "value": 15}
    Then the events are:
      | CouponApplied | {"discount_cents": 149} |

  Scenario: 28 A 100 percent coupon covers the whole subtotal
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    When ApplyCoupon {"code": "FREE", "coupon_type": "percentage", "value": 100}
    Then the events are:
      | CouponApplied | {"discount_cents": 2000} |

  Scenario: 29 A fixed coupon takes its amount off
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    When ApplyCoupon {"code": "FIVER", "coupon_type": "fixed", "value": 500}
    Then the events are:
      | CouponApplied | {"code": "FIVER", "coupon_type": "fixed", "value": 500, "discount_cents": 500} |

  Scenario: 30 A fixed coupon never takes off more than the subtotal
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    When ApplyCoupon {"code": "BIG", "coupon_type": "fixed", "value": 5000}
    Then the events are:
      | CouponApplied | {"value": 5000, "discount_cents": 2000} |

  Scenario: 31 A cart takes only one coupon
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    And CouponApplied {"code": "SAVE10", "coupon_type": "percentage", "value": 10, "discount_cents": 200}
    When ApplyCoupon {"code": "SAVE20", "coupon_type": "percentage", "value": 20}
    Then the command is rejected with FAILED_PRECONDITION "already applied"

  Scenario: 32 An empty cart takes no coupon
    Given CartCreated {"customer_id": "alice@example.com"}
    When ApplyCoupon {"code": "SAVE10", "coupon_type": "percentage", "value": 10}
    Then the command is rejected with FAILED_PRECONDITION "empty"

  Scenario: 33 A coupon stays applied when every line is removed
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    And CouponApplied {"code": "SAVE10", "coupon_type": "percentage", "value": 10, "discount_cents": 200}
    And ItemRemoved {"product_id": "A", "quantity": 2, "new_subtotal": 0}
    When ApplyCoupon {"code": "SAVE20", "coupon_type": "percentage", "value": 20}
    Then the command is rejected with FAILED_PRECONDITION "already applied"

  Scenario: 34 A coupon is a percentage or a fixed amount
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    When ApplyCoupon {"code": "BOGO", "coupon_type": "bogo", "value": 1}
    Then the command is rejected with INVALID_ARGUMENT "coupon type"

  Scenario: 35 A percentage coupon takes at least one percent
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    When ApplyCoupon {"code": "ZERO", "coupon_type": "percentage", "value": 0}
    Then the command is rejected with INVALID_ARGUMENT "value"

  Scenario: 36 A percentage coupon takes at most the whole subtotal
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    When ApplyCoupon {"code": "TOOMUCH", "coupon_type": "percentage", "value": 101}
    Then the command is rejected with INVALID_ARGUMENT "value"

  Scenario: 37 A fixed coupon takes at least one cent
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    When ApplyCoupon {"code": "NOTHING", "coupon_type": "fixed", "value": 0}
    Then the command is rejected with INVALID_ARGUMENT "value"

  Scenario: 38 A coupon needs a code
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    When ApplyCoupon {"code": "", "coupon_type": "percentage", "value": 10}
    Then the command is rejected with INVALID_ARGUMENT "code"

  Scenario: 39 A checked-out cart takes no coupon
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    And CartCheckedOut {"customer_id": "alice@example.com", "items": [{"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}], "final_subtotal": 2000, "discount_cents": 0}
    When ApplyCoupon {"code": "SAVE10", "coupon_type": "percentage", "value": 10}
    Then the command is rejected with FAILED_PRECONDITION "checked out"

  Scenario: 40 Clearing a cart removes every line
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    And ItemAdded {"product_id": "B", "name": "Gadget", "quantity": 1, "line_quantity": 1, "unit_price_cents": 2500, "new_subtotal": 4500}
    When ClearCart {}
    Then the events are:
      | CartCleared | {"items": [{"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}, {"product_id": "B", "name": "Gadget", "quantity": 1, "unit_price_cents": 2500}], "new_subtotal": 0} |

  Scenario: 41 Clearing a cart drops its coupon, so a new one can be applied
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    And CouponApplied {"code": "SAVE10", "coupon_type": "percentage", "value": 10, "discount_cents": 200}
    When ClearCart {}
    Then the events are:
      | CartCleared | {"items": [{"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}], "new_subtotal": 0} |
    When AddItem {"product_id": "B", "name": "Gadget", "quantity": 1, "unit_price_cents": 2500}
    Then the events are:
      | ItemAdded | {"product_id": "B", "line_quantity": 1, "new_subtotal": 2500} |
    When ApplyCoupon {"code": "SAVE20", "coupon_type": "percentage", "value": 20}
    Then the events are:
      | CouponApplied | {"code": "SAVE20", "discount_cents": 500} |

  Scenario: 42 Clearing an empty cart is accepted
    Given CartCreated {"customer_id": "alice@example.com"}
    When ClearCart {}
    Then the events are:
      | CartCleared | {"items": [], "new_subtotal": 0} |

  Scenario: 43 A checked-out cart cannot be cleared
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    And CartCheckedOut {"customer_id": "alice@example.com", "items": [{"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}], "final_subtotal": 2000, "discount_cents": 0}
    When ClearCart {}
    Then the command is rejected with FAILED_PRECONDITION "checked out"

  Scenario: 44 Checking out hands over the lines and the subtotal
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    When Checkout {}
    Then the events are:
      | CartCheckedOut | {"customer_id": "alice@example.com", "items": [{"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}], "final_subtotal": 2000, "discount_cents": 0} |

  Scenario: 45 Checking out hands over the coupon discount
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    And CouponApplied {"code": "SAVE10", "coupon_type": "percentage", "value": 10, "discount_cents": 200}
    When Checkout {}
    Then the events are:
      | CartCheckedOut | {"final_subtotal": 2000, "discount_cents": 200} |

  Scenario: 46 An empty cart cannot be checked out
    Given CartCreated {"customer_id": "alice@example.com"}
    When Checkout {}
    Then the command is rejected with FAILED_PRECONDITION "empty"

  Scenario: 47 A cart is checked out only once
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    And CartCheckedOut {"customer_id": "alice@example.com", "items": [{"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}], "final_subtotal": 2000, "discount_cents": 0}
    When Checkout {}
    Then the command is rejected with FAILED_PRECONDITION "already checked out"

  Scenario: 48 No checkout without a cart
    When Checkout {}
    Then the command is rejected with FAILED_PRECONDITION "does not exist"

  Scenario: 49 A percentage discount follows the subtotal up to checkout
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    And CouponApplied {"code": "SAVE10", "coupon_type": "percentage", "value": 10, "discount_cents": 200}
    And ItemAdded {"product_id": "B", "name": "Gadget", "quantity": 1, "line_quantity": 1, "unit_price_cents": 1000, "new_subtotal": 3000}
    When Checkout {}
    Then the events are:
      | CartCheckedOut | {"final_subtotal": 3000, "discount_cents": 300} |

  Scenario: 50 A fixed discount shrinks with the subtotal up to checkout
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 1, "line_quantity": 1, "unit_price_cents": 1000, "new_subtotal": 1000}
    And ItemAdded {"product_id": "B", "name": "Gadget", "quantity": 1, "line_quantity": 1, "unit_price_cents": 200, "new_subtotal": 1200}
    And CouponApplied {"code": "FIVER", "coupon_type": "fixed", "value": 500, "discount_cents": 500}
    And ItemRemoved {"product_id": "A", "quantity": 1, "new_subtotal": 200}
    When Checkout {}
    Then the events are:
      | CartCheckedOut | {"final_subtotal": 200, "discount_cents": 200} |

  Scenario: 51 A product added back goes to the end of the cart
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 1, "line_quantity": 1, "unit_price_cents": 1000, "new_subtotal": 1000}
    And ItemAdded {"product_id": "B", "name": "Gadget", "quantity": 1, "line_quantity": 1, "unit_price_cents": 2500, "new_subtotal": 3500}
    And ItemRemoved {"product_id": "A", "quantity": 1, "new_subtotal": 2500}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 1, "line_quantity": 1, "unit_price_cents": 1000, "new_subtotal": 3500}
    When Checkout {}
    Then the events are:
      | CartCheckedOut | {"items": [{"product_id": "B"}, {"product_id": "A"}], "final_subtotal": 3500} |

  Scenario: 52 A new cart is active, empty and without a coupon
    Given CartCreated {"customer_id": "alice@example.com"}
    Then the state is {"exists": true, "customer_id": "alice@example.com", "lines": [], "subtotal_cents": 0, "coupon": null, "discount_cents": 0, "status": "active"}

  Scenario: 53 A cart remembers its lines and subtotal
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    And ItemAdded {"product_id": "B", "name": "Gadget", "quantity": 1, "line_quantity": 1, "unit_price_cents": 2500, "new_subtotal": 4500}
    Then the state is {"lines": [{"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}, {"product_id": "B", "name": "Gadget", "quantity": 1, "unit_price_cents": 2500}], "subtotal_cents": 4500}

  Scenario: 54 A cart remembers its coupon and discount
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    And CouponApplied {"code": "SAVE10", "coupon_type": "percentage", "value": 10, "discount_cents": 200}
    Then the state is {"coupon": {"code": "SAVE10", "coupon_type": "percentage", "value": 10}, "discount_cents": 200, "subtotal_cents": 2000}

  Scenario: 55 A checked-out cart stays checked out
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    And CartCheckedOut {"customer_id": "alice@example.com", "items": [{"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}], "final_subtotal": 2000, "discount_cents": 0}
    Then the state is {"status": "checked_out"}

  Scenario: 56 A cleared cart is empty, without a coupon and still active
    Given CartCreated {"customer_id": "alice@example.com"}
    And ItemAdded {"product_id": "A", "name": "Widget", "quantity": 2, "line_quantity": 2, "unit_price_cents": 1000, "new_subtotal": 2000}
    And ItemAdded {"product_id": "B", "name": "Gadget", "quantity": 1, "line_quantity": 1, "unit_price_cents": 2500, "new_subtotal": 4500}
    And CouponApplied {"code": "SAVE10", "coupon_type": "percentage", "value": 10, "discount_cents": 450}
    And CartCleared {"items": [{"product_id": "A", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}, {"product_id": "B", "name": "Gadget", "quantity": 1, "unit_price_cents": 2500}], "new_subtotal": 0}
    Then the state is {"lines": [], "subtotal_cents": 0, "coupon": null, "discount_cents": 0, "status": "active"}
