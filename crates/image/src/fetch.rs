//! Copying an image graph (index -> manifest -> config and layers) from a
//! source into the content store, verifying every blob. Used for OCI layout
//! directories and registries alike.

use std::io::{self, Read};
use std::sync::Mutex;

use oci_spec::image::{Descriptor, ImageManifest};

use crate::content::{ContentStore, Ingester, Provider};
use crate::error::{Error, Result};
use crate::manifest::{
    MAX_CONFIG_SIZE, MAX_MANIFEST_SIZE, Manifest, PlatformSpec, parse_manifest, select_manifest,
};
use crate::progress::{BlobStatus, Progress, ProgressReader};

/// Where blobs come from during a copy.
pub trait BlobSource: Sync {
    /// Opens the blob `desc` names, from its first byte.
    fn open_blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send + '_>>;

    /// Copies a (large) blob into the store unless it is there, verifying
    /// it. Sources that can resume or retry override this.
    fn copy_blob(
        &self,
        store: &ContentStore,
        desc: &Descriptor,
        progress: &dyn Progress,
    ) -> Result<()> {
        copy_verified(store, desc, progress, &|| self.open_blob(desc))
    }
}

/// The manifest an image copy ended with, and the index it came from.
#[derive(Debug, Clone)]
pub struct FetchedImage {
    pub manifest: Descriptor,
    pub index: Option<Descriptor>,
}

/// How many layers are copied at once.
const PARALLEL_LAYERS: usize = 3;

/// An image whose manifest and config are in the store; its layers may
/// not be yet.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    pub manifest_desc: Descriptor,
    pub manifest: ImageManifest,
    pub index: Option<Descriptor>,
}

/// Copies the image `root` names (a manifest, or an index from which
/// `platform` is chosen) with its config and layers into `store`.
pub fn fetch_image(
    src: &dyn BlobSource,
    store: &ContentStore,
    root: &Descriptor,
    platform: &PlatformSpec,
    progress: &dyn Progress,
) -> Result<FetchedImage> {
    let resolved = resolve_image(src, store, root, platform)?;
    fetch_layers(src, store, resolved.manifest.layers(), progress)?;
    Ok(FetchedImage {
        manifest: resolved.manifest_desc,
        index: resolved.index,
    })
}

/// Fetches the manifest (choosing from an index) and the config.
pub fn resolve_image(
    src: &dyn BlobSource,
    store: &ContentStore,
    root: &Descriptor,
    platform: &PlatformSpec,
) -> Result<ResolvedImage> {
    let bytes = fetch_small(src, store, root, MAX_MANIFEST_SIZE)?;
    let (manifest_desc, manifest, index) =
        match parse_manifest(&bytes, Some(root.media_type().as_ref()), root.digest())? {
            Manifest::Image { manifest, .. } => (root.clone(), manifest, None),
            Manifest::Index { index, .. } => {
                let chosen = select_manifest(&index, platform, root.digest())?;
                let bytes = fetch_small(src, store, &chosen, MAX_MANIFEST_SIZE)?;
                match parse_manifest(&bytes, Some(chosen.media_type().as_ref()), chosen.digest())? {
                    Manifest::Image { manifest, .. } => (chosen, manifest, Some(root.clone())),
                    Manifest::Index { media_type, .. } => {
                        return Err(Error::UnsupportedMediaType {
                            what: format!(
                                "manifest {} (an index inside an index)",
                                chosen.digest()
                            ),
                            media_type,
                        });
                    }
                }
            }
        };
    fetch_small(src, store, manifest.config(), MAX_CONFIG_SIZE)?;
    Ok(ResolvedImage {
        manifest_desc,
        manifest: *manifest,
        index,
    })
}

/// Fetches a manifest, index or config (or reads it from the store).
pub fn fetch_small(
    src: &dyn BlobSource,
    store: &ContentStore,
    desc: &Descriptor,
    limit: u64,
) -> Result<Vec<u8>> {
    if desc.size() > limit {
        return Err(Error::TooLarge {
            what: format!("blob {}", desc.digest()),
            size: desc.size(),
            limit,
        });
    }
    if store.blob_size(desc.digest())? == Some(desc.size()) {
        return store.read_blob(desc.digest(), limit);
    }
    let mut data = Vec::with_capacity(desc.size() as usize);
    src.open_blob(desc)?
        .take(desc.size() + 1)
        .read_to_end(&mut data)
        .map_err(|e| Error::io("read blob", desc.digest().to_string(), e))?;
    if data.len() as u64 != desc.size() {
        return Err(Error::SizeMismatch {
            digest: desc.digest().to_string(),
            expected: desc.size(),
            actual: data.len() as u64,
        });
    }
    store.put_bytes(&data, Some(desc.digest()))?;
    Ok(data)
}

/// Copies layers, a few at a time; the first error wins.
pub fn fetch_layers(
    src: &dyn BlobSource,
    store: &ContentStore,
    layers: &[Descriptor],
    progress: &dyn Progress,
) -> Result<()> {
    let queue = Mutex::new(layers.iter());
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..PARALLEL_LAYERS.min(layers.len()) {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                    let Some(desc) = next else { break };
                    if first_error
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .is_some()
                    {
                        break;
                    }
                    if let Err(e) = src.copy_blob(store, desc, progress) {
                        first_error
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get_or_insert(e);
                    }
                }
            });
        }
    });
    match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Opens a blob's content.
pub type OpenBlob<'a> = dyn Fn() -> Result<Box<dyn Read + Send + 'a>> + 'a;

/// Copies one blob unless the store has it, verifying digest and size.
pub fn copy_verified(
    store: &ContentStore,
    desc: &Descriptor,
    progress: &dyn Progress,
    open: &OpenBlob<'_>,
) -> Result<()> {
    let digest = desc.digest();
    progress.start(digest, "layer", desc.size());
    let Some(mut writer) = store.begin(digest, Some(desc.size()))? else {
        progress.finish(digest, BlobStatus::AlreadyPresent);
        return Ok(());
    };
    let mut reader = ProgressReader::new(open()?, digest, progress);
    io::copy(&mut reader, &mut writer)
        .map_err(|e| Error::io("copy blob", digest.to_string(), e))?;
    writer.commit()?;
    progress.finish(digest, BlobStatus::Done);
    Ok(())
}
