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
