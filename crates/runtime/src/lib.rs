//! Angzarr's runtime: coordinators, pipelines, and the storage and bus traits.

#![warn(missing_docs)]

pub mod storage;
