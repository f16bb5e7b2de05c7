//! What every command needs: where the stores are, and who uses images.
//!
//! Stores are opened on demand, so commands that need none (`completion`,
//! `login`) create nothing under `--root`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use brig_image::{Digest, ImageRecord, ImageStore};
use brig_snapshot::{ApplyOptions, LayerGcReport, LayerStore, OverlaySnapshotter, Snapshotter};

use crate::cli::GlobalOpts;

/// Who uses images. The engine (issue 7) answers with its containers; until
/// it exists, nothing does.
pub trait ImageUsers {
    /// Names of the containers that use `image` (`rmi` refuses to remove
    /// it unless forced).
    fn users_of(&self, image: &ImageRecord) -> Result<Vec<String>>;
    /// IDs of every image some container uses (`image prune` keeps them).
    fn images_in_use(&self) -> Result<HashSet<Digest>>;
}

/// No containers exist yet.
#[derive(Debug, Default)]
pub struct NoContainers;

impl ImageUsers for NoContainers {
    fn users_of(&self, _image: &ImageRecord) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    fn images_in_use(&self) -> Result<HashSet<Digest>> {
        Ok(HashSet::new())
    }
}

/// The command's environment.
pub struct Context {
    root: PathBuf,
    runroot: PathBuf,
    users: Box<dyn ImageUsers>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("root", &self.root)
            .field("runroot", &self.runroot)
            .finish_non_exhaustive()
    }
}

impl Context {
    pub fn new(global: &GlobalOpts) -> Self {
        Context {
            root: global.root.clone(),
            runroot: global.runroot.clone(),
            users: Box::new(NoContainers),
        }
    }

    /// A context whose images are used by `users` (tests, and the engine).
    #[cfg(test)]
    pub fn with_users(root: &Path, users: Box<dyn ImageUsers>) -> Self {
        Context {
            root: root.to_owned(),
            runroot: root.join("run"),
            users,
        }
    }

    /// Volatile state (locks, runtime state); the engine's commands use it.
    #[allow(dead_code)] // Used by the container commands (issue 7).
    pub fn runroot(&self) -> &Path {
        &self.runroot
    }

    pub fn users(&self) -> &dyn ImageUsers {
        self.users.as_ref()
    }

    /// The image store: blobs under `<root>`, records in `<root>/brig.db`.
    pub fn images(&self) -> Result<ImageStore> {
        ImageStore::open(&self.root, &self.root.join("brig.db"))
            .with_context(|| format!("open the image store in {}", self.root.display()))
    }

    /// Unpacked layers under `<root>/layers`.
    pub fn layers(&self) -> Result<LayerStore> {
        LayerStore::open(&self.root, ApplyOptions::default())
            .with_context(|| format!("open the layer store in {}", self.root.display()))
    }

    /// Container root filesystems under `<root>/snapshots`.
    pub fn snapshotter(&self, layers: &LayerStore) -> Result<OverlaySnapshotter> {
        OverlaySnapshotter::open(&self.root, layers.clone())
            .with_context(|| format!("open the snapshots in {}", self.root.display()))
    }

    /// Removes unpacked layers no image and no snapshot uses.
    pub fn collect_layers(&self, images: &ImageStore) -> Result<LayerGcReport> {
        let layers = self.layers()?;
        let snapshots = self.snapshotter(&layers)?;
        let snapshotters: [&dyn Snapshotter; 1] = [&snapshots];
        Ok(brig_snapshot::collect_unused_layers(
            &layers,
            images,
            &snapshotters,
        )?)
    }
}
