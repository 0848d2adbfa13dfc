//! The product component of the example shop (being written).
