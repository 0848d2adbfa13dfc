//! The projector-order-accounting component of the example shop (being written).
