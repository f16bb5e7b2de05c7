//! The crate's error type. Every variant names what to fix: a path, a digest,
//! a reference or a field.

use std::path::PathBuf;

/// Broad classes of failure, so a CLI can map errors to exit codes and
/// messages without matching every variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The named image, blob or reference does not exist.
    NotFound,
    /// The input (reference, digest, archive, manifest, change) is malformed
    /// or does not match what it claims to be.
    Invalid,
    /// The format or algorithm is valid but not supported by brig.
    Unsupported,
    /// The operation conflicts with existing state (e.g. an image in use).
    Conflict,
    /// An operating-system or database failure.
    Io,
    /// A registry refused or failed the request.
    Remote,
}

/// Errors of the image store, its formats and its registry client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("content of blob {expected} does not match its digest: the bytes hash to {actual}")]
    DigestMismatch { expected: String, actual: String },
    #[error("blob {digest} has {actual} bytes but its descriptor says {expected}")]
    SizeMismatch {
        digest: String,
        expected: u64,
        actual: u64,
    },
    #[error("invalid digest {value:?}: {reason}")]
    InvalidDigest { value: String, reason: String },
    #[error("digest algorithm {algorithm:?} is not supported (use sha256, sha384 or sha512)")]
    UnsupportedDigestAlgorithm { algorithm: String },
    #[error("blob {digest} is not in the content store")]
    BlobNotFound { digest: String },
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference {
        reference: String,
        reason: &'static str,
    },
    #[error("no such image: {reference}")]
    ImageNotFound { reference: String },
    #[error("image reference {reference:?} is ambiguous: it matches {count} images")]
    AmbiguousImage { reference: String, count: usize },
    #[error("image database {path}: {source}")]
    Database {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("image database {path} has schema version {found}, newer than this brig ({supported})")]
    DatabaseTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("invalid JSON in {what}: {source}")]
    InvalidJson {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{what} has media type {media_type:?}, which brig does not support")]
    UnsupportedMediaType { what: String, media_type: String },
    #[error(
        "Docker image manifest schema 1 ({digest}) is not supported; re-push the image with a current client"
    )]
    SchemaOne { digest: String },
    #[error("{what} is too large ({size} bytes, limit {limit})")]
    TooLarge { what: String, size: u64, limit: u64 },
    #[error("no image for platform {wanted} in index {index}; it offers: {available}")]
    NoMatchingPlatform {
        wanted: String,
        index: String,
        available: String,
    },
    #[error("invalid platform {value:?}: expected os/arch[/variant], e.g. linux/amd64")]
    InvalidPlatform { value: String },
    #[error("{path}: {problem}")]
    InvalidArchive { path: PathBuf, problem: String },
    #[error(
        "layer {digest} is non-distributable and not present; it may be downloaded from: {urls}"
    )]
    ForeignLayerMissing { digest: String, urls: String },
    #[error("invalid change {change:?}: {reason}")]
    InvalidChange { change: String, reason: String },
    #[error(
        "layer {index} of image {image} ({digest}): uncompressed content hashes to {actual}, config says {expected}"
    )]
    DiffIdMismatch {
        image: String,
        index: usize,
        digest: String,
        expected: String,
        actual: String,
    },
    #[error(
        "image {image}: manifest lists {layers} layers but its config lists {diff_ids} diff_ids"
    )]
    LayerCountMismatch {
        image: String,
        layers: usize,
        diff_ids: usize,
    },
    #[error("registry {registry}: {what} failed with HTTP {status}: {message}")]
    Registry {
        registry: String,
        what: String,
        status: u16,
        message: String,
    },
    #[error(
        "registry {registry}: authentication required for {what}; log in with `brig login {registry}`{detail}"
    )]
    Unauthorized {
        registry: String,
        what: String,
        detail: String,
    },
    #[error("registry {registry} cannot be reached: {reason}")]
    RegistryUnreachable { registry: String, reason: String },
    #[error("auth file {path}: {problem}")]
    AuthFile { path: PathBuf, problem: String },
    #[error(
        "credential helper docker-credential-{helper} (named in {config}) for {registry}: {problem}"
    )]
    CredentialHelper {
        helper: String,
        config: PathBuf,
        registry: String,
        problem: String,
    },
    #[error("TLS certificate file {path}: {problem}")]
    Certificate { path: PathBuf, problem: String },
    #[error(
        "image {image} has several names ({names}); remove them one by one, or force the removal"
    )]
    ImageHasNames { image: String, names: String },
    #[error("image {image} is used by {users}; remove them first or force the removal")]
    ImageInUse { image: String, users: String },
}

impl Error {
    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::BlobNotFound { .. }
            | Error::ImageNotFound { .. }
            | Error::Registry { status: 404, .. } => ErrorKind::NotFound,
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                ErrorKind::NotFound
            }
            Error::Io { .. } | Error::Database { .. } | Error::DatabaseTooNew { .. } => {
                ErrorKind::Io
            }
            Error::UnsupportedDigestAlgorithm { .. }
            | Error::UnsupportedMediaType { .. }
            | Error::SchemaOne { .. } => ErrorKind::Unsupported,
            Error::ImageInUse { .. }
            | Error::ImageHasNames { .. }
            | Error::AmbiguousImage { .. } => ErrorKind::Conflict,
            Error::ForeignLayerMissing { .. }
            | Error::Registry { .. }
            | Error::Unauthorized { .. }
            | Error::RegistryUnreachable { .. } => ErrorKind::Remote,
            _ => ErrorKind::Invalid,
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn json(what: impl Into<String>, source: serde_json::Error) -> Self {
        Error::InvalidJson {
            what: what.into(),
            source,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds a path and an action to `std::io::Result`s.
pub(crate) trait IoContext<T> {
    fn ctx(self, action: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, action: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(action, path, e))
    }
}

impl<T> IoContext<T> for rustix::io::Result<T> {
    fn ctx(self, action: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(action, path, e.into()))
    }
}
