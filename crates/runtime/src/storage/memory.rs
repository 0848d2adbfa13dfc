//! In-memory event store (placeholder until implemented).
