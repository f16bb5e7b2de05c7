//! brig-engine: the daemonless engine behind `brig`.
//!
//! - [`db`]: container, volume, secret and event records in SQLite;
//! - [`options`] -> [`config`]: `run`/`create` flags validated into a
//!   container's configuration; [`spec`]: its OCI config, with secure
//!   defaults ([`caps`], [`seccomp`]);
//! - [`lock`], [`proc`]: per-container locks and process identities.

pub mod attach;
pub mod caps;
pub mod cleanup;
pub mod config;
pub mod ctx;
pub mod db;
pub mod engine;
pub mod error;
pub mod health;
pub mod host;
pub mod hostfiles;
pub mod image_config;
pub mod lock;
pub mod logs;
pub mod monitor;
pub mod network;
pub mod ops;
pub mod options;
pub mod paths;
pub mod proc;
pub mod record;
pub mod rootfs;
pub mod runtime;
pub mod seccomp;
pub mod settings;
pub mod spec;
pub mod tarfs;
pub mod time;
pub mod timing;
pub mod users;

#[cfg(test)]
mod testutil;

pub use engine::{Engine, EngineOptions};
pub use error::{Error, ErrorKind, Result};
pub use monitor::{MonitorLauncher, run_from_env as run_monitor};
pub use ops::admin::{EventOptions, UpdateOptions};
pub use ops::audit::AuditLine;
pub use ops::create::Created;
pub use ops::exec::ExecOptions;
pub use ops::files::Change;
pub use ops::lifecycle::WaitCondition;
pub use ops::logs::LogOptions;
pub use ops::query::{ListOptions, StatsSample, TopRow};
pub use options::CreateOptions;
