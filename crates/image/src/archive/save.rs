//! Saving images: OCI layout directory, OCI archive, docker-archive.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::Path;

use super::layout::LAYOUT_VERSION;
use super::{ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, DockerManifestEntry};
use crate::content::Provider;
use crate::db::ImageRecord;
use crate::digest::{Digest, hex_of};
use crate::error::{Error, IoContext, Result};
use crate::manifest::media_types as mt;
use crate::reference::Reference;
use crate::store::ImageStore;

/// The file formats `save` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveFormat {
    /// `manifest.json` + `repositories` + blobs, readable by `docker load`
    /// and `podman load`.
    DockerArchive,
    /// A tar of an OCI image layout.
    OciArchive,
    /// An OCI image layout directory.
    OciDir,
}

impl SaveFormat {
    /// Parses `docker-archive`, `oci-archive` or `oci-dir`.
    pub fn parse(value: &str) -> Result<Self> {
        match value {
            "docker-archive" => Ok(SaveFormat::DockerArchive),
            "oci-archive" => Ok(SaveFormat::OciArchive),
            "oci-dir" => Ok(SaveFormat::OciDir),
            other => Err(Error::InvalidArchive {
                path: other.into(),
                problem: "unknown format: use docker-archive, oci-archive or oci-dir".to_owned(),
            }),
        }
    }
}

/// One image to save and the names to save it under (none when the user
/// named it by ID).
#[derive(Debug, Clone)]
pub struct SaveItem {
    pub image: ImageRecord,
    pub names: Vec<Reference>,
}

/// Where blob files go and what metadata files say, per format.
struct Plan {
    blobs: BTreeSet<(String, u64)>,
    metadata: Vec<(String, Vec<u8>)>,
}

impl ImageStore {
    /// Saves images to `dest`: a new directory for [`SaveFormat::OciDir`],
    /// else a file (written to a temporary name and renamed when complete).
    pub fn save(&self, items: &[SaveItem], format: SaveFormat, dest: &Path) -> Result<()> {
        let plan = self.plan(items, format)?;
        if format == SaveFormat::OciDir {
            return self.write_dir(&plan, dest);
        }
        let dir = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut temp = tempfile::Builder::new()
            .prefix(".brig-save-")
            .tempfile_in(dir)
            .ctx("create temporary file in", dir)?;
        self.write_tar(&plan, temp.as_file_mut(), dest)?;
        temp.as_file().sync_all().ctx("sync", temp.path())?;
        temp.persist(dest)
            .map_err(|e| Error::io("rename archive to", dest, e.error))?;
        Ok(())
    }

    /// Saves images as an archive format to a stream (e.g. stdout).
    pub fn save_to_writer(
        &self,
        items: &[SaveItem],
        format: SaveFormat,
        out: impl Write,
    ) -> Result<()> {
        if format == SaveFormat::OciDir {
            return Err(Error::InvalidArchive {
                path: "<stdout>".into(),
                problem: "an OCI layout directory cannot be written to a stream; use oci-archive"
                    .to_owned(),
            });
        }
        let plan = self.plan(items, format)?;
        self.write_tar(&plan, out, Path::new("<stdout>"))
    }

    fn plan(&self, items: &[SaveItem], format: SaveFormat) -> Result<Plan> {
        let mut blobs = BTreeSet::new();
        let mut metadata = Vec::new();
        match format {
            SaveFormat::OciDir | SaveFormat::OciArchive => {
                let mut descs = Vec::new();
                for item in items {
                    let manifest_size = self
                        .content()
                        .blob_size(&item.image.manifest_digest)?
                        .unwrap_or(0);
                    blobs.insert((item.image.manifest_digest.to_string(), manifest_size));
                    self.add_image_blobs(&item.image, &mut blobs)?;
                    descs.extend(index_entries(item, manifest_size)?);
                }
                let index = serde_json::json!({"schemaVersion": 2, "mediaType": mt::OCI_INDEX, "manifests": descs});
                let marker = format!("{{\"imageLayoutVersion\":\"{LAYOUT_VERSION}\"}}");
                metadata.push(("oci-layout".to_owned(), marker.into_bytes()));
                metadata.push(("index.json".to_owned(), to_json(&index)?));
            }
            SaveFormat::DockerArchive => {
                let mut entries = Vec::new();
                let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
                for item in items {
                    let layers = self.add_image_blobs(&item.image, &mut blobs)?;
                    let top = self
                        .layers(&item.image)?
                        .last()
                        .map(|l| hex_of(&l.chain_id).to_owned());
                    let mut tags = Vec::new();
                    for name in item.names.iter().filter(|n| n.digest().is_none()) {
                        tags.push(name.familiar());
                        if let (Some(tag), Some(top)) = (name.tag(), &top) {
                            let repo = name.familiar();
                            let repo = repo
                                .rsplit_once(':')
                                .map(|(r, _)| r)
                                .unwrap_or(&repo)
                                .to_owned();
                            repositories
                                .entry(repo)
                                .or_default()
                                .insert(tag.to_owned(), top.clone());
                        }
                    }
                    entries.push(DockerManifestEntry {
                        config: blob_path(&item.image.id),
                        repo_tags: Some(tags),
                        layers: layers.iter().map(blob_path).collect(),
                        layer_sources: None,
                    });
                }
                metadata.push(("manifest.json".to_owned(), to_json(&entries)?));
                metadata.push(("repositories".to_owned(), to_json(&repositories)?));
            }
        }
        Ok(Plan { blobs, metadata })
    }

