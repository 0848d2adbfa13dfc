//! The saga-order-fulfillment component of the example shop (being written).
