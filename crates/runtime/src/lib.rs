//! brig's OCI runtime library: a bundle (config.json + rootfs) becomes an
//! isolated process. Validate, then plan, then act.
//!
//! Entry points: [`process::create::create`], [`run::run`],
//! [`process::exec::exec`] and the operations in [`container`].

pub mod bundle;
pub mod caps;
pub mod cgroup;
pub mod container;
pub mod creds;
pub mod error;
pub mod events;
pub mod hooks;
pub mod idmap;
pub mod json_path;
pub mod lsm;
pub mod namespaces;
pub mod pause;
pub mod proc;
pub mod process;
pub mod report;
pub mod rootfs;
pub mod rootless;
pub mod run;
pub mod sched;
pub mod seccomp;
pub mod signal;
pub mod spec;
pub mod state;
pub mod tty;
pub mod update;

pub use error::{Error, ErrorKind, Result};
pub use oci_spec;
pub use state::Store;
