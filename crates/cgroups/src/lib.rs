//! brig-cgroups (being written)
