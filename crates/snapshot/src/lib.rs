//! brig-snapshot: layers on disk and container root filesystems.
//!
//! - [`apply`]: apply one layer tar stream into a directory in overlay form
//!   (whiteout devices, opaque xattrs), never touching anything outside it;
//! - [`LayerStore`]: layers unpacked once per chain ID (`<root>/layers/<hex>`)
//!   and shared, verified against their diff IDs, complete or absent;
//! - [`Snapshotter`]: a container's writable root filesystem as mount
//!   descriptions ([`MountSpec`]); [`OverlaySnapshotter`] shares the layers,
//!   [`CopySnapshotter`] copies them where overlay is unavailable;
//! - [`pull_and_unpack`], [`load_and_unpack`], [`import_and_unpack`]: images
//!   made ready to run, or not kept.
//!
//! Unpacking needs no root (owners, device nodes and trusted xattrs are then
//! skipped or replaced, see [`ApplyOptions`]); mounting does.

pub mod apply;
pub mod bench;
pub mod copy;
pub mod error;
pub mod layers;
pub mod mount;
pub mod overlay;
mod parallel;
mod prefetch;
pub mod pull;
pub mod ready;
pub mod snapshotter;
mod unpack;
pub mod usage;

pub use apply::{ApplyOptions, ApplyStats, WhiteoutFormat, apply_layer};
pub use copy::CopySnapshotter;
pub use error::{Error, Result};
pub use layers::{LayerGcReport, LayerStore, Unpacked};
pub use mount::{MountGuard, MountSpec, unmount};
pub use overlay::OverlaySnapshotter;
pub use pull::{Pulled, pull_and_unpack};
pub use ready::{LoadSource, import_and_unpack, load_and_unpack};
pub use snapshotter::{
    SnapshotInfo, Snapshotter, collect_unused_layers, layers_in_use, validate_id,
};
pub use unpack::unpack_blob;
