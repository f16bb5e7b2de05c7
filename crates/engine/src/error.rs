//! The engine's errors. Each says what to fix (the flag, file, container or
//! volume at fault); [`Error::kind`] sorts them for the CLI's exit codes.

use std::io;
use std::path::PathBuf;

/// What kind of failure an error is (the CLI maps kinds to exit codes:
/// [`ErrorKind::CannotExecute`] 126, [`ErrorKind::CommandNotFound`] 127,
/// everything else 125).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No such container, image, volume or secret.
    NotFound,
    /// A name is taken, or an object is in use.
    Conflict,
    /// Bad user input (flag value, conflicting flags, missing host path).
    Invalid,
    /// The container is in the wrong state for the operation.
    State,
    /// The container's command exists but cannot be executed.
    CannotExecute,
    /// The container's command was not found.
    CommandNotFound,
    /// The OCI runtime failed.
    Runtime,
    /// The host failed us (I/O, database, mounts).
    System,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no such container: {0}")]
    NoSuchContainer(String),
    #[error("{reference:?} matches {count} containers; give more of the ID or the name")]
    AmbiguousContainer { reference: String, count: usize },
    #[error(
        "the container name {name:?} is already in use by container {id}; remove or rename that container, or choose another name"
    )]
    NameInUse { name: String, id: String },
    #[error("invalid container name {name:?}: names match [a-zA-Z0-9][a-zA-Z0-9_.-]*")]
    InvalidName { name: String },
    #[error("invalid value {value:?} for {flag}: {reason}")]
    InvalidOption {
        flag: String,
        value: String,
        reason: String,
    },
    #[error("conflicting options: {0}")]
    ConflictingOptions(String),
    #[error("container {id} is {state}: {hint}")]
    WrongState {
        id: String,
        state: String,
        hint: String,
    },
    #[error("no such volume: {0}")]
    NoSuchVolume(String),
    #[error(
        "volume {name} is in use by container(s) {containers}; remove them first, or use rm -f on them"
    )]
    VolumeInUse { name: String, containers: String },
    #[error("a volume named {0} already exists")]
    VolumeExists(String),
    #[error("invalid volume name {0:?}: names match [a-zA-Z0-9][a-zA-Z0-9_.-]+")]
    InvalidVolumeName(String),
    #[error("no such secret: {0}")]
    NoSuchSecret(String),
    #[error("a secret named {0} already exists; remove it first (secrets are immutable)")]
    SecretExists(String),
    #[error("{command}: executable file not found in $PATH or in the container's root filesystem")]
    CommandNotFound { command: String },
    #[error("{command}: cannot execute: {reason}")]
    CannotExecute { command: String, reason: String },
    #[error(
        "OCI runtime {runtime} not found: install it, put it next to brig or in PATH, or pass --runtime PATH"
    )]
    RuntimeNotFound { runtime: String },
    #[error("OCI runtime {runtime} {command} failed{status}: {message}")]
    Runtime {
        runtime: String,
        command: String,
        status: String,
        message: String,
    },
    #[error("the engine database {path} failed: {source}")]
    Database {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the engine database {path} has {component} schema version {found}, newer than this brig ({supported}); upgrade brig"
    )]
    DatabaseTooNew {
        path: PathBuf,
        component: &'static str,
        found: i64,
        supported: i64,
    },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{what}: {source}")]
    Json {
        what: String,
        source: serde_json::Error,
    },
    #[error("building the OCI config: {0}")]
    Spec(String),
    #[error("the container monitor of {id} failed: {message} (see {log})")]
    Monitor {
        id: String,
        message: String,
        log: PathBuf,
    },
    #[error("{what} timed out after {seconds}s")]
    Timeout { what: String, seconds: u64 },
    #[error(transparent)]
    Image(#[from] brig_image::Error),
    #[error(transparent)]
    Snapshot(#[from] brig_snapshot::Error),
    #[error(transparent)]
    Cgroup(#[from] brig_cgroups::CgroupError),
    #[error(transparent)]
    Network(Box<crate::network::NetworkError>),
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        use Error::*;
        match self {
            NoSuchContainer(_) | NoSuchVolume(_) | NoSuchSecret(_) => ErrorKind::NotFound,
            Image(e) if e.kind() == brig_image::ErrorKind::NotFound => ErrorKind::NotFound,
            NameInUse { .. } | VolumeInUse { .. } | VolumeExists(_) | SecretExists(_) => {
                ErrorKind::Conflict
            }
            AmbiguousContainer { .. }
            | InvalidName { .. }
            | InvalidOption { .. }
            | ConflictingOptions(_)
            | InvalidVolumeName(_) => ErrorKind::Invalid,
            WrongState { .. } => ErrorKind::State,
            CommandNotFound { .. } => ErrorKind::CommandNotFound,
            CannotExecute { .. } => ErrorKind::CannotExecute,
            RuntimeNotFound { .. } | Runtime { .. } => ErrorKind::Runtime,
            Network(e) => e.kind(),
            _ => ErrorKind::System,
        }
    }

    /// An invalid flag value.
    pub fn invalid(flag: &str, value: &str, reason: impl Into<String>) -> Self {
        Error::InvalidOption {
            flag: flag.to_owned(),
            value: value.to_owned(),
            reason: reason.into(),
        }
    }

    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub fn json(what: impl Into<String>, source: serde_json::Error) -> Self {
        Error::Json {
            what: what.into(),
            source,
        }
    }

    pub fn wrong_state(id: &str, state: impl ToString, hint: impl Into<String>) -> Self {
        Error::WrongState {
            id: id.to_owned(),
            state: state.to_string(),
            hint: hint.into(),
        }
    }
}

/// `.ctx("read", path)` on I/O results.
pub trait IoContext<T> {
    fn ctx(self, action: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T, E: Into<io::Error>> IoContext<T> for std::result::Result<T, E> {
    fn ctx(self, action: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(action, path, e.into()))
    }
}
