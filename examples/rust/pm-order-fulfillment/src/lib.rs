//! The pm-order-fulfillment component of the example shop (being written).
