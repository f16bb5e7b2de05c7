//! Unpacked layers, one directory per chain ID under `<root>/layers/`,
//! shared read-only by every image and container that uses them.
//!
//! A layer is unpacked into `layers/.tmp/<hex>-<random>` and renamed to
//! `layers/<hex>` only when complete, verified against its diff ID and
//! flushed (one `syncfs` for all the layers of an image), so a crash or a
//! bad blob never leaves a directory that is taken for complete.
//! A per-chain lock file serializes concurrent processes unpacking the same
//! layer; the second finds it done.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use brig_image::digest::parse_digest;
use brig_image::manifest::layer_compression;
use brig_image::{Compression, Digest, ImageRecord, ImageStore, Provider};

use crate::apply::{ApplyOptions, ApplyStats};
use crate::error::{Error, Result};
use crate::parallel::run_parallel;
use crate::prefetch::{Prefetched, PrefetchedLayers};
use crate::unpack::unpack_blob;

/// What [`LayerStore::unpack`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unpacked {
    /// The layer was unpacked now.
    Fresh(ApplyStats),
    /// It was already there (unpacked by an earlier pull or another image).
    AlreadyPresent,
}

/// A layer unpacked and verified in a temporary directory, not yet in
/// place; dropping it removes the directory and releases the lock.
#[derive(Debug)]
pub(crate) struct Staged {
    temp: tempfile::TempDir,
    final_path: PathBuf,
    stats: ApplyStats,
    _lock: File,
    /// For a layer unpacked during a load: its blob's lock, which keeps
    /// another load from taking the directory for a leftover.
    _blob_lock: Option<File>,
}

/// What [`LayerStore::gc`] freed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LayerGcReport {
    pub layers_removed: usize,
    pub bytes_freed: u64,
    /// A pull or load was in progress; try again later.
    pub deferred: bool,
}

/// The unpacked layers of a store root.
#[derive(Debug, Clone)]
pub struct LayerStore {
    dir: PathBuf,
    opts: ApplyOptions,
    durable: bool,
}

impl LayerStore {
    /// Opens (creating if needed) `<root>/layers`.
    pub fn open(root: &Path, opts: ApplyOptions) -> Result<Self> {
        let dir = root.join("layers");
        for d in [dir.join(".tmp"), dir.join(".locks")] {
            fs::create_dir_all(&d).map_err(|e| Error::io("create directory", &d, e))?;
        }
        Ok(LayerStore {
            dir,
            opts,
            durable: true,
        })
    }

    /// Whether to `syncfs` a layer before it is renamed into place (default
    /// on: after a crash a layer directory is complete or absent). Off only
    /// for throwaway stores such as benchmarks.
    pub fn set_durable(&mut self, durable: bool) {
        self.durable = durable;
    }

    pub fn options(&self) -> &ApplyOptions {
        &self.opts
    }

    /// The directory of a layer (whether or not it exists).
    pub fn path(&self, chain_id: &Digest) -> PathBuf {
        self.dir.join(chain_id.digest())
    }

    /// Whether the layer is unpacked.
    pub fn contains(&self, chain_id: &Digest) -> bool {
        self.path(chain_id).is_dir()
    }

    /// Unpacks a layer blob as `chain_id` unless it is there, checking that
    /// its uncompressed content hashes to `diff_id`.
    pub fn unpack(
        &self,
        chain_id: &Digest,
        diff_id: &Digest,
        blob: &dyn Fn() -> Result<File>,
        compression: Compression,
    ) -> Result<Unpacked> {
        self.unpack_from(
            chain_id,
            diff_id,
            &|| Ok(Box::new(blob()?) as Box<dyn Read + Send>),
            compression,
        )
    }

