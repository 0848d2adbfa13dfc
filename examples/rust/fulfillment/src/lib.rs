//! The fulfillment component of the example shop (being written).
