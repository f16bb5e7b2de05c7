//! The runtime's error type. Every variant says what to fix: which file,
//! field, path, container or flag.

use std::io;
use std::path::PathBuf;

use crate::process::protocol::WireError;
use crate::rootfs::RootfsError;

/// Coarse classes of failure, for callers that map errors to exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    AlreadyExists,
    InvalidArgument,
    FailedPrecondition,
    System,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{file}: {field}: {reason}")]
    Config {
        file: PathBuf,
        /// Dotted path of the offending field, e.g. `linux.namespaces[2].type`.
        field: String,
        reason: String,
    },
    #[error("container id {id:?} is invalid: {reason}")]
    InvalidId { id: String, reason: &'static str },
    #[error("container {0:?} does not exist")]
    NotFound(String),
    #[error("container {0:?} already exists")]
    AlreadyExists(String),
    #[error("container {id:?} is {status}: cannot {action}")]
    WrongState {
        id: String,
        status: &'static str,
        action: &'static str,
    },
    #[error("{flag}: {reason}")]
    InvalidFlag { flag: &'static str, reason: String },
    #[error("unknown signal {0:?} (use a name like TERM or SIGKILL, or a number 1-64)")]
    UnknownSignal(String),
    #[error(transparent)]
    Rootfs(#[from] RootfsError),
    #[error("cgroup: {0}")]
    Cgroup(brig_cgroups::CgroupError),
    #[error("container init failed: {0}")]
    Init(WireError),
    #[error(
        "the kernel's OOM killer killed the container's init while {stage} ({limit}); raise the memory limit"
    )]
    OomKilled { stage: &'static str, limit: String },
    #[error("{kind} hook {path}: {reason}")]
    Hook {
        kind: &'static str,
        path: PathBuf,
        reason: String,
    },
    // The cause is part of the message, not a `source`, so it is printed once.
    #[error("{what} {path}: {cause}")]
    Io {
        what: &'static str,
        path: PathBuf,
        cause: io::Error,
    },
    #[error("{op}: {cause}")]
    Sys { op: &'static str, cause: io::Error },
    #[error("{0} is not supported yet")]
    Unsupported(&'static str),
    /// Running as a non-root user: a map helper failed, or a limit needs a cgroup.
    #[error("rootless: {0}")]
    Rootless(String),
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::AlreadyExists(_) => ErrorKind::AlreadyExists,
            Error::Config { .. }
            | Error::InvalidId { .. }
            | Error::InvalidFlag { .. }
            | Error::UnknownSignal(_)
            | Error::Unsupported(_) => ErrorKind::InvalidArgument,
            Error::WrongState { .. } => ErrorKind::FailedPrecondition,
            _ => ErrorKind::System,
        }
    }

    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, cause: io::Error) -> Self {
        Error::Io {
            what,
            path: path.into(),
            cause,
        }
    }

    pub(crate) fn sys(op: &'static str, cause: impl Into<io::Error>) -> Self {
        Error::Sys {
            op,
            cause: cause.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
