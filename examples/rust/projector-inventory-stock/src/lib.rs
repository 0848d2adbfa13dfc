//! The projector-inventory-stock component of the example shop (being written).
