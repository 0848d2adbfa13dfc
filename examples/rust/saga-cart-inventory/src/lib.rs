//! The saga-cart-inventory component of the example shop (being written).
