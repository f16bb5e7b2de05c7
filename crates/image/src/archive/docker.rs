//! docker-archive: `manifest.json` lists, per image, a config file, the
//! image's names and its layer files. There are no manifest blobs, so brig
//! writes an OCI manifest for each image it loads; the config is kept byte
//! for byte, so the image ID stays the one `docker images` shows.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use oci_spec::image::Descriptor;
use serde::{Deserialize, Serialize};

use super::LoadedImage;
use super::stream::StreamContents;
use crate::content::Provider;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest::{
    Compression, ConfigSummary, MAX_CONFIG_SIZE, media_types as mt, oci_layer_type,
    sniff_compression,
};
use crate::reference::Reference;
use crate::store::ImageStore;

/// One entry of a docker-archive's `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DockerManifestEntry {
    pub config: String,
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    pub layers: Vec<String>,
    /// Descriptors of foreign layers not included in the archive, by diff ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_sources: Option<HashMap<String, Descriptor>>,
}

pub(super) fn load_entry(
    store: &ImageStore,
    contents: &StreamContents,
    entry: &DockerManifestEntry,
    archive: &Path,
) -> Result<LoadedImage> {
    let missing = |what: &str, path: &str| Error::InvalidArchive {
        path: archive.to_owned(),
        problem: format!("{what} {path:?} named in manifest.json is not in the archive"),
    };
    let (config_digest, config_size) = contents
        .blob(&entry.config)
        .ok_or_else(|| missing("config", &entry.config))?
        .clone();
    check_name_matches(&entry.config, &config_digest)?;
    let config_bytes = store.content().read_blob(&config_digest, MAX_CONFIG_SIZE)?;
    let diff_ids = ConfigSummary::parse(&config_bytes, &config_digest)?.diff_ids()?;
    if diff_ids.len() != entry.layers.len() {
        return Err(Error::LayerCountMismatch {
            image: format!("{} in {}", entry.config, archive.display()),
            layers: entry.layers.len(),
            diff_ids: diff_ids.len(),
        });
    }
    let mut layers = Vec::new();
    for (i, path) in entry.layers.iter().enumerate() {
        let desc = match contents.blob(path) {
            Some((digest, size)) => {
                let compression = blob_compression(store, digest)?;
                if compression == Compression::None && *digest != diff_ids[i] {
                    return Err(Error::DiffIdMismatch {
                        image: config_digest.to_string(),
                        index: i,
                        digest: digest.to_string(),
                        expected: diff_ids[i].to_string(),
                        actual: digest.to_string(),
                    });
                }
                serde_json::json!({"mediaType": oci_layer_type(compression), "digest": digest.to_string(), "size": size})
            }
            None => {
                let foreign = entry
                    .layer_sources
                    .as_ref()
                    .and_then(|s| s.get(diff_ids[i].as_ref()))
                    .ok_or_else(|| missing("layer", path))?;
                serde_json::to_value(foreign).map_err(|e| Error::json("LayerSources", e))?
            }
        };
        layers.push(desc);
    }
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": mt::OCI_MANIFEST,
        "config": {"mediaType": mt::OCI_CONFIG, "digest": config_digest.to_string(), "size": config_size},
        "layers": layers,
    }))
    .map_err(|e| Error::json("generated manifest", e))?;
    let manifest_digest = store.content().put_bytes(&manifest, None)?;
    let desc: Descriptor = serde_json::from_value(serde_json::json!({
        "mediaType": mt::OCI_MANIFEST, "digest": manifest_digest.to_string(), "size": manifest.len(),
    }))
    .map_err(|e| Error::json("generated descriptor", e))?;
    let raw: Vec<String> = entry.repo_tags.clone().unwrap_or_default();
    let names: Vec<Reference> = raw
        .iter()
        .map(|t| Reference::parse(t))
        .collect::<Result<_>>()?;
    let record = store.commit_image(&desc, None, &names)?;
    Ok(LoadedImage {
        record,
        source_names: raw,
    })
}

/// A file named `<64 hex>.json` or `<64 hex>.tar` must hash to that hex.
fn check_name_matches(path: &str, digest: &Digest) -> Result<()> {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.strip_suffix(".json").unwrap_or(file);
    if stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit()) && stem != digest.digest() {
        return Err(Error::DigestMismatch {
            expected: format!("sha256:{stem}"),
            actual: digest.to_string(),
        });
    }
    Ok(())
}

fn blob_compression(store: &ImageStore, digest: &Digest) -> Result<Compression> {
    let mut head = [0u8; 8];
    let mut file = store.content().open_blob(digest)?;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(Error::io("read blob", digest.to_string(), e)),
        }
    }
    Ok(sniff_compression(&head[..n]))
}
