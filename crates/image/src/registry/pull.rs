//! `pull`: manifest (by tag or pinned digest) -> platform -> config and
//! layers, several at once, each download resumed after interruptions and
//! verified before it is stored.
//!
//! [`PendingPull`] splits the pull in phases so the snapshot side can unpack
//! each layer while it downloads: [`PendingPull::fetch_layer`] hands every
//! byte to a [`BlobTee`] as it is written.

use std::io::{self, Read};

use oci_spec::image::Descriptor;

use super::client::{RegistryClient, RegistryOptions};
use crate::content::{BlobWriter, ContentStore, Ingester, Provider};
use crate::db::ImageRecord;
use crate::digest::{Digest, Hasher};
use crate::error::{Error, Result};
use crate::fetch::{BlobSource, ResolvedImage, fetch_layers, resolve_image};
use crate::manifest::{
    ConfigSummary, MAX_CONFIG_SIZE, chain_ids, is_manifest_type, is_non_distributable,
    parse_manifest,
};
use crate::progress::{BlobStatus, Progress};
use crate::reference::Reference;
use crate::store::{ImageStore, StoreLock};

/// Receives a blob's bytes while it downloads (to unpack it at the same
/// time). The bytes are not verified yet: the receiver must not trust them
/// before the download completes.
pub trait BlobTee: Send {
    /// The next bytes, in order from the blob's first byte. Returns false
    /// to stop receiving.
    fn data(&mut self, bytes: &[u8]) -> bool;
    /// The download was interrupted; what was received is not the blob.
    fn abort(&mut self);
}

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
        self.download(store, desc, progress, None)
    }
}

impl RegistrySource<'_> {
    /// Downloads with retries; an interrupted body is resumed from what
    /// arrived. The tee only sees a download that starts at byte 0 and is
    /// never interrupted.
    fn download(
        &self,
        store: &ContentStore,
        desc: &Descriptor,
        progress: &dyn Progress,
        mut tee: Option<&mut (dyn BlobTee + '_)>,
    ) -> Result<()> {
        let digest = desc.digest();
        progress.start(digest, "layer", desc.size());
        let mut attempt = 0;
        loop {
            let result = self.try_download(store, desc, progress, tee.as_deref_mut());
            if result.is_err()
                && let Some(t) = tee.take()
            {
                t.abort();
            }
            match result {
                Ok(status) => {
                    progress.finish(digest, status);
                    return Ok(());
                }
                Err(Error::Io { .. } | Error::RegistryUnreachable { .. })
                    if attempt < self.client.retries() =>
                {
                    self.client.backoff(attempt);
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn try_download(
        &self,
        store: &ContentStore,
        desc: &Descriptor,
        progress: &dyn Progress,
        tee: Option<&mut (dyn BlobTee + '_)>,
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
        let tee = if writer.written() == 0 { tee } else { None };
        copy_with_tee(body, &mut writer, tee, digest, progress)?;
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
            let result = self
                .client
                .get_url(url)
                .and_then(|resp| {
                    copy_with_tee(
                        resp.into_body().into_reader(),
                        &mut writer,
                        None,
                        digest,
                        progress,
                    )
                })
                .and_then(|_| writer.commit());
            match result {
                Ok(_) => return Ok(BlobStatus::Done),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

fn copy_with_tee<'t>(
    mut body: impl Read,
    writer: &mut BlobWriter,
    mut tee: Option<&mut (dyn BlobTee + 't)>,
    digest: &Digest,
    progress: &dyn Progress,
) -> Result<()> {
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("download blob", digest.to_string(), e)),
        };
        io::Write::write_all(writer, &buf[..n])
            .map_err(|e| Error::io("download blob", digest.to_string(), e))?;
        progress.advance(digest, n as u64);
        if let Some(t) = tee.as_deref_mut()
            && !t.data(&buf[..n])
        {
            tee = None;
        }
    }
}

/// A pull whose manifest and config are fetched; layers come next.
#[derive(Debug)]
pub struct PendingPull<'a> {
    store: &'a ImageStore,
    client: RegistryClient,
    reference: Reference,
    root_digest: Digest,
    resolved: ResolvedImage,
    diff_ids: Vec<Digest>,
    _lock: StoreLock,
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
        let pending = self.pull_start(reference, opts)?;
        pending.fetch_layers(progress)?;
        pending.finish()
    }

    /// The first phase of a pull: manifest (or index and the platform's
    /// manifest) and config, verified and stored.
    pub fn pull_start(
        &self,
        reference: &Reference,
        opts: &RegistryOptions,
    ) -> Result<PendingPull<'_>> {
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
        let lock = self.lock_shared()?;
        self.content().put_bytes(&bytes, Some(&digest))?;
        let root: Descriptor = serde_json::from_value(serde_json::json!({
            "mediaType": media_type, "digest": digest.to_string(), "size": bytes.len(),
        }))
        .map_err(|e| Error::json("manifest descriptor", e))?;
        let src = RegistrySource {
            client: &client,
            repo,
        };
        let resolved = resolve_image(&src, self.content(), &root, &opts.platform)?;
        let config_digest = resolved.manifest.config().digest();
        let config = self.content().read_blob(config_digest, MAX_CONFIG_SIZE)?;
        let diff_ids = ConfigSummary::parse(&config, config_digest)?.diff_ids()?;
        if diff_ids.len() != resolved.manifest.layers().len() {
            return Err(Error::LayerCountMismatch {
                image: resolved.manifest_desc.digest().to_string(),
                layers: resolved.manifest.layers().len(),
                diff_ids: diff_ids.len(),
            });
        }
        Ok(PendingPull {
            store: self,
            client,
            reference: reference.clone(),
            root_digest: digest,
            resolved,
            diff_ids,
            _lock: lock,
        })
    }
}

impl PendingPull<'_> {
    /// The layer descriptors, base first.
    pub fn layers(&self) -> &[Descriptor] {
        self.resolved.manifest.layers()
    }

    /// The layers' diff IDs (from the config), base first.
    pub fn diff_ids(&self) -> &[Digest] {
        &self.diff_ids
    }

    /// The layers' chain IDs, base first.
    pub fn chain_ids(&self) -> Vec<Digest> {
        chain_ids(&self.diff_ids)
    }

    fn source(&self) -> RegistrySource<'_> {
        RegistrySource {
            client: &self.client,
            repo: self.reference.path(),
        }
    }

    /// Downloads layer `index` unless the store has it, giving its bytes to
    /// `tee` as they arrive.
    pub fn fetch_layer(
        &self,
        index: usize,
        progress: &dyn Progress,
        tee: Option<&mut (dyn BlobTee + '_)>,
    ) -> Result<()> {
        let desc = &self.layers()[index];
        self.source()
            .download(self.store.content(), desc, progress, tee)
    }

    /// Downloads every layer, a few at once.
    pub fn fetch_layers(&self, progress: &dyn Progress) -> Result<()> {
        fetch_layers(
            &self.source(),
            self.store.content(),
            self.layers(),
            progress,
        )
    }

    /// Records the image once every layer is stored.
    pub fn finish(self) -> Result<ImageRecord> {
        let mut names = vec![self.reference.with_digest(&self.root_digest)];
        if self.reference.digest().is_none() {
            names.push(self.reference.clone());
        }
        let index = self.resolved.index.as_ref().map(|d| d.digest().clone());
        self.store
            .commit_image(&self.resolved.manifest_desc, index.as_ref(), &names)
    }
}
