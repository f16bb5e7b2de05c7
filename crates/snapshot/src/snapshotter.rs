//! The snapshotter interface and what overlay and copy snapshots share:
//! a directory per container under `<root>/snapshots/<id>/` holding the
//! container's own files and a `meta.json` naming its layers.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use brig_image::Digest;
use brig_image::digest::parse_digest;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::layers::LayerStore;
use crate::mount::MountSpec;

/// A container's writable root filesystem on top of shared layers.
pub trait Snapshotter {
    /// Creates the snapshot `id` on top of `layers` (chain IDs, base first,
    /// already unpacked) and returns how to mount it. The caller mounts.
    fn prepare(&self, id: &str, layers: &[Digest]) -> Result<Vec<MountSpec>>;

    /// The mounts of an existing snapshot (e.g. after a restart).
    fn mounts(&self, id: &str) -> Result<Vec<MountSpec>>;

    /// Removes the snapshot and its writable data (unmount it first).
    fn remove(&self, id: &str) -> Result<()>;

    /// Every snapshot with the layers it uses.
    fn list(&self) -> Result<Vec<SnapshotInfo>>;

    /// Bytes of disk the snapshot's own data uses (not the shared layers).
    fn usage(&self, id: &str) -> Result<u64>;
}

/// One snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub id: String,
    /// Chain IDs, base first.
    pub layers: Vec<Digest>,
}

/// Chain IDs every snapshot of `snapshotter` uses: add them to the image
/// store's when collecting layers.
pub fn layers_in_use(snapshotter: &dyn Snapshotter) -> Result<HashSet<Digest>> {
    Ok(snapshotter
        .list()?
        .into_iter()
        .flat_map(|s| s.layers)
        .collect())
}

#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    kind: String,
    layers: Vec<String>,
}

/// The per-snapshot directories, created and removed atomically.
#[derive(Debug, Clone)]
pub(crate) struct SnapshotDirs {
    pub dir: PathBuf,
    pub layers: LayerStore,
    kind: &'static str,
}

impl SnapshotDirs {
    pub fn open(root: &Path, layers: LayerStore, kind: &'static str) -> Result<Self> {
        let dir = root.join("snapshots");
        let tmp = dir.join(".tmp");
        fs::create_dir_all(&tmp).map_err(|e| Error::io("create directory", &tmp, e))?;
        Ok(SnapshotDirs { dir, layers, kind })
    }

    pub fn path(&self, id: &str) -> Result<PathBuf> {
        validate_id(id)?;
        Ok(self.dir.join(id))
    }

    /// Builds a snapshot in a temporary directory with `populate`, then
    /// renames it into place; an existing snapshot is an error.
    pub fn create(
        &self,
        id: &str,
        layers: &[Digest],
        populate: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<PathBuf> {
        let path = self.path(id)?;
        if path.exists() {
            return Err(Error::SnapshotExists { id: id.to_owned() });
        }
        for l in layers {
            if !self.layers.contains(l) {
                return Err(Error::LayerMissing {
                    chain_id: l.to_string(),
                });
            }
        }
        let tmp_parent = self.dir.join(".tmp");
        let temp = tempfile::Builder::new()
            .prefix(&format!("{id}-"))
            .tempdir_in(&tmp_parent)
            .map_err(|e| Error::io("create temporary directory in", &tmp_parent, e))?;
        populate(temp.path())?;
        let meta = Meta {
            kind: self.kind.to_owned(),
            layers: layers.iter().map(|l| l.to_string()).collect(),
        };
        let meta_path = temp.path().join("meta.json");
        let json =
            serde_json::to_vec_pretty(&meta).map_err(|e| Error::io("encode", &meta_path, e))?;
        fs::write(&meta_path, json).map_err(|e| Error::io("write", &meta_path, e))?;
        let temp = temp.keep();
        match rustix::fs::renameat_with(
            rustix::fs::CWD,
            &temp,
            rustix::fs::CWD,
            &path,
            rustix::fs::RenameFlags::NOREPLACE,
        ) {
            Ok(()) => Ok(path),
            Err(e) => {
                let _ = fs::remove_dir_all(&temp);
                if e == rustix::io::Errno::EXIST {
                    Err(Error::SnapshotExists { id: id.to_owned() })
                } else {
                    Err(Error::io("rename snapshot into", &path, e))
                }
            }
        }
    }

    /// The layers of snapshot `id`.
    pub fn layers_of(&self, id: &str) -> Result<Vec<Digest>> {
        let meta_path = self.path(id)?.join("meta.json");
        let bytes = fs::read(&meta_path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::SnapshotNotFound { id: id.to_owned() },
            _ => Error::io("read", &meta_path, e),
        })?;
        let meta: Meta =
            serde_json::from_slice(&bytes).map_err(|e| Error::io("parse", &meta_path, e))?;
        meta.layers
            .iter()
            .map(|l| parse_digest(l).map_err(Error::from))
            .collect()
    }

    pub fn remove(&self, id: &str) -> Result<()> {
        let path = self.path(id)?;
        if !path.exists() {
            return Err(Error::SnapshotNotFound { id: id.to_owned() });
        }
        // Move aside first so a half-removed snapshot is never seen.
        let doomed = self
            .dir
            .join(".tmp")
            .join(format!("{id}-removed-{}", fastrand::u64(..)));
        fs::rename(&path, &doomed).map_err(|e| Error::io("move aside", &path, e))?;
        fs::remove_dir_all(&doomed).map_err(|e| Error::io("remove", &doomed, e))
    }

    pub fn list(&self) -> Result<Vec<SnapshotInfo>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(|e| Error::io("list", &self.dir, e))? {
            let entry = entry.map_err(|e| Error::io("list", &self.dir, e))?;
            let id = entry.file_name().to_string_lossy().into_owned();
            if validate_id(&id).is_err() {
                continue;
            }
            let layers = self.layers_of(&id)?;
            out.push(SnapshotInfo { id, layers });
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }
}

/// IDs are path components: `[A-Za-z0-9][A-Za-z0-9_.-]{0,127}`.
pub fn validate_id(id: &str) -> Result<()> {
    let b = id.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidId { id: id.to_owned() })
    }
}

/// Removes unpacked layers that no image of `images` and no snapshot of
/// `snapshotters` uses (after `rmi` or `image prune`). While a pull or load
/// is in progress (its layers are not recorded yet) nothing is removed and
/// the report says `deferred`.
pub fn collect_unused_layers(
    layers: &LayerStore,
    images: &brig_image::ImageStore,
    snapshotters: &[&dyn Snapshotter],
) -> Result<crate::layers::LayerGcReport> {
    let Some(_lock) = images.try_lock_exclusive()? else {
        return Ok(crate::layers::LayerGcReport {
            deferred: true,
            ..Default::default()
        });
    };
    let mut keep = images.referenced_chain_ids()?;
    for s in snapshotters {
        keep.extend(layers_in_use(*s)?);
    }
    layers.gc(&keep)
}
