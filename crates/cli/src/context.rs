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

/// Where brig keeps its state unless `--root` or the config file say otherwise.
const DEFAULT_ROOT: &str = "/var/lib/brig";
/// Volatile state unless `--runroot` or the config file say otherwise.
const DEFAULT_RUNROOT: &str = "/run/brig";

/// Who uses images: the engine answers with its containers.
pub trait ImageUsers {
    /// Names of the containers that use `image` (`rmi` refuses to remove
    /// it unless forced).
    fn users_of(&self, image: &ImageRecord) -> Result<Vec<String>>;
    /// IDs of every image some container uses (`image prune` keeps them).
    fn images_in_use(&self) -> Result<HashSet<Digest>>;
}

/// The engine's containers: an image they use is in use.
#[derive(Debug)]
struct EngineUsers {
    root: PathBuf,
    runroot: PathBuf,
}

impl EngineUsers {
    fn containers(&self) -> Result<Vec<brig_engine::record::ContainerRecord>> {
        if !self.root.join("brig.db").exists() {
            return Ok(Vec::new());
        }
        let ctx = brig_engine::ctx::Ctx::open(&self.root, &self.runroot)?;
        Ok(ctx.db.containers()?)
    }
}

impl ImageUsers for EngineUsers {
    fn users_of(&self, image: &ImageRecord) -> Result<Vec<String>> {
        Ok(self
            .containers()?
            .into_iter()
            .filter(|c| c.image_id == image.id.as_ref())
            .map(|c| c.name)
            .collect())
    }

    fn images_in_use(&self) -> Result<HashSet<Digest>> {
        Ok(self
            .containers()?
            .iter()
            .filter_map(|c| brig_image::parse_digest(&c.image_id).ok())
            .collect())
    }
}

/// The command's environment.
pub struct Context {
    root: PathBuf,
    runroot: PathBuf,
    runtime: Option<String>,
    users: Box<dyn ImageUsers>,
    defaults: brig_engine::settings::ContainerDefaults,
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
    /// The global flags over the configuration file over the defaults.
    pub fn new(global: &GlobalOpts) -> Result<Self> {
        let settings = brig_engine::settings::Settings::load(global.config.as_deref())?;
        let engine = settings.engine;
        let root = global
            .root
            .clone()
            .or(engine.root)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT));
        let runroot = global
            .runroot
            .clone()
            .or(engine.runroot)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_RUNROOT));
        Ok(Context {
            users: Box::new(EngineUsers {
                root: root.clone(),
                runroot: runroot.clone(),
            }),
            root,
            runroot,
            runtime: global.runtime.clone().or(engine.runtime),
            defaults: settings.containers,
        })
    }

    /// Fills in the configuration file's defaults for a new container.
    pub fn apply_defaults(&self, opts: &mut brig_engine::CreateOptions) {
        self.defaults.apply(opts);
    }

    /// A context whose images are used by `users` (tests, and the engine).
    #[cfg(test)]
    pub fn with_users(root: &Path, users: Box<dyn ImageUsers>) -> Self {
        Context {
            root: root.to_owned(),
            runroot: root.join("run"),
            runtime: None,
            users,
            defaults: Default::default(),
        }
    }

    /// Volatile state (locks, runtime state); the engine's commands use it.
    #[allow(dead_code)] // Used by the container commands (issue 7).
    pub fn runroot(&self) -> &Path {
        &self.runroot
    }

    /// The container engine; monitors are the small `brig-monitor`
    /// installed next to this program, else this program's hidden
    /// `__monitor` command (the same code, in a larger process).
    pub fn engine(&self) -> Result<brig_engine::Engine> {
        let program = std::env::current_exe().context("find the brig program")?;
        let small = program.with_file_name("brig-monitor");
        let monitor = if small.is_file() {
            brig_engine::MonitorLauncher {
                program: small,
                args: Vec::new(),
            }
        } else {
            brig_engine::MonitorLauncher {
                program,
                args: vec!["__monitor".into()],
            }
        };
        brig_engine::Engine::open(brig_engine::EngineOptions {
            root: self.root.clone(),
            runroot: self.runroot.clone(),
            runtime: self.runtime.clone(),
            monitor: Some(monitor),
        })
        .with_context(|| format!("open the container engine in {}", self.root.display()))
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
