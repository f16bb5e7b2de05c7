//! Images made ready to run from files: `brig load` and `brig import`
//! record an image and then unpack its layers (an OCI layout directory's
//! layers already while its blobs are copied, see `prefetch`). An image whose layers cannot
//! be unpacked (a layer that does not match its diff ID, a malformed tar) is
//! not kept: the images the command added are removed again, with their
//! blobs and the layers unpacked for them, so a failed load leaves the store
//! as it was.

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

use brig_image::{
    Digest, ImageRecord, ImageStore, ImportOptions, LoadOptions, LoadedImage, Progress,
};

use crate::error::Result;
use crate::layers::LayerStore;
use crate::prefetch::{PrefetchedLayers, load_layout_unpacking};
use crate::snapshotter::{Snapshotter, collect_unused_layers};

/// Where a load reads from.
pub enum LoadSource<'a> {
    /// An OCI layout directory, an OCI archive or a docker-archive file.
    Path(&'a Path),
    /// An OCI archive or docker-archive stream (e.g. stdin).
    Reader(&'a mut (dyn Read + Send)),
}

impl std::fmt::Debug for LoadSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadSource::Path(p) => write!(f, "LoadSource::Path({})", p.display()),
            LoadSource::Reader(_) => f.write_str("LoadSource::Reader"),
        }
    }
}

/// Loads every image of `source` and unpacks its layers. `snapshotters`
/// are consulted before unpacked layers are removed after a failure.
pub fn load_and_unpack(
    images: &ImageStore,
    layers: &LayerStore,
    snapshotters: &[&dyn Snapshotter],
    source: LoadSource<'_>,
    opts: &LoadOptions,
    progress: &dyn Progress,
) -> Result<Vec<LoadedImage>> {
    let before = image_ids(images)?;
    let (loaded, prefetched) = match source {
        LoadSource::Path(path) if path.is_dir() => {
            load_layout_unpacking(images, layers, path, opts, progress)?
        }
        LoadSource::Path(path) => (images.load_path(path, opts, progress)?, Default::default()),
        LoadSource::Reader(reader) => (images.load_reader(reader, opts)?, Default::default()),
    };
    let records: Vec<&ImageRecord> = loaded.iter().map(|l| &l.record).collect();
    unpack_or_undo(images, layers, snapshotters, &before, &records, &prefetched)?;
    Ok(loaded)
}

/// Imports a root filesystem tarball (see [`ImageStore::import`]) and
/// unpacks its layer.
pub fn import_and_unpack(
    images: &ImageStore,
    layers: &LayerStore,
    snapshotters: &[&dyn Snapshotter],
    reader: impl Read,
    opts: &ImportOptions,
) -> Result<ImageRecord> {
    let before = image_ids(images)?;
    let record = images.import(reader, opts)?;
    unpack_or_undo(
        images,
        layers,
        snapshotters,
        &before,
        &[&record],
        &Default::default(),
    )?;
    Ok(record)
}

fn image_ids(images: &ImageStore) -> Result<HashSet<Digest>> {
    Ok(images.images()?.into_iter().map(|r| r.id).collect())
}

/// Unpacks every image; on the first failure removes the images that were
/// not in the store `before` and returns that failure.
fn unpack_or_undo(
    images: &ImageStore,
    layers: &LayerStore,
    snapshotters: &[&dyn Snapshotter],
    before: &HashSet<Digest>,
    records: &[&ImageRecord],
    prefetched: &PrefetchedLayers,
) -> Result<()> {
    let Some(err) = records
        .iter()
        .find_map(|r| layers.unpack_image_with(images, r, prefetched).err())
    else {
        return Ok(());
    };
    for record in records.iter().filter(|r| !before.contains(&r.id)) {
        // Best effort: the unpack error is the one to report.
        let _ = images.db().delete_image(&record.id);
    }
    let _ = images.gc();
    let _ = collect_unused_layers(layers, images, snapshotters);
    Err(err)
}
