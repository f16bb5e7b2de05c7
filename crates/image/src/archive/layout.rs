//! OCI image layout directories: `oci-layout`, `index.json`, `blobs/`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, ImageIndex};
use serde::Deserialize;

use super::{LoadOptions, LoadedImage, entry_names};
use crate::digest::{check_supported, hex_of};
use crate::error::{Error, IoContext, Result};
use crate::fetch::{BlobSource, fetch_image};
use crate::manifest::{MAX_MANIFEST_SIZE, is_manifest_type, is_non_distributable};
use crate::progress::Progress;
use crate::reference::Reference;
use crate::store::ImageStore;

/// The layout version brig reads and writes.
pub const LAYOUT_VERSION: &str = "1.0.0";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OciLayoutFile {
    image_layout_version: String,
}

/// An OCI image layout directory being read.
#[derive(Debug, Clone)]
pub struct LayoutDir {
    root: PathBuf,
}

impl LayoutDir {
    /// Opens a layout, checking its `oci-layout` file.
    pub fn open(root: &Path) -> Result<Self> {
        let marker = root.join("oci-layout");
        let bytes = std::fs::read(&marker).map_err(|e| Error::InvalidArchive {
            path: root.to_owned(),
            problem: format!("not an OCI image layout: cannot read its oci-layout file ({e})"),
        })?;
        check_layout_marker(&bytes, root)?;
        Ok(LayoutDir {
            root: root.to_owned(),
        })
    }

    /// The layout's `index.json`.
    pub fn index(&self) -> Result<ImageIndex> {
        let path = self.root.join("index.json");
        let bytes = std::fs::read(&path).ctx("read", &path)?;
        parse_index(&bytes, &path)
    }
}

pub(super) fn check_layout_marker(bytes: &[u8], where_: &Path) -> Result<()> {
    let layout: OciLayoutFile = serde_json::from_slice(bytes)
        .map_err(|e| Error::json(format!("{}/oci-layout", where_.display()), e))?;
    if !layout.image_layout_version.starts_with("1.") {
        return Err(Error::InvalidArchive {
            path: where_.to_owned(),
            problem: format!(
                "OCI layout version {} is not supported (brig reads 1.x)",
                layout.image_layout_version
            ),
        });
    }
    Ok(())
}

pub(super) fn parse_index(bytes: &[u8], path: &Path) -> Result<ImageIndex> {
    if bytes.len() as u64 > MAX_MANIFEST_SIZE {
        return Err(Error::TooLarge {
            what: path.display().to_string(),
            size: bytes.len() as u64,
            limit: MAX_MANIFEST_SIZE,
        });
    }
    serde_json::from_slice(bytes).map_err(|e| Error::json(path.display().to_string(), e))
}

impl BlobSource for LayoutDir {
    fn open_blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
        let digest = desc.digest();
        check_supported(digest)?;
        let path = self
            .root
            .join("blobs")
            .join(digest.algorithm().as_ref())
            .join(hex_of(digest));
        match File::open(&path) {
            Ok(f) => Ok(Box::new(f)),
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && is_non_distributable(desc.media_type().as_ref()) =>
            {
                Err(Error::ForeignLayerMissing {
                    digest: digest.to_string(),
                    urls: desc
                        .urls()
                        .as_ref()
                        .map(|u| u.join(", "))
                        .unwrap_or_default(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::InvalidArchive {
                path: self.root.clone(),
                problem: format!("blob {digest} is referenced but missing"),
            }),
            Err(e) => Err(Error::io("open", path, e)),
        }
    }
}

/// Copies and records every image `index.json` lists. The same manifest
/// under several names is recorded once with all of them.
pub(super) fn load_layout(
    store: &ImageStore,
    layout: &LayoutDir,
    opts: &LoadOptions,
    progress: &dyn Progress,
) -> Result<Vec<LoadedImage>> {
    load_index(store, layout, &layout.index()?, opts, progress)
}

/// Shared by directories and archives: `src` serves the blobs `index` needs.
pub(super) fn load_index(
    store: &ImageStore,
    src: &dyn BlobSource,
    index: &ImageIndex,
    opts: &LoadOptions,
    progress: &dyn Progress,
) -> Result<Vec<LoadedImage>> {
    type Group = (Descriptor, Option<Descriptor>, Vec<Reference>, Vec<String>);
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for entry in index.manifests() {
        if !is_manifest_type(entry.media_type().as_ref()) {
            continue;
        }
        let fetched = fetch_image(src, store.content(), entry, &opts.platform, progress)?;
        let (names, raw) = entry_names(entry, opts.default_repository.as_ref());
        let group = groups
            .entry(fetched.manifest.digest().to_string())
            .or_insert_with(|| {
                (
                    fetched.manifest.clone(),
                    fetched.index.clone(),
                    Vec::new(),
                    Vec::new(),
                )
            });
        group.2.extend(names);
        group.3.extend(raw);
    }
    let mut out = Vec::new();
    for (_, (manifest, index, names, raw)) in groups {
        let index_digest = index.as_ref().map(|d| d.digest().clone());
        let record = store.commit_image(&manifest, index_digest.as_ref(), &names)?;
        out.push(LoadedImage {
            record,
            source_names: raw,
        });
    }
    Ok(out)
}
