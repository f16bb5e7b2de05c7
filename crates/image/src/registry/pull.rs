//! `pull`: manifest (by tag or pinned digest) -> platform -> config and
//! layers, several at once, each download resumed after interruptions and
//! verified before it is stored.

use std::io::{self, Read};

use oci_spec::image::Descriptor;

use super::client::{RegistryClient, RegistryOptions};
use crate::content::{ContentStore, Ingester};
use crate::db::ImageRecord;
use crate::digest::{Digest, Hasher};
use crate::error::{Error, Result};
use crate::fetch::{BlobSource, fetch_image};
use crate::manifest::{is_manifest_type, is_non_distributable, parse_manifest};
use crate::progress::{BlobStatus, Progress, ProgressReader};
use crate::reference::Reference;
use crate::store::ImageStore;

/// Blobs of one repository of a registry.
struct RegistrySource<'a> {
    client: &'a RegistryClient,
    repo: &'a str,
}

impl BlobSource for RegistrySource<'_> {
    fn open_blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
        let digest = desc.digest().to_string();
        if is_manifest_type(desc.media_type().as_ref()) {
            let (bytes, _) = self.client.get_manifest(self.repo, &digest)?;
            return Ok(Box::new(io::Cursor::new(bytes)));
        }
        let (resp, _) = self.client.get_blob(self.repo, &digest, 0)?;
        Ok(Box::new(resp.into_body().into_reader()))
    }

    fn copy_blob(
        &self,
        store: &ContentStore,
        desc: &Descriptor,
        progress: &dyn Progress,
    ) -> Result<()> {
        let digest = desc.digest();
        progress.start(digest, "layer", desc.size());
        let mut attempt = 0;
        loop {
            match self.try_download(store, desc, progress) {
                Ok(status) => {
                    progress.finish(digest, status);
                    return Ok(());
                }
                // An interrupted body: keep what arrived, ask for the rest.
                Err(e @ Error::Io { .. }) | Err(e @ Error::RegistryUnreachable { .. })
                    if attempt < self.client.retries() =>
                {
                    let _ = e;
                    self.client.backoff(attempt);
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl RegistrySource<'_> {
    fn try_download(
        &self,
        store: &ContentStore,
        desc: &Descriptor,
        progress: &dyn Progress,
    ) -> Result<BlobStatus> {
        let digest = desc.digest();
        let Some(mut writer) = store.resume(digest, Some(desc.size()))? else {
            return Ok(BlobStatus::AlreadyPresent);
        };
        let offset = writer.offset();
        let body = match self.client.get_blob(self.repo, digest.as_ref(), offset) {
            Ok((resp, partial)) => {
                if offset > 0 && !partial {
                    // The registry ignored the range: start over.
                    drop(writer);
                    match store.begin(digest, Some(desc.size()))? {
                        Some(w) => writer = w,
                        None => return Ok(BlobStatus::AlreadyPresent),
                    }
                }
                resp.into_body().into_reader()
            }
            Err(Error::Registry { status: 404, .. })
                if is_non_distributable(desc.media_type().as_ref()) =>
            {
                drop(writer);
                return self.download_from_urls(store, desc, progress);
            }
            Err(e) => return Err(e),
        };
        progress.advance(digest, writer.written());
        let mut reader = ProgressReader::new(body, digest, progress);
        io::copy(&mut reader, &mut writer)
            .map_err(|e| Error::io("download blob", digest.to_string(), e))?;
        writer.commit()?;
        Ok(BlobStatus::Done)
    }

    /// Non-distributable layers the registry lacks come from their URLs.
    fn download_from_urls(
        &self,
        store: &ContentStore,
        desc: &Descriptor,
        progress: &dyn Progress,
    ) -> Result<BlobStatus> {
        let digest = desc.digest();
        let urls = desc.urls().clone().unwrap_or_default();
        let mut last = Error::ForeignLayerMissing {
            digest: digest.to_string(),
            urls: urls.join(", "),
        };
        for url in urls
            .iter()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        {
            let Some(mut writer) = store.begin(digest, Some(desc.size()))? else {
                return Ok(BlobStatus::AlreadyPresent);
            };
            let result = self.client.get_url(url).and_then(|resp| {
                let mut reader =
                    ProgressReader::new(resp.into_body().into_reader(), digest, progress);
                io::copy(&mut reader, &mut writer)
                    .map_err(|e| Error::io("download", url.clone(), e))?;
                writer.commit()
            });
            match result {
                Ok(_) => return Ok(BlobStatus::Done),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

impl ImageStore {
    /// Pulls `reference` from its registry and records it under its name
    /// and under `repo@digest`. A reference with a digest pins the content:
    /// the manifest (or index) must hash to it.
    pub fn pull(
        &self,
        reference: &Reference,
        opts: &RegistryOptions,
        progress: &dyn Progress,
    ) -> Result<ImageRecord> {
        let client = RegistryClient::new(reference.domain(), opts)?;
        let repo = reference.path();
        let target = match (reference.digest(), reference.tag()) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_owned(),
            (None, None) => crate::reference::DEFAULT_TAG.to_owned(),
        };
        let (bytes, content_type) = client.get_manifest(repo, &target)?;
        let algorithm = reference
            .digest()
            .map(|d| d.algorithm().clone())
            .unwrap_or(crate::digest::DigestAlgorithm::Sha256);
        let mut hasher = Hasher::new(&algorithm)?;
        hasher.update(&bytes);
        let digest: Digest = hasher.finish();
        if let Some(pinned) = reference.digest()
            && *pinned != digest
        {
            return Err(Error::DigestMismatch {
                expected: pinned.to_string(),
                actual: digest.to_string(),
            });
        }
        let media_type = match parse_manifest(&bytes, content_type.as_deref(), &digest)? {
            crate::manifest::Manifest::Image { media_type, .. }
            | crate::manifest::Manifest::Index { media_type, .. } => media_type,
        };
        let _lock = self.lock_shared()?;
        self.content().put_bytes(&bytes, Some(&digest))?;
        let root: Descriptor = serde_json::from_value(serde_json::json!({
            "mediaType": media_type, "digest": digest.to_string(), "size": bytes.len(),
        }))
        .map_err(|e| Error::json("manifest descriptor", e))?;
        let src = RegistrySource {
            client: &client,
            repo,
        };
        let fetched = fetch_image(&src, self.content(), &root, &opts.platform, progress)?;
        let mut names = vec![reference.with_digest(&digest)];
        if reference.digest().is_none() {
            names.push(reference.clone());
        }
        let index = fetched.index.as_ref().map(|d| d.digest().clone());
        self.commit_image(&fetched.manifest, index.as_ref(), &names)
    }
}
