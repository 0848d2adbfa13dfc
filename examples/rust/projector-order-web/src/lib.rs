//! The projector-order-web component of the example shop (being written).
