//! The overlay snapshotter: a container's root filesystem is an overlay of
//! the shared layer directories (read-only lowers) plus the container's own
//! `upper` and `work` directories. Nothing is copied, so N containers of an
//! image cost the image once plus what each writes.

use std::fs;
use std::path::Path;

use brig_image::Digest;

use crate::apply::WhiteoutFormat;
use crate::error::{Error, Result};
use crate::layers::LayerStore;
use crate::mount::MountSpec;
use crate::snapshotter::{SnapshotDirs, SnapshotInfo, Snapshotter};
use crate::usage::disk_usage;

/// Snapshots as overlay mounts.
#[derive(Debug, Clone)]
pub struct OverlaySnapshotter {
    dirs: SnapshotDirs,
}

impl OverlaySnapshotter {
    /// Snapshots under `<root>/snapshots`, on the layers of `layers`.
    pub fn open(root: &Path, layers: LayerStore) -> Result<Self> {
        Ok(OverlaySnapshotter {
            dirs: SnapshotDirs::open(root, layers, "overlay")?,
        })
    }

    fn spec(&self, id: &str, layers: &[Digest]) -> Result<Vec<MountSpec>> {
        let dir = self.dirs.path(id)?;
        if layers.is_empty() {
            // overlayfs needs a lower layer; with none the upper is the rootfs.
            return Ok(vec![MountSpec::Bind {
                source: dir.join("upper"),
                readonly: false,
            }]);
        }
        let mut options = Vec::new();
        if self.dirs.layers.options().whiteouts == WhiteoutFormat::OverlayUser {
            options.push("userxattr".to_owned());
        }
        Ok(vec![MountSpec::Overlay {
            lowerdirs: layers
                .iter()
                .rev()
                .map(|l| self.dirs.layers.path(l))
                .collect(),
            upperdir: dir.join("upper"),
            workdir: dir.join("work"),
            options,
        }])
    }
}

impl Snapshotter for OverlaySnapshotter {
    fn prepare(&self, id: &str, layers: &[Digest]) -> Result<Vec<MountSpec>> {
        self.dirs.create(id, layers, |tmp| {
            for d in ["upper", "work"] {
                let p = tmp.join(d);
                fs::create_dir(&p).map_err(|e| Error::io("create directory", &p, e))?;
            }
            // The container's root directory is the upper's; 0755 as images expect.
            use std::os::unix::fs::PermissionsExt;
            let upper = tmp.join("upper");
            fs::set_permissions(&upper, fs::Permissions::from_mode(0o755))
                .map_err(|e| Error::io("chmod", &upper, e))
        })?;
        self.spec(id, layers)
    }

    fn mounts(&self, id: &str) -> Result<Vec<MountSpec>> {
        let layers = self.dirs.layers_of(id)?;
        self.spec(id, &layers)
    }

    fn remove(&self, id: &str) -> Result<()> {
        self.dirs.remove(id)
    }

    fn list(&self) -> Result<Vec<SnapshotInfo>> {
        self.dirs.list()
    }

    fn usage(&self, id: &str) -> Result<u64> {
        let dir = self.dirs.path(id)?;
        if !dir.exists() {
            return Err(Error::SnapshotNotFound { id: id.to_owned() });
        }
        Ok(disk_usage(&dir.join("upper")))
    }
}
