//! The pm-order-status component of the example shop (being written).
