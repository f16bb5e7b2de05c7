//! Errors of the netlink and namespace layer.

use std::path::PathBuf;

/// A failed network setup or teardown step; says which step and which object.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("netlink: {op} {target}: {source}")]
    Netlink {
        op: &'static str,
        target: String,
        #[source]
        source: rtnetlink::Error,
    },
    #[error("cannot open a netlink socket: {0}")]
    Socket(#[source] std::io::Error),
    #[error("network namespace {path}: cannot {op}: {source}")]
    Netns {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: rustix::io::Errno,
    },
    #[error("cannot look up interface {name:?}: {source}")]
    LinkLookup {
        name: String,
        #[source]
        source: rustix::io::Errno,
    },
    #[error("interface {name:?} not found")]
    LinkNotFound { name: String },
    #[error("interface name {name:?} is invalid: {reason}")]
    InvalidLinkName { name: String, reason: &'static str },
    #[error("cannot write {path}: {source}")]
    Sysctl {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the thread doing network setup inside {path} panicked")]
    ThreadPanicked { path: PathBuf },
}

impl NetError {
    /// Whether the kernel refused because the object exists already.
    pub fn is_already_exists(&self) -> bool {
        self.errno() == Some(17)
    }

    /// Whether the kernel found no such interface (ENODEV).
    pub fn is_no_such_device(&self) -> bool {
        self.errno() == Some(19)
    }

    fn errno(&self) -> Option<i32> {
        match self {
            NetError::Netlink { source, .. } => crate::netlink::errno_of(source),
            _ => None,
        }
    }
}