    /// Like [`unpack`](Self::unpack), from any reader of the blob (e.g. one
    /// fed by a download in progress). `blob` is called only when the layer
    /// is really unpacked.
    pub fn unpack_from(
        &self,
        chain_id: &Digest,
        diff_id: &Digest,
        blob: &dyn Fn() -> Result<Box<dyn Read + Send>>,
        compression: Compression,
    ) -> Result<Unpacked> {
        match self.stage(chain_id, diff_id, blob, compression)? {
            Some(staged) => {
                let stats = staged.stats.clone();
                self.publish(vec![staged])?;
                Ok(Unpacked::Fresh(stats))
            }
            None => Ok(Unpacked::AlreadyPresent),
        }
    }

    /// Unpacks a layer into a temporary directory and verifies it; `None`
    /// when the layer is there already. The layer's lock is held until
    /// [`publish`](Self::publish) or until the result is dropped (which
    /// removes the directory).
    pub(crate) fn stage(
        &self,
        chain_id: &Digest,
        diff_id: &Digest,
        blob: &dyn Fn() -> Result<Box<dyn Read + Send>>,
        compression: Compression,
    ) -> Result<Option<Staged>> {
        let Some((final_path, lock)) = self.lock_if_absent(chain_id)? else {
            return Ok(None);
        };
        self.remove_stale_temps(chain_id.digest());
        let temp = self.temp_dir(&format!("{}-", chain_id.digest()))?;
        let (stats, actual) = unpack_blob(blob()?, compression, temp.path(), &self.opts)?;
        if actual != *diff_id {
            return Err(Error::DiffIdMismatch {
                blob: chain_id.to_string(),
                expected: diff_id.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(Some(Staged {
            temp,
            final_path,
            stats,
            _lock: lock,
            _blob_lock: None,
        }))
    }

    /// The layer's final path and its lock, unless the layer is there
    /// (checked again under the lock: another process may have finished it).
    fn lock_if_absent(&self, chain_id: &Digest) -> Result<Option<(PathBuf, File)>> {
        let final_path = self.path(chain_id);
        if final_path.is_dir() {
            return Ok(None);
        }
        let lock = self.lock(chain_id.digest())?;
        if final_path.is_dir() {
            return Ok(None);
        }
        Ok(Some((final_path, lock)))
    }

    /// A new temporary directory for an unpack in progress.
    pub(crate) fn temp_dir(&self, prefix: &str) -> Result<tempfile::TempDir> {
        let tmp = self.dir.join(".tmp");
        tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(&tmp)
            .map_err(|e| Error::io("create temporary directory in", tmp, e))
    }

    /// Takes a layer unpacked before its chain ID was known; `None` when
    /// the layer is there already (the directory is then removed).
    fn adopt(&self, chain_id: &Digest, p: Prefetched) -> Result<Option<Staged>> {
        let Some((final_path, lock)) = self.lock_if_absent(chain_id)? else {
            return Ok(None);
        };
        Ok(Some(Staged {
            temp: p.temp,
            final_path,
            stats: p.stats,
            _lock: lock,
            _blob_lock: Some(p.lock),
        }))
    }

    /// Moves staged layers into place. When durable, one `syncfs` first
    /// flushes them all (as containerd does: one sync for the whole batch,
    /// not an fsync per file or a sync per layer), so after a crash each
    /// layer directory is complete or absent.
    pub(crate) fn publish(&self, staged: Vec<Staged>) -> Result<()> {
        let Some(first) = staged.first() else {
            return Ok(());
        };
        if self.durable {
            let dir = File::open(first.temp.path())
                .map_err(|e| Error::io("open", first.temp.path(), e))?;
            rustix::fs::syncfs(&dir).map_err(|e| Error::io("sync", first.temp.path(), e))?;
        }
        for layer in staged {
            let temp = layer.temp.keep();
            fs::rename(&temp, &layer.final_path)
                .map_err(|e| Error::io("rename layer into", &layer.final_path, e))?;
        }
        if self.durable {
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| Error::io("sync", &self.dir, e))?;
        }
        Ok(())
    }

    /// Unpacks every layer of an image that is not unpacked yet, several at
    /// once, and returns the image's chain IDs (base first). The layers are
    /// published together after one sync.
    pub fn unpack_image(&self, images: &ImageStore, image: &ImageRecord) -> Result<Vec<Digest>> {
        self.unpack_image_with(images, image, &Mutex::new(HashMap::new()))
    }

    /// Like [`unpack_image`](Self::unpack_image), taking the layers
    /// `prefetched` holds (unpacked during a load) whose content matches.
    pub(crate) fn unpack_image_with(
        &self,
        images: &ImageStore,
        image: &ImageRecord,
        prefetched: &PrefetchedLayers,
    ) -> Result<Vec<Digest>> {
        let layers = images.layers(image)?;
        let mut ready = Vec::new();
        let mut todo = Vec::new();
        for layer in layers.iter().filter(|l| !self.contains(&l.chain_id)) {
            let mut map = prefetched.lock().unwrap_or_else(|p| p.into_inner());
            match map.remove(&layer.blob_digest) {
                Some(p) if p.diff_id == layer.diff_id => {
                    ready.extend(self.adopt(&layer.chain_id, p)?);
                }
                _ => todo.push(layer),
            }
        }
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let staged = run_parallel(todo, workers, |layer| {
            let compression = layer_compression(&layer.media_type)?;
            let open = || {
                let file = images.content().open_blob(&layer.blob_digest)?;
                Ok(Box::new(file) as Box<dyn Read + Send>)
            };
            self.stage(&layer.chain_id, &layer.diff_id, &open, compression)
        })?;
        ready.extend(staged.into_iter().flatten());
        self.publish(ready)?;
        Ok(layers.into_iter().map(|l| l.chain_id).collect())
    }

    /// Chain IDs of every unpacked layer.
    pub fn list(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(|e| Error::io("list", &self.dir, e))? {
            let entry = entry.map_err(|e| Error::io("list", &self.dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Ok(d) = parse_digest(&format!("sha256:{name}")) {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Removes layers not in `keep` (the chain IDs images and snapshots
    /// use) and abandoned temporary directories. Layers being unpacked are
    /// left alone.
    pub fn gc(&self, keep: &HashSet<Digest>) -> Result<LayerGcReport> {
        let mut report = LayerGcReport::default();
        for chain_id in self.list()? {
            if keep.contains(&chain_id) {
                continue;
            }
            let Some(_lock) = self.try_lock(chain_id.digest())? else {
                continue;
            };
            let path = self.path(&chain_id);
            // Rename first: a half-removed layer must not look complete.
            let doomed = self
                .dir
                .join(".tmp")
                .join(format!("{}-gc", chain_id.digest()));
            fs::rename(&path, &doomed).map_err(|e| Error::io("move aside", &path, e))?;
            report.bytes_freed += crate::usage::disk_usage(&doomed);
            fs::remove_dir_all(&doomed).map_err(|e| Error::io("remove", &doomed, e))?;
            let _ = fs::remove_file(self.lock_path(chain_id.digest()));
            report.layers_removed += 1;
        }
        Ok(report)
    }

    /// The lock file `name` (a chain ID's hex, or `blob-HEX` for a layer
    /// unpacked during a load before its chain ID is known).
    fn lock_path(&self, name: &str) -> PathBuf {
        self.dir.join(".locks").join(name)
    }

    fn lock_file(&self, name: &str) -> Result<File> {
        let path = self.lock_path(name);
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open lock file", &path, e))
    }

    fn lock(&self, name: &str) -> Result<File> {
        let file = self.lock_file(name)?;
        file.lock()
            .map_err(|e| Error::io("lock", self.lock_path(name), e))?;
        Ok(file)
    }

    pub(crate) fn try_lock(&self, name: &str) -> Result<Option<File>> {
        let file = self.lock_file(name)?;
        Ok(file.try_lock().is_ok().then_some(file))
    }

    /// Leftovers of an interrupted unpack named `name` (we hold its lock).
    pub(crate) fn remove_stale_temps(&self, name: &str) {
        let tmp = self.dir.join(".tmp");
        let Ok(entries) = fs::read_dir(&tmp) else {
            return;
        };
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(&format!("{name}-"))
            {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}
