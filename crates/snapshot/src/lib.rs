//! brig-snapshot (being written)
