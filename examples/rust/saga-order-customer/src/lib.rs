//! The saga-order-customer component of the example shop (being written).
