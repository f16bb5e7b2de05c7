//! Thin, safe wrappers over the few syscalls that `rustix` does not offer.
//!
//! This is the only crate of the workspace where `unsafe` is allowed; every
//! block states why it is sound. Nothing here knows about containers.
#![allow(unsafe_code)]

pub mod bpf;
pub mod caps;
pub mod exec;
pub mod fd;
pub mod keyring;
pub mod memory;
pub mod mount;
pub mod process;
pub mod sched;
pub mod seccomp;
pub mod signal;

pub use exec::execve;
pub use process::{CloneArgs, ForkResult, clone3, fork};
