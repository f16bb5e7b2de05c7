//! `push`: config and layers first (skipping blobs the registry has,
//! mounting those another repository of the same registry has), then the
//! manifest under the tag.

use super::client::{RegistryClient, RegistryOptions, push_scope};
use crate::content::Provider;
use crate::db::ImageRecord;
use crate::digest::Digest;
use crate::error::Result;
use crate::manifest::{MAX_MANIFEST_SIZE, is_non_distributable};
use crate::progress::{BlobStatus, Progress};
use crate::reference::Reference;
use crate::store::{ImageStore, canonical_name};

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushReport {
    /// The digest of the pushed manifest (`repo@digest` pulls it).
    pub manifest_digest: Option<Digest>,
    pub uploaded: Vec<Digest>,
    /// Blobs the registry already had in the target repository.
    pub skipped: Vec<Digest>,
    /// Blobs mounted from another repository of the registry.
    pub mounted: Vec<Digest>,
    /// Non-distributable layers, never pushed (their URLs stay in the manifest).
    pub foreign: Vec<Digest>,
}

impl ImageStore {
    /// Pushes `image` to `target` (a tag or a digest-less reference).
    pub fn push(
        &self,
        image: &ImageRecord,
        target: &Reference,
        opts: &RegistryOptions,
        progress: &dyn Progress,
    ) -> Result<PushReport> {
        let client = RegistryClient::new(target.domain(), opts)?;
        let repo = target.path();
        let mount_from = mount_sources(image, target);
        let mut report = PushReport::default();
        let mut blobs = vec![(image.id.clone(), "application/octet-stream".to_owned())];
        blobs.extend(
            self.layers(image)?
                .into_iter()
                .map(|l| (l.blob_digest, l.media_type)),
        );
        for (digest, media_type) in blobs {
            if is_non_distributable(&media_type) {
                report.foreign.push(digest);
                continue;
            }
            let size = self.content().blob_size(&digest)?.unwrap_or(0);
            progress.start(&digest, "layer", size);
            let status = push_blob(self, &client, repo, &digest, &mount_from, &mut report)?;
            progress.advance(&digest, size);
            progress.finish(&digest, status);
        }
        let manifest = self
            .content()
            .read_blob(&image.manifest_digest, MAX_MANIFEST_SIZE)?;
        let reference = target
            .tag()
            .map(str::to_owned)
            .unwrap_or_else(|| image.manifest_digest.to_string());
        client.put_manifest(repo, &reference, &image.manifest_media_type, &manifest)?;
        self.db().add_name(
            &canonical_name(&target.with_digest(&image.manifest_digest)),
            &image.id,
        )?;
        report.manifest_digest = Some(image.manifest_digest.clone());
        Ok(report)
    }
}

fn push_blob(
    store: &ImageStore,
    client: &RegistryClient,
    repo: &str,
    digest: &Digest,
    mount_from: &[String],
    report: &mut PushReport,
) -> Result<BlobStatus> {
    if client.blob_exists(repo, digest.as_ref(), &push_scope(repo, None))? {
        report.skipped.push(digest.clone());
        return Ok(BlobStatus::AlreadyPresent);
    }
    let mut location = None;
    for from in mount_from {
        match client.mount_blob(repo, digest.as_ref(), from)? {
            None => {
                report.mounted.push(digest.clone());
                return Ok(BlobStatus::AlreadyPresent);
            }
            Some(upload) => location = Some(upload),
        }
    }
    let location = match location {
        Some(l) => l,
        None => client.start_upload(repo)?,
    };
    let path = store.content().blob_path(digest)?;
    let size = store.content().blob_size(digest)?.unwrap_or(0);
    client.upload_blob(repo, &location, digest.as_ref(), &path, size)?;
    report.uploaded.push(digest.clone());
    Ok(BlobStatus::Done)
}

/// Repositories of the same registry the image came from or went to: the
/// registry may mount blobs from them instead of receiving them again.
fn mount_sources(image: &ImageRecord, target: &Reference) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in &image.names {
        let Ok(r) = Reference::parse(name) else {
            continue;
        };
        if r.domain() == target.domain()
            && r.path() != target.path()
            && !out.iter().any(|p| p == r.path())
        {
            out.push(r.path().to_owned());
        }
    }
    out
}
