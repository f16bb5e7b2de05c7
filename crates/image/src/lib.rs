//! brig-image: the image side of brig.
//!
//! - [`content`]: content-addressed blobs (`blobs/<alg>/<hex>`), verified
//!   against digest and size before they become visible;
//! - [`reference`]: Docker-style image references;
//! - [`db`]: image records in SQLite, safe under concurrent processes;
//! - [`store`]: the store that ties them together (resolve, tag, remove,
//!   prune, garbage collection);
//! - [`manifest`]: OCI and Docker manifests, indexes, platforms, layer
//!   media types;
//! - [`archive`]: OCI layout directories, OCI archives and docker-archive,
//!   load and save; [`import`]: one-layer images from rootfs tarballs;
//! - [`fetch`]: copying an image graph from any [`fetch::BlobSource`];
//! - [`registry`]: pull, push and login against OCI distribution registries.
//!
//! Nothing here needs root.

pub mod archive;
pub mod change;
pub mod content;
pub mod db;
pub mod digest;
pub mod error;
pub mod fetch;
pub mod import;
pub mod manifest;
pub mod progress;
pub mod progress_ui;
pub mod reference;
pub mod registry;
pub mod store;

pub use archive::{LoadOptions, LoadedImage, SaveFormat, SaveItem};
pub use change::ConfigChange;
pub use content::{BlobWriter, ContentStore, Ingester, Provider};
pub use db::{ImageDb, ImageRecord, LayerRecord};
pub use digest::{Digest, DigestAlgorithm, parse_digest};
pub use error::{Error, ErrorKind, Result};
pub use import::ImportOptions;
pub use manifest::{Compression, Manifest, PlatformSpec};
pub use progress::{NoProgress, Progress};
pub use reference::Reference;
pub use registry::{AuthFile, Credentials, PushReport, RegistryOptions};
pub use store::{GcReport, ImageStore, RemoveReport, canonical_name};
