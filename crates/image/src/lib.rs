//! brig-image: the image side of brig.
//!
//! - [`content`]: content-addressed blobs (`blobs/<alg>/<hex>`), verified
//!   against digest and size before they become visible;
//! - [`reference`]: Docker-style image references;
//! - [`db`]: image records in SQLite, safe under concurrent processes;
//! - [`store`]: the store that ties them together (resolve, tag, remove,
//!   prune, garbage collection);
//! - [`manifest`]: OCI and Docker manifests, indexes, platforms, layer
//!   media types.
//!
//! Nothing here needs root.

pub mod content;
pub mod db;
pub mod digest;
pub mod error;
pub mod manifest;
pub mod reference;
pub mod store;

pub use content::{BlobWriter, ContentStore, Ingester, Provider};
pub use db::{ImageDb, ImageRecord, LayerRecord};
pub use digest::{Digest, DigestAlgorithm, parse_digest};
pub use error::{Error, ErrorKind, Result};
pub use manifest::{Compression, Manifest, PlatformSpec};
pub use reference::Reference;
pub use store::{GcReport, ImageStore, RemoveReport, canonical_name};
