//! The crate's error type.

use std::path::PathBuf;

/// Errors of layer unpacking and snapshots.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("layer entry {entry:?}: {problem}")]
    BadEntry { entry: String, problem: String },
    #[error("layer entry {entry:?}: cannot {action}: {source}")]
    EntryIo {
        entry: String,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("layer is not a well-formed tar stream: {source}")]
    BadStream {
        #[source]
        source: std::io::Error,
    },
    #[error(
        "layer {blob}: uncompressed content hashes to {actual}, but the image config says {expected}"
    )]
    DiffIdMismatch {
        blob: String,
        expected: String,
        actual: String,
    },
    #[error(transparent)]
    Image(#[from] brig_image::Error),
    #[error(
        "invalid snapshot ID {id:?}: use 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit"
    )]
    InvalidId { id: String },
    #[error("snapshot {id} already exists")]
    SnapshotExists { id: String },
    #[error("no such snapshot: {id}")]
    SnapshotNotFound { id: String },
    #[error("layer {chain_id} is not unpacked; unpack the image before preparing a snapshot")]
    LayerMissing { chain_id: String },
    #[error("mount {fstype} on {target}: {source} ({hint})")]
    Mount {
        fstype: &'static str,
        target: PathBuf,
        hint: String,
        #[source]
        source: std::io::Error,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: impl Into<std::io::Error>,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source: source.into(),
        }
    }

    pub(crate) fn entry(entry: &str, problem: impl Into<String>) -> Self {
        Error::BadEntry {
            entry: entry.to_owned(),
            problem: problem.into(),
        }
    }

    pub(crate) fn entry_io(
        entry: &str,
        action: &'static str,
        source: impl Into<std::io::Error>,
    ) -> Self {
        Error::EntryIo {
            entry: entry.to_owned(),
            action,
            source: source.into(),
        }
    }
}
