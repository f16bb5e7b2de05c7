//! Root-only tests.
