//! Loading and saving images as files: OCI image layout directories, OCI
//! archives (a tar of a layout) and docker-archive (`docker save` /
//! `podman save`: `manifest.json` + `repositories` + config and layer files).

mod docker;
mod layout;
mod save;
mod stream;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use oci_spec::image::Descriptor;

pub use docker::DockerManifestEntry;
pub use layout::LayoutDir;
pub use save::{SaveFormat, SaveItem};

use crate::db::ImageRecord;
use crate::error::{Error, IoContext, Result};
use crate::manifest::{PlatformSpec, decompress, sniff_compression};
use crate::progress::Progress;
use crate::reference::Reference;
use crate::store::ImageStore;

/// Annotation carrying an image's name in an OCI layout (OCI spec).
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Annotation carrying the full image name (containerd, Docker 25+).
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";

/// Options of [`ImageStore::load_path`] and [`ImageStore::load_reader`].
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The platform chosen from multi-platform images.
    pub platform: PlatformSpec,
    /// The repository for OCI layouts whose `ref.name` is only a tag.
    pub default_repository: Option<Reference>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            platform: PlatformSpec::host(),
            default_repository: None,
        }
    }
}

/// One image a load recorded.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    pub record: ImageRecord,
    /// The raw name the archive gave the image (`ref.name` or a
    /// `RepoTags` entry), when it had one.
    pub source_names: Vec<String>,
}

impl ImageStore {
    /// Loads every image of `path`: an OCI layout directory, an OCI archive
    /// or a docker-archive (possibly gzip- or zstd-compressed).
    pub fn load_path(
        &self,
        path: &Path,
        opts: &LoadOptions,
        progress: &dyn Progress,
    ) -> Result<Vec<LoadedImage>> {
        let meta = std::fs::metadata(path).ctx("inspect", path)?;
        let loaded = if meta.is_dir() {
            let layout = LayoutDir::open(path)?;
            let _lock = self.lock_shared()?;
            layout::load_layout(self, &layout, opts, progress)
        } else {
            let file = File::open(path).ctx("open", path)?;
            self.load_tar(file, path, opts)
        };
        // Also after a failure: the blobs stored before it are not kept.
        self.gc_after_load();
        loaded
    }

    /// Loads every image of an OCI archive or docker-archive read from
    /// `reader` (e.g. stdin), in one pass.
    pub fn load_reader(
        &self,
        reader: impl Read + Send,
        opts: &LoadOptions,
    ) -> Result<Vec<LoadedImage>> {
        let loaded = self.load_tar(reader, Path::new("<stdin>"), opts);
        self.gc_after_load();
        loaded
    }

    fn load_tar(
        &self,
        reader: impl Read + Send,
        name: &Path,
        opts: &LoadOptions,
    ) -> Result<Vec<LoadedImage>> {
        let mut buffered = BufReader::with_capacity(1 << 20, reader);
        let head = buffered.fill_buf().ctx("read", name)?;
        let compression = sniff_compression(head);
        let reader = decompress(compression, buffered).ctx("decompress", name)?;
        let _lock = self.lock_shared()?;
        stream::load_stream(self, reader, name, opts)
    }

    /// Blobs an archive held beyond the chosen images (other platforms,
    /// legacy files) are not kept.
    fn gc_after_load(&self) {
        let _ = self.collect_garbage(false);
    }
}

/// Names an OCI layout gives an index entry: the full name annotation, or
/// `ref.name` when it is a full reference, or `ref.name` as a tag of the
/// default repository.
pub(crate) fn entry_names(
    desc: &Descriptor,
    default_repo: Option<&Reference>,
) -> (Vec<Reference>, Vec<String>) {
    let annotations = desc.annotations().clone().unwrap_or_default();
    let mut raw = Vec::new();
    let mut names = Vec::new();
    if let Some(full) = annotations.get(ANNOTATION_IMAGE_NAME) {
        raw.push(full.clone());
        if let Ok(r) = Reference::parse(full) {
            names.push(r);
        }
    }
    if let Some(ref_name) = annotations.get(ANNOTATION_REF_NAME) {
        if !raw.contains(ref_name) {
            raw.push(ref_name.clone());
        }
        if names.is_empty() {
            let parsed = if ref_name.contains(['/', ':', '@']) {
                Reference::parse(ref_name).ok()
            } else {
                default_repo.and_then(|repo| repo.with_tag(ref_name).ok())
            };
            names.extend(parsed);
        }
    }
    (names, raw)
}

/// Normalizes a path inside an archive: no leading `./` or `/`, and no
/// `..` (refused).
pub(crate) fn archive_path(raw: &str, archive: &Path) -> Result<String> {
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(Error::InvalidArchive {
                    path: archive.to_owned(),
                    problem: format!("entry {raw:?} leaves the archive with '..'"),
                });
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}
