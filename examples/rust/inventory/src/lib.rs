//! The inventory component of the example shop (being written).