    /// Adds config and layer blobs; returns the layer digests in order.
    fn add_image_blobs(
        &self,
        image: &ImageRecord,
        blobs: &mut BTreeSet<(String, u64)>,
    ) -> Result<Vec<Digest>> {
        let config_size = self.content().blob_size(&image.id)?.unwrap_or(0);
        blobs.insert((image.id.to_string(), config_size));
        let layers = self.layers(image)?;
        for l in &layers {
            blobs.insert((l.blob_digest.to_string(), l.blob_size));
        }
        Ok(layers.into_iter().map(|l| l.blob_digest).collect())
    }

    fn write_dir(&self, plan: &Plan, dest: &Path) -> Result<()> {
        if dest.exists() && fs::read_dir(dest).ctx("list", dest)?.next().is_some() {
            return Err(Error::InvalidArchive {
                path: dest.to_owned(),
                problem: "the directory exists and is not empty; choose a new one".to_owned(),
            });
        }
        for (digest, _) in &plan.blobs {
            let digest = crate::digest::parse_digest(digest)?;
            let dir = dest.join("blobs").join(digest.algorithm().as_ref());
            fs::create_dir_all(&dir).ctx("create directory", &dir)?;
            let from = self.content().blob_path(&digest)?;
            let to = dir.join(hex_of(&digest));
            fs::copy(&from, &to).ctx("copy blob to", &to)?;
        }
        for (name, data) in &plan.metadata {
            let path = dest.join(name);
            fs::write(&path, data).ctx("write", &path)?;
        }
        Ok(())
    }

    fn write_tar(&self, plan: &Plan, out: impl Write, dest: &Path) -> Result<()> {
        let mut tar = tar::Builder::new(out);
        let io = |e| Error::io("write archive", dest, e);
        if plan.blobs.iter().any(|(d, _)| d.starts_with("sha256:")) {
            append_dir(&mut tar, "blobs/").map_err(io)?;
            append_dir(&mut tar, "blobs/sha256/").map_err(io)?;
        }
        for (digest, _) in &plan.blobs {
            let digest = crate::digest::parse_digest(digest)?;
            let mut file = self.content().open_blob(&digest)?;
            let size = file
                .metadata()
                .ctx("inspect blob", digest.to_string())?
                .len();
            let mut header = header(size, tar::EntryType::Regular, 0o644);
            tar.append_data(&mut header, blob_path(&digest), &mut file)
                .map_err(io)?;
        }
        for (name, data) in &plan.metadata {
            let mut header = header(data.len() as u64, tar::EntryType::Regular, 0o644);
            tar.append_data(&mut header, name, data.as_slice())
                .map_err(io)?;
        }
        tar.into_inner().map_err(io)?.flush().map_err(io)
    }
}

/// The index.json entries of one image: one per name, or one without a
/// name.
fn index_entries(item: &SaveItem, manifest_size: u64) -> Result<Vec<serde_json::Value>> {
    let base = serde_json::json!({
        "mediaType": item.image.manifest_media_type,
        "digest": item.image.manifest_digest.to_string(),
        "size": manifest_size,
    });
    let named: Vec<&Reference> = item.names.iter().filter(|n| n.digest().is_none()).collect();
    if named.is_empty() {
        return Ok(vec![base]);
    }
    Ok(named
        .into_iter()
        .map(|name| {
            let mut d = base.clone();
            d["annotations"] = serde_json::json!({
                ANNOTATION_IMAGE_NAME: name.to_string(),
                ANNOTATION_REF_NAME: name.to_string(),
            });
            d
        })
        .collect())
}

fn blob_path(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm(), hex_of(digest))
}

fn to_json(value: &impl serde::Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::json("archive metadata", e))
}

fn header(size: u64, kind: tar::EntryType, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn append_dir<W: Write>(tar: &mut tar::Builder<W>, path: &str) -> std::io::Result<()> {
    let mut h = header(0, tar::EntryType::Directory, 0o755);
    tar.append_data(&mut h, path, std::io::empty())
}
