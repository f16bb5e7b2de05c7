//! brig's OCI runtime library: a bundle (config.json + rootfs) becomes an
//! isolated process. Validate, then plan, then act.

pub mod rootfs;
