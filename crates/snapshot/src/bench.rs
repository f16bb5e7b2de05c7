//! Measurement helpers for the bench package (not tests).

use std::fs::File;
use std::path::Path;
use std::time::Instant;

use brig_image::{Compression, Digest};

use crate::apply::ApplyOptions;
use crate::error::{Error, Result};
use crate::unpack::unpack_blob;

/// The result of one timed unpack.
#[derive(Debug, Clone)]
pub struct UnpackTiming {
    /// Bytes of the blob as stored.
    pub blob_bytes: u64,
    /// Bytes of regular file content written.
    pub content_bytes: u64,
    pub entries: u64,
    pub seconds: f64,
    /// Digest of the uncompressed stream (compare with `diff_ids`).
    pub diff_id: Digest,
}

impl UnpackTiming {
    /// Throughput over the blob's uncompressed file content, in MB/s.
    pub fn content_mb_per_s(&self) -> f64 {
        self.content_bytes as f64 / 1e6 / self.seconds
    }
}

/// Unpacks the layer blob at `blob` into `dest` (a new, empty directory on
/// the file system to measure) the way a pull does, and times it: the same
/// pipeline (decoder thread, sparse-aware writes, whiteouts) as
/// [`crate::LayerStore::unpack`], without the final `syncfs` and rename.
/// Compare with `tar -xzf blob -C dir` on the same file system.
pub fn time_unpack(
    blob: &Path,
    compression: Compression,
    dest: &Path,
    opts: &ApplyOptions,
) -> Result<UnpackTiming> {
    let file = File::open(blob).map_err(|e| Error::io("open", blob, e))?;
    let blob_bytes = file
        .metadata()
        .map_err(|e| Error::io("inspect", blob, e))?
        .len();
    std::fs::create_dir_all(dest).map_err(|e| Error::io("create directory", dest, e))?;
    let start = Instant::now();
    let (stats, diff_id) = unpack_blob(file, compression, dest, opts)?;
    Ok(UnpackTiming {
        blob_bytes,
        content_bytes: stats.bytes,
        entries: stats.entries,
        seconds: start.elapsed().as_secs_f64(),
        diff_id,
    })
}

/// Timings of loading an image into a fresh store and unpacking it.
#[derive(Debug, Clone)]
pub struct LoadTiming {
    /// Copying and verifying blobs into the content store.
    pub load_seconds: f64,
    /// Unpacking every layer (layers in parallel), ready for a snapshot.
    pub unpack_seconds: f64,
    pub layers: usize,
    /// Bytes of the layer blobs as stored.
    pub blob_bytes: u64,
}

impl LoadTiming {
    pub fn total_seconds(&self) -> f64 {
        self.load_seconds + self.unpack_seconds
    }
}

/// `brig load` of `source` (OCI layout directory, OCI archive or
/// docker-archive) into a new store at `root`, then unpacks its first image
/// as a run would. `durable` keeps the fsync/syncfs a real store does.
pub fn time_load_and_unpack(source: &Path, root: &Path, durable: bool) -> Result<LoadTiming> {
    use brig_image::{ImageStore, LoadOptions, NoProgress};
    let start = Instant::now();
    let images = ImageStore::open(root, &root.join("brig.db"))?;
    let loaded = images.load_path(source, &LoadOptions::default(), &NoProgress)?;
    let load_seconds = start.elapsed().as_secs_f64();
    let image = loaded.first().ok_or_else(|| {
        Error::Image(brig_image::Error::ImageNotFound {
            reference: source.display().to_string(),
        })
    })?;
    let mut layers = crate::LayerStore::open(root, ApplyOptions::default())?;
    layers.set_durable(durable);
    let start = Instant::now();
    let chain = layers.unpack_image(&images, &image.record)?;
    Ok(LoadTiming {
        load_seconds,
        unpack_seconds: start.elapsed().as_secs_f64(),
        layers: chain.len(),
        blob_bytes: images
            .layers(&image.record)?
            .iter()
            .map(|l| l.blob_size)
            .sum(),
    })
}

/// `brig pull` of `reference` into a new store at `root`, then unpack, as
/// [`time_load_and_unpack`] does for files (`load_seconds` is the pull).
pub fn time_pull_and_unpack(
    reference: &brig_image::Reference,
    opts: &brig_image::RegistryOptions,
    root: &Path,
    durable: bool,
) -> Result<LoadTiming> {
    use brig_image::{ImageStore, NoProgress};
    let start = Instant::now();
    let images = ImageStore::open(root, &root.join("brig.db"))?;
    let record = images.pull(reference, opts, &NoProgress)?;
    let load_seconds = start.elapsed().as_secs_f64();
    let mut layers = crate::LayerStore::open(root, ApplyOptions::default())?;
    layers.set_durable(durable);
    let start = Instant::now();
    let chain = layers.unpack_image(&images, &record)?;
    Ok(LoadTiming {
        load_seconds,
        unpack_seconds: start.elapsed().as_secs_f64(),
        layers: chain.len(),
        blob_bytes: images.layers(&record)?.iter().map(|l| l.blob_size).sum(),
    })
}

/// Timing of [`crate::pull_and_unpack`] (download and unpack overlapped).
#[derive(Debug, Clone)]
pub struct StreamedTiming {
    pub seconds: f64,
    pub layers: usize,
    /// Layers unpacked from the download stream.
    pub streamed: usize,
    pub blob_bytes: u64,
}

/// `brig pull` the way the engine does it: each layer unpacked while it
/// downloads, into a new store at `root`.
pub fn time_streamed_pull(
    reference: &brig_image::Reference,
    opts: &brig_image::RegistryOptions,
    root: &Path,
    durable: bool,
) -> Result<StreamedTiming> {
    use brig_image::{ImageStore, NoProgress};
    let start = Instant::now();
    let images = ImageStore::open(root, &root.join("brig.db"))?;
    let mut layers = crate::LayerStore::open(root, ApplyOptions::default())?;
    layers.set_durable(durable);
    let pulled = crate::pull_and_unpack(&images, &layers, reference, opts, &NoProgress)?;
    Ok(StreamedTiming {
        seconds: start.elapsed().as_secs_f64(),
        layers: pulled.chain_ids.len(),
        streamed: pulled.streamed,
        blob_bytes: images
            .layers(&pulled.image)?
            .iter()
            .map(|l| l.blob_size)
            .sum(),
    })
}
