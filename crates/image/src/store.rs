//! The image store: blobs plus image records, resolution of names and IDs,
//! tagging, removal and garbage collection.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use oci_spec::image::{Descriptor, History, ImageConfiguration, ImageManifest};

use crate::content::{ContentStore, Provider};
use crate::db::{ImageDb, ImageRecord, LayerRecord, NewImage};
use crate::digest::{Digest, parse_digest};
use crate::error::{Error, IoContext, Result};
use crate::manifest::{
    ConfigSummary, MAX_CONFIG_SIZE, MAX_MANIFEST_SIZE, Manifest, chain_ids, is_non_distributable,
    layer_compression, parse_manifest,
};
use crate::reference::Reference;

/// Blobs and image records under one root directory, with the records in
/// the SQLite database the caller names (normally `<root>/brig.db`).
#[derive(Debug)]
pub struct ImageStore {
    root: PathBuf,
    content: ContentStore,
    db: ImageDb,
}

/// Held while blobs are written and recorded, so garbage collection (which
/// takes it exclusively) never deletes a blob an ongoing load relies on.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

/// What [`ImageStore::remove`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RemoveReport {
    /// Names removed, canonical form.
    pub untagged: Vec<String>,
    /// Images deleted (by ID).
    pub deleted: Vec<Digest>,
    /// Blobs freed and their bytes on disk.
    pub gc: GcReport,
}

/// What a garbage collection freed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    pub blobs_removed: usize,
    pub bytes_freed: u64,
    /// True when another process was loading images, so the blob sweep was
    /// left for the next collection.
    pub deferred: bool,
}

impl GcReport {
    fn add(&mut self, other: GcReport) {
        self.blobs_removed += other.blobs_removed;
        self.bytes_freed += other.bytes_freed;
        self.deferred |= other.deferred;
    }
}

