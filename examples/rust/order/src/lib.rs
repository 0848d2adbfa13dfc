//! The order component of the example shop (being written).
