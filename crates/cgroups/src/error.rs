//! The one error type of brig-cgroups. Every variant names what to fix: the
//! spec field, the cgroup file or the path.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Broad class of a [`CgroupError`], for mapping to exit codes and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request (spec value, path) is wrong; nothing was changed for it.
    Invalid,
    /// This kernel / layout / driver cannot do what was asked.
    NotSupported,
    /// A cgroup or cgroup file does not exist.
    NotFound,
    /// The kernel refused for lack of privilege.
    Permission,
    /// The cgroup is still in use (processes did not exit, freezing stalled).
    Busy,
    /// Any other I/O failure.
    Io,
}

/// Everything that can go wrong while managing a container's cgroup.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A `linux.resources` value is malformed or out of range.
    #[error("invalid {field}: {reason}")]
    InvalidResource { field: String, reason: String },

    /// `linux.cgroupsPath` (or the container id it is derived from) is unusable.
    #[error("invalid linux.cgroupsPath {path:?}: {reason}")]
    InvalidPath { path: String, reason: String },

    /// The request is valid but this layout, kernel or driver cannot honour it.
    #[error("{what} is not supported: {reason}")]
    NotSupported { what: String, reason: String },

    /// No cgroup filesystem was found where one was expected.
    #[error("no cgroup filesystem under {root}: {reason}")]
    NoCgroupFs { root: PathBuf, reason: String },

    /// A read, mkdir, rmdir or open of a cgroup path failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    /// Writing a cgroup file failed; `field` is the spec field the value came from.
    #[error("cannot write {value:?} to {path} (from {field}): {source}{hint}")]
    Write {
        path: PathBuf,
        value: String,
        field: String,
        source: io::Error,
        hint: &'static str,
    },

    /// A cgroup file held something this crate cannot parse.
    #[error("unexpected content in {path}: {reason}")]
    Parse { path: PathBuf, reason: String },

    /// Processes stayed in the cgroup although they were killed.
    #[error("cgroup {path} still holds processes {pids:?} {waited:?} after they were sent SIGKILL")]
    Busy {
        path: PathBuf,
        pids: Vec<i32>,
        waited: Duration,
    },

    /// The freezer did not reach the requested state in time.
    #[error("cgroup {path} did not become {state} within {waited:?} (left thawed)")]
    FreezeTimeout {
        path: PathBuf,
        state: &'static str,
        waited: Duration,
    },

    /// The kernel refused the generated device program.
    #[error("the kernel refused the device eBPF program for {path}: {source}; verifier log: {log}")]
    BpfLoad {
        path: PathBuf,
        source: io::Error,
        log: String,
    },

    /// Attaching, listing or detaching the device program failed.
    #[error("cannot {action} the device eBPF program of {path}: {source}")]
    Bpf {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

impl CgroupError {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidResource { .. } | Self::InvalidPath { .. } => ErrorKind::Invalid,
            Self::NotSupported { .. } | Self::NoCgroupFs { .. } => ErrorKind::NotSupported,
            Self::Busy { .. } | Self::FreezeTimeout { .. } => ErrorKind::Busy,
            Self::Parse { .. } => ErrorKind::Io,
            Self::Io { source, .. }
            | Self::Write { source, .. }
            | Self::BpfLoad { source, .. }
            | Self::Bpf { source, .. } => kind_of(source),
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidResource {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn not_supported(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::NotSupported {
            what: what.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// True when the error means "that cgroup or file is not there".
    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }
}

fn kind_of(err: &io::Error) -> ErrorKind {
    match err.kind() {
        io::ErrorKind::NotFound => ErrorKind::NotFound,
        io::ErrorKind::PermissionDenied => ErrorKind::Permission,
        _ if err.raw_os_error() == Some(rustix::io::Errno::BUSY.raw_os_error()) => ErrorKind::Busy,
        _ => ErrorKind::Io,
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = CgroupError> = std::result::Result<T, E>;