impl ImageStore {
    /// Opens (creating if needed) the store at `root` with records in `db_path`.
    pub fn open(root: &Path, db_path: &Path) -> Result<Self> {
        fs::create_dir_all(root).ctx("create directory", root)?;
        Ok(ImageStore {
            root: root.to_owned(),
            content: ContentStore::open(root)?,
            db: ImageDb::open(db_path)?,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn content(&self) -> &ContentStore {
        &self.content
    }

    pub fn db(&self) -> &ImageDb {
        &self.db
    }

    fn lock_file(&self) -> Result<File> {
        let path = self.root.join("image.lock");
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .ctx("open lock file", &path)
    }

    /// Takes the store lock shared; hold it from writing blobs until their
    /// image is recorded.
    pub fn lock_shared(&self) -> Result<StoreLock> {
        let file = self.lock_file()?;
        file.lock_shared()
            .ctx("lock", self.root.join("image.lock"))?;
        Ok(StoreLock { _file: file })
    }

    /// Takes the store lock exclusively if no load or pull holds it (for
    /// collecting garbage that depends on image records, e.g. layers).
    pub fn try_lock_exclusive(&self) -> Result<Option<StoreLock>> {
        let file = self.lock_file()?;
        Ok(file.try_lock().is_ok().then_some(StoreLock { _file: file }))
    }

    /// Records the image whose manifest (already in the content store) is
    /// `manifest`, under `names`. Verifies that config and layers are
    /// present with the sizes the manifest gives.
    pub fn commit_image(
        &self,
        manifest: &Descriptor,
        index_digest: Option<&Digest>,
        names: &[Reference],
    ) -> Result<ImageRecord> {
        let digest = manifest.digest();
        let bytes = self.content.read_blob(digest, MAX_MANIFEST_SIZE)?;
        let Manifest::Image {
            manifest: m,
            media_type,
        } = parse_manifest(&bytes, Some(manifest.media_type().as_ref()), digest)?
        else {
            return Err(Error::UnsupportedMediaType {
                what: format!("image {digest}"),
                media_type: "an index where an image manifest was expected".to_owned(),
            });
        };
        let config_desc = m.config();
        self.check_blob(config_desc)?;
        let config_bytes = self
            .content
            .read_blob(config_desc.digest(), MAX_CONFIG_SIZE)?;
        let config = ConfigSummary::parse(&config_bytes, config_desc.digest())?;
        let diff_ids = config.diff_ids()?;
        if diff_ids.len() != m.layers().len() {
            return Err(Error::LayerCountMismatch {
                image: digest.to_string(),
                layers: m.layers().len(),
                diff_ids: diff_ids.len(),
            });
        }
        let chains = chain_ids(&diff_ids);
        let mut layers = Vec::new();
        let mut blobs = vec![digest.clone(), config_desc.digest().clone()];
        let mut size = config_desc.size();
        for (i, l) in m.layers().iter().enumerate() {
            layer_compression(l.media_type().as_ref())?;
            self.check_blob(l)?;
            size += l.size();
            blobs.push(l.digest().clone());
            layers.push(LayerRecord {
                blob_digest: l.digest().clone(),
                media_type: l.media_type().to_string(),
                blob_size: l.size(),
                diff_id: diff_ids[i].clone(),
                chain_id: chains[i].clone(),
            });
        }
        if let Some(index) = index_digest {
            blobs.push(index.clone());
        }
        let record = ImageRecord {
            id: config_desc.digest().clone(),
            manifest_digest: digest.clone(),
            manifest_media_type: media_type,
            index_digest: index_digest.cloned(),
            created: config.created.clone(),
            size,
            os: config.os.clone(),
            architecture: config.architecture.clone(),
            added_at: now(),
            names: names.iter().map(canonical_name).collect(),
        };
        self.db.put_image(&NewImage {
            record: record.clone(),
            blobs,
            layers,
        })?;
        self.db.image(&record.id)?.ok_or(Error::ImageNotFound {
            reference: record.id.to_string(),
        })
    }

    fn check_blob(&self, desc: &Descriptor) -> Result<()> {
        match self.content.blob_size(desc.digest())? {
            Some(size) if size == desc.size() => Ok(()),
            Some(size) => Err(Error::SizeMismatch {
                digest: desc.digest().to_string(),
                expected: desc.size(),
                actual: size,
            }),
            None if is_non_distributable(desc.media_type().as_ref()) => {
                Err(Error::ForeignLayerMissing {
                    digest: desc.digest().to_string(),
                    urls: desc
                        .urls()
                        .as_ref()
                        .map(|u| u.join(", "))
                        .unwrap_or_default(),
                })
            }
            None => Err(Error::BlobNotFound {
                digest: desc.digest().to_string(),
            }),
        }
    }

    /// Every image, oldest first.
    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        self.db.images()
    }

    /// Finds an image by name (`busybox`, `repo:tag`, `repo@digest`), by
    /// full ID (`sha256:...`) or by a unique ID prefix, as Docker does.
    pub fn resolve(&self, name_or_id: &str) -> Result<ImageRecord> {
        if let Ok(reference) = Reference::parse(name_or_id)
            && let Some(found) = self.find_by_reference(&reference)?
        {
            return Ok(found);
        }
        let hex = name_or_id.strip_prefix("sha256:").unwrap_or(name_or_id);
        if !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut found = self.db.images_by_id_prefix(&hex.to_ascii_lowercase())?;
            match found.len() {
                0 => {}
                1 => return Ok(found.remove(0)),
                count => {
                    return Err(Error::AmbiguousImage {
                        reference: name_or_id.to_owned(),
                        count,
                    });
                }
            }
        }
        Err(Error::ImageNotFound {
            reference: name_or_id.to_owned(),
        })
    }

    /// The image a parsed reference names, if any.
    pub fn find_by_reference(&self, reference: &Reference) -> Result<Option<ImageRecord>> {
        if let Some(found) = self.db.image_by_name(&canonical_name(reference))? {
            return Ok(Some(found));
        }
        let Some(digest) = reference.digest() else {
            return Ok(None);
        };
        // A digest pins content: any image of the same repository whose
        // manifest or index has it qualifies.
        let repo = reference.repository();
        let mut candidates = self.db.images_by_manifest(digest)?;
        candidates.retain(|r| r.names.iter().any(|n| repository_of(n) == repo));
        Ok(candidates.pop())
    }

    /// Adds the name `target` to the image `source` names.
    pub fn tag(&self, source: &str, target: &Reference) -> Result<ImageRecord> {
        let image = self.resolve(source)?;
        self.db.add_name(&canonical_name(target), &image.id)?;
        self.resolve(image.id.as_ref())
    }

    /// Removes an image as `docker rmi` does: a name of an image with other
    /// names is only untagged; the last name or the ID deletes the image and
    /// frees blobs nothing else references. `users_of` returns the
    /// containers using an image; in use, removal needs `force`, and then
    /// only removes the names.
    pub fn remove(
        &self,
        name_or_id: &str,
        force: bool,
        users_of: impl Fn(&ImageRecord) -> Vec<String>,
    ) -> Result<RemoveReport> {
        let image = self.resolve(name_or_id)?;
        let by_name = Reference::parse(name_or_id)
            .ok()
            .map(|r| canonical_name(&r))
            .filter(|n| image.names.contains(n));
        let mut report = RemoveReport::default();
        if let Some(name) = &by_name
            && image.names.len() > 1
        {
            self.db.remove_name(name)?;
            report.untagged.push(name.clone());
            return Ok(report);
        }
        if by_name.is_none() && image.repo_tags().count() > 1 && !force {
            return Err(Error::ImageHasNames {
                image: image.id.to_string(),
                names: image.names.join(", "),
            });
        }
        let users = users_of(&image);
        if !users.is_empty() && !force {
            return Err(Error::ImageInUse {
                image: image.id.to_string(),
                users: users.join(", "),
            });
        }
        for name in &image.names {
            self.db.remove_name(name)?;
            report.untagged.push(name.clone());
        }
        if users.is_empty() {
            self.db.delete_image(&image.id)?;
            report.deleted.push(image.id.clone());
            report.gc = self.collect_garbage(false)?;
        }
        Ok(report)
    }

    /// `image prune`: deletes images without names, or with `all` every
    /// image no container uses (`in_use` holds the IDs containers use).
    pub fn prune(&self, all: bool, in_use: &HashSet<Digest>) -> Result<RemoveReport> {
        let mut report = RemoveReport::default();
        for image in self.db.images()? {
            if in_use.contains(&image.id) || (!all && !image.names.is_empty()) {
                continue;
            }
            for name in &image.names {
                report.untagged.push(name.clone());
            }
            self.db.delete_image(&image.id)?;
            report.deleted.push(image.id);
        }
        report.gc.add(self.collect_garbage(true)?);
        Ok(report)
    }

    /// Deletes every blob no image record holds, and abandoned temporary
    /// files. Waits for loads in progress to finish.
    pub fn gc(&self) -> Result<GcReport> {
        self.collect_garbage(true)
    }

    pub(crate) fn collect_garbage(&self, wait: bool) -> Result<GcReport> {
        let file = self.lock_file()?;
        if wait {
            file.lock().ctx("lock", self.root.join("image.lock"))?;
        } else if file.try_lock().is_err() {
            return Ok(GcReport {
                deferred: true,
                ..GcReport::default()
            });
        }
        let keep = self.db.referenced_blobs()?;
        let mut report = GcReport::default();
        for blob in self.content.list_blobs()? {
            if !keep.contains(blob.as_ref()) {
                report.bytes_freed += self.content.delete_blob(&blob)?;
                report.blobs_removed += 1;
            }
        }
        report.bytes_freed += self.content.clean_ingest(false)?;
        Ok(report)
    }

    /// The image's manifest.
    pub fn manifest(&self, image: &ImageRecord) -> Result<ImageManifest> {
        let bytes = self
            .content
            .read_blob(&image.manifest_digest, MAX_MANIFEST_SIZE)?;
        match parse_manifest(
            &bytes,
            Some(&image.manifest_media_type),
            &image.manifest_digest,
        )? {
            Manifest::Image { manifest, .. } => Ok(*manifest),
            Manifest::Index { .. } => Err(Error::UnsupportedMediaType {
                what: format!("manifest {}", image.manifest_digest),
                media_type: image.manifest_media_type.clone(),
            }),
        }
    }

    /// The image's config, byte for byte (its digest is the image ID).
    pub fn config_bytes(&self, image: &ImageRecord) -> Result<Vec<u8>> {
        self.content.read_blob(&image.id, MAX_CONFIG_SIZE)
    }

    /// The image's config as OCI types (Docker-only fields such as
    /// `Healthcheck` are in [`config_bytes`](Self::config_bytes)).
    pub fn config(&self, image: &ImageRecord) -> Result<ImageConfiguration> {
        let bytes = self.config_bytes(image)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::json(format!("image config {}", image.id), e))
    }

    /// The image's history entries, oldest first (`brig history`).
    pub fn history(&self, image: &ImageRecord) -> Result<Vec<History>> {
        Ok(self.config(image)?.history().clone().unwrap_or_default())
    }

    /// The image's layers, base first, with diff and chain IDs.
    pub fn layers(&self, image: &ImageRecord) -> Result<Vec<LayerRecord>> {
        self.db.layers(&image.id)
    }

    /// Chain IDs of every layer some image uses (for layer GC).
    pub fn referenced_chain_ids(&self) -> Result<HashSet<Digest>> {
        self.db
            .referenced_chain_ids()?
            .iter()
            .map(|s| parse_digest(s))
            .collect()
    }
}

/// The name under which a reference is stored: `repo:tag`, or `repo@digest`
/// when it has a digest (the digest wins, as in Docker).
pub fn canonical_name(reference: &Reference) -> String {
    match reference.digest() {
        Some(d) => format!("{}@{d}", reference.repository()),
        None => reference.to_string(),
    }
}

/// `repo` of a canonical `repo:tag` or `repo@digest` name.
fn repository_of(name: &str) -> &str {
    match name.split_once('@') {
        Some((repo, _)) => repo,
        None => match name.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => repo,
            _ => name,
        },
    }
}

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
