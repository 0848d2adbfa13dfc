//! The projector-customer-loyalty component of the example shop (being written).
