//! One-pass loading of OCI archives and docker-archives from a stream
//! (a file or stdin): every blob-like file goes into the content store as
//! it passes (verified against its name when the name is a digest), the
//! small metadata files are kept in memory, and the images are assembled
//! when the stream ends.

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::Path;

use oci_spec::image::Descriptor;

use super::docker::{self, DockerManifestEntry};
use super::layout::{check_layout_marker, load_index, parse_index};
use super::{LoadOptions, LoadedImage, archive_path};
use crate::content::{ContentStore, Ingester, Provider};
use crate::digest::{Digest, parse_digest};
use crate::error::{Error, IoContext, Result};
use crate::fetch::BlobSource;
use crate::progress::NoProgress;
use crate::store::ImageStore;

const METADATA_FILES: [&str; 4] = ["manifest.json", "repositories", "index.json", "oci-layout"];
const MAX_METADATA: u64 = 16 << 20;

/// What the stream held.
#[derive(Debug, Default)]
pub(super) struct StreamContents {
    /// Regular files stored as blobs: archive path -> (digest, size).
    pub files: HashMap<String, (Digest, u64)>,
    /// Symbolic and hard links: archive path -> target archive path.
    pub links: HashMap<String, String>,
    /// Metadata files by name.
    pub metadata: HashMap<String, Vec<u8>>,
}

impl StreamContents {
    /// The blob stored for an archive path, following links.
    pub fn blob(&self, path: &str) -> Option<&(Digest, u64)> {
        let mut path = path.to_owned();
        for _ in 0..16 {
            if let Some(found) = self.files.get(&path) {
                return Some(found);
            }
            path = self.links.get(&path)?.clone();
        }
        None
    }
}

pub(super) fn load_stream(
    store: &ImageStore,
    reader: impl Read,
    name: &Path,
    opts: &LoadOptions,
) -> Result<Vec<LoadedImage>> {
    let contents = read_stream(store.content(), reader, name)?;
    if let (Some(index), Some(marker)) = (
        contents.metadata.get("index.json"),
        contents.metadata.get("oci-layout"),
    ) {
        check_layout_marker(marker, name)?;
        let index = parse_index(index, name)?;
        let src = StoreSource {
            store: store.content(),
            archive: name,
        };
        return load_index(store, &src, &index, opts, &NoProgress);
    }
    if let Some(manifest) = contents.metadata.get("manifest.json") {
        let entries: Vec<DockerManifestEntry> = serde_json::from_slice(manifest)
            .map_err(|e| Error::json(format!("{}: manifest.json", name.display()), e))?;
        return entries
            .iter()
            .map(|entry| docker::load_entry(store, &contents, entry, name))
            .collect();
    }
    Err(Error::InvalidArchive {
        path: name.to_owned(),
        problem:
            "neither an OCI archive (index.json + oci-layout) nor a docker-archive (manifest.json)"
                .to_owned(),
    })
}

fn read_stream(store: &ContentStore, reader: impl Read, name: &Path) -> Result<StreamContents> {
    let mut archive = tar::Archive::new(reader);
    let mut out = StreamContents::default();
    let entries = archive.entries().ctx("read archive", name)?;
    for entry in entries {
        let mut entry = entry.ctx("read archive", name)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = archive_path(&raw, name)?;
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            let parent = path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
            let base = if kind.is_symlink() && !target.starts_with('/') {
                parent
            } else {
                ""
            };
            let resolved = resolve_link(base, &target, name)?;
            out.links.insert(path, resolved);
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        if METADATA_FILES.contains(&path.as_str()) {
            let mut data = Vec::new();
            (&mut entry)
                .take(MAX_METADATA + 1)
                .read_to_end(&mut data)
                .ctx("read archive", name)?;
            if data.len() as u64 > MAX_METADATA {
                return Err(Error::TooLarge {
                    what: format!("{}: {path}", name.display()),
                    size: data.len() as u64,
                    limit: MAX_METADATA,
                });
            }
            out.metadata.insert(path, data);
            continue;
        }
        if is_legacy_metadata(&path) {
            continue;
        }
        let size = entry.header().size().ctx("read archive", name)?;
        let digest = ingest_entry(store, &mut entry, &path, size, name)?;
        out.files.insert(path, (digest, size));
    }
    Ok(out)
}

/// The archive path a link points to: `..` may climb inside the archive
/// (docker-archive links `<id>/layer.tar` to `../<other>.tar`) but not out.
fn resolve_link(base: &str, target: &str, archive: &Path) -> Result<String> {
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(Error::InvalidArchive {
                        path: archive.to_owned(),
                        problem: format!("link to {target:?} leaves the archive"),
                    });
                }
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// `<id>/json` and `<id>/VERSION` of docker-archive's legacy v1 layout.
fn is_legacy_metadata(path: &str) -> bool {
    matches!(path.rsplit_once('/'), Some((dir, "json" | "VERSION")) if !dir.contains('/'))
}

/// Stores one file; a file named `blobs/<alg>/<hex>` must hash to that.
fn ingest_entry(
    store: &ContentStore,
    entry: &mut impl Read,
    path: &str,
    size: u64,
    name: &Path,
) -> Result<Digest> {
    if let Some(rest) = path.strip_prefix("blobs/")
        && let Some((alg, hex)) = rest.split_once('/')
    {
        let digest = parse_digest(&format!("{alg}:{hex}"))?;
        let Some(mut writer) = store.begin(&digest, Some(size))? else {
            return Ok(digest);
        };
        io::copy(entry, &mut writer).ctx("read archive", name)?;
        return writer.commit();
    }
    let mut writer = store.begin_unknown()?;
    io::copy(entry, &mut writer).ctx("read archive", name)?;
    writer.commit()
}

/// Serves the blobs an archive put into the store while it streamed.
struct StoreSource<'a> {
    store: &'a ContentStore,
    archive: &'a Path,
}

impl BlobSource for StoreSource<'_> {
    fn open_blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
        match self.store.open_blob(desc.digest()) {
            Ok(f) => Ok(Box::new(f)),
            Err(Error::BlobNotFound { .. })
                if crate::manifest::is_non_distributable(desc.media_type().as_ref()) =>
            {
                Err(Error::ForeignLayerMissing {
                    digest: desc.digest().to_string(),
                    urls: desc
                        .urls()
                        .as_ref()
                        .map(|u| u.join(", "))
                        .unwrap_or_default(),
                })
            }
            Err(Error::BlobNotFound { .. }) => Err(Error::InvalidArchive {
                path: self.archive.to_owned(),
                problem: format!(
                    "blob {} is referenced but not in the archive",
                    desc.digest()
                ),
            }),
            Err(e) => Err(e),
        }
    }
}
