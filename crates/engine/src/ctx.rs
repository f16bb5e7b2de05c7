//! What every engine operation and the monitor share: the directories, the
//! database, and the per-container helpers built from them.

use std::collections::BTreeMap;
use std::path::Path;

use brig_snapshot::{ApplyOptions, LayerStore, OverlaySnapshotter};

use crate::db::Db;
use crate::error::Result;
use crate::lock::ContainerLock;
use crate::paths::Paths;
use crate::record::ContainerRecord;
use crate::runtime::OciRuntime;

/// The engine's state on disk.
#[derive(Debug)]
pub struct Ctx {
    pub paths: Paths,
    pub db: Db,
}

impl Ctx {
    /// Opens (creating if needed) the directories and the database.
    pub fn open(root: &Path, runroot: &Path) -> Result<Ctx> {
        let paths = Paths::new(root, runroot);
        paths.create()?;
        let db = Db::open(&paths.db())?;
        Ok(Ctx { paths, db })
    }

    /// Unpacked layers (`<root>/layers`).
    pub fn layers(&self) -> Result<LayerStore> {
        Ok(LayerStore::open(
            self.paths.root(),
            ApplyOptions::default(),
        )?)
    }

    /// Container root filesystems (`<root>/snapshots`).
    pub fn snapshotter(&self) -> Result<OverlaySnapshotter> {
        Ok(OverlaySnapshotter::open(self.paths.root(), self.layers()?)?)
    }

    /// The runtime that created this container.
    pub fn runtime(&self, rec: &ContainerRecord) -> OciRuntime {
        OciRuntime::new(&rec.config.runtime, &self.paths.runtime_root())
    }

    pub fn lock(&self, id: &str) -> Result<ContainerLock> {
        ContainerLock::acquire(&self.paths.locks_dir(), id)
    }

    pub fn try_lock(&self, id: &str) -> Result<Option<ContainerLock>> {
        ContainerLock::try_acquire(&self.paths.locks_dir(), id)
    }

    /// Records a container event (best effort: events never fail an operation).
    pub fn event(&self, rec: &ContainerRecord, action: &str, extra: &[(&str, String)]) {
        let mut attrs: BTreeMap<String, String> = BTreeMap::new();
        attrs.insert("name".into(), rec.name.clone());
        attrs.insert("image".into(), rec.image.clone());
        for (k, v) in extra {
            attrs.insert((*k).to_owned(), v.clone());
        }
        let _ = self.db.add_event("container", &rec.id, action, &attrs);
    }

    /// Records a volume or secret event.
    pub fn object_event(&self, kind: &str, id: &str, action: &str) {
        let _ = self.db.add_event(kind, id, action, &BTreeMap::new());
    }
}
