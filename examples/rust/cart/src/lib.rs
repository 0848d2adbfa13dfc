//! The cart component of the example shop (being written).
