//! brig-testkit (being written)
