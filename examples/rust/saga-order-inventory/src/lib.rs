//! The saga-order-inventory component of the example shop (being written).
