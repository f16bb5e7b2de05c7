//! brig-image (being written)
