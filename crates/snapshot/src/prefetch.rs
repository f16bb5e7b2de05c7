//! `brig load` of an OCI layout directory with unpacking overlapped: each
//! layer blob is unpacked from the layout's own file while it is being
//! copied into the store (a second read of the same file, from the page
//! cache). A layer's directory does not depend on its parents, so it is
//! unpacked under its blob digest and given its chain ID once the image is
//! recorded, and only if its content hashes to the diff ID the image's
//! (verified) config names; otherwise it is dropped and the layer is
//! unpacked from the stored blob the ordinary way.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Mutex;
use std::sync::mpsc::{Sender, channel};

use brig_image::manifest::sniff_compression;
use brig_image::progress::BlobStatus;
use brig_image::{Digest, ImageStore, LoadOptions, LoadedImage, Progress, Provider};

use crate::apply::ApplyStats;
use crate::error::{Error, Result};
use crate::layers::LayerStore;
use crate::unpack::unpack_blob;

/// A layer unpacked under its blob digest, not yet matched to a chain ID.
#[derive(Debug)]
pub(crate) struct Prefetched {
    pub temp: tempfile::TempDir,
    pub diff_id: Digest,
    pub stats: ApplyStats,
    /// `blob-HEX`'s lock: while it is held the directory is in use.
    pub lock: std::fs::File,
}

/// Layers unpacked during a load, by blob digest.
pub(crate) type PrefetchedLayers = Mutex<HashMap<Digest, Prefetched>>;

/// Forwards progress, and hands every layer blob the load starts copying
/// to the unpackers.
struct Hook<'a> {
    inner: &'a dyn Progress,
    images: &'a ImageStore,
    copying: Mutex<Sender<Digest>>,
}

impl Progress for Hook<'_> {
    fn start(&self, digest: &Digest, what: &str, total: u64) {
        self.inner.start(digest, what, total);
        // A blob the store has already was loaded before: its layer is
        // most likely unpacked.
        let new = matches!(self.images.content().blob_size(digest), Ok(None));
        if what == "layer" && new {
            let copying = self.copying.lock().unwrap_or_else(|p| p.into_inner());
            let _ = copying.send(digest.clone());
        }
    }

    fn advance(&self, digest: &Digest, bytes: u64) {
        self.inner.advance(digest, bytes);
    }

    fn finish(&self, digest: &Digest, status: BlobStatus) {
        self.inner.finish(digest, status);
    }
}

/// Loads the OCI layout at `path`, unpacking layers while blobs are copied.
pub(crate) fn load_layout_unpacking(
    images: &ImageStore,
    layers: &LayerStore,
    path: &Path,
    opts: &LoadOptions,
    progress: &dyn Progress,
) -> Result<(Vec<LoadedImage>, PrefetchedLayers)> {
    let (tx, rx) = channel::<Digest>();
    let rx = Mutex::new(rx);
    let done: PrefetchedLayers = Mutex::new(HashMap::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let loaded = std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let next = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok(blob) = next else { break };
                    // A failure here only costs the overlap: the layer is
                    // unpacked again, and any real error reported, later.
                    if let Ok(Some(p)) = prefetch(path, layers, &blob) {
                        done.lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(blob, p);
                    }
                }
            });
        }
        let hook = Hook {
            inner: progress,
            images,
            copying: Mutex::new(tx),
        };
        let loaded = images.load_path(path, opts, &hook);
        drop(hook); // No more blobs: the unpackers finish their queue.
        loaded
    })?;
    Ok((loaded, done))
}

/// Unpacks a layer blob of the layout at `layout` into a temporary
/// directory of `layers`; `None` when another load is unpacking it.
fn prefetch(layout: &Path, layers: &LayerStore, blob: &Digest) -> Result<Option<Prefetched>> {
    let name = format!("blob-{}", blob.digest());
    let Some(lock) = layers.try_lock(&name)? else {
        return Ok(None);
    };
    // What an interrupted load left of this blob's unpack.
    layers.remove_stale_temps(&name);
    let path = layout
        .join("blobs")
        .join(blob.algorithm().as_ref())
        .join(blob.digest());
    let file = std::fs::File::open(&path).map_err(|e| Error::io("open", &path, e))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let head = reader
        .fill_buf()
        .map_err(|e| Error::io("read blob", blob.to_string(), e))?;
    let compression = sniff_compression(head);
    let temp = layers.temp_dir(&format!("{name}-"))?;
    let (stats, diff_id) = unpack_blob(reader, compression, temp.path(), layers.options())?;
    Ok(Some(Prefetched {
        temp,
        diff_id,
        stats,
        lock,
    }))
}
