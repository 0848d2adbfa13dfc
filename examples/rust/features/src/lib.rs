//! Step definitions for the shared Gherkin features (being written).
