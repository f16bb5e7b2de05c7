//! brig-engine: the daemonless engine behind `brig`.
//!
//! - [`db`]: container, volume, secret and event records in SQLite;
//! - [`options`] -> [`config`]: `run`/`create` flags validated into a
//!   container's configuration; [`spec`]: its OCI config, with secure
//!   defaults ([`caps`], [`seccomp`]);
//! - [`lock`], [`proc`]: per-container locks and process identities.

pub mod caps;
pub mod config;
pub mod db;
pub mod error;
pub mod health;
pub mod image_config;
pub mod lock;
pub mod options;
pub mod paths;
pub mod proc;
pub mod record;
pub mod seccomp;
pub mod spec;
pub mod time;
pub mod users;

#[cfg(test)]
mod testutil;

pub use error::{Error, ErrorKind, Result};
