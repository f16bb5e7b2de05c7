//! The distribution API's endpoints: manifests, blobs, uploads, mounts.

use std::path::Path;

use ureq::Body;
use ureq::http::{self, Method, Response, StatusCode};

use super::client::{RegistryClient, ReqBody, pull_scope, push_scope};
use crate::error::{Error, Result};
use crate::manifest::{MAX_MANIFEST_SIZE, media_types as mt};

impl RegistryClient {
    /// `GET /v2/`: checks that the registry answers and accepts the credentials.
    pub fn ping(&self) -> Result<()> {
        let mut resp = self.request(Method::GET, "/v2/", &[], ReqBody::Empty, "", "GET /v2/")?;
        if resp.status().is_success() {
            return Ok(());
        }
        Err(self.status_error(&mut resp, "GET /v2/"))
    }

    /// Fetches a manifest by tag or digest: its bytes and media type.
    pub fn get_manifest(&self, repo: &str, reference: &str) -> Result<(Vec<u8>, Option<String>)> {
        let accept = [
            mt::OCI_INDEX,
            mt::OCI_MANIFEST,
            mt::DOCKER_MANIFEST_LIST,
            mt::DOCKER_MANIFEST,
        ]
        .join(", ");
        let what = format!("GET manifest {repo}:{reference}");
        let path = format!("/v2/{repo}/manifests/{reference}");
        let mut resp = self.request(
            Method::GET,
            &path,
            &[("Accept", accept)],
            ReqBody::Empty,
            &pull_scope(repo),
            &what,
        )?;
        if !resp.status().is_success() {
            return Err(self.status_error(&mut resp, &what));
        }
        let content_type = resp
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(';').next().unwrap_or(s).trim().to_owned());
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_MANIFEST_SIZE)
            .read_to_vec()
            .map_err(|e| Error::RegistryUnreachable {
                registry: self.registry().to_owned(),
                reason: format!("{what}: {e}"),
            })?;
        Ok((bytes, content_type))
    }

    /// Uploads a manifest under a tag or digest.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<()> {
        let what = format!("PUT manifest {repo}:{reference}");
        let path = format!("/v2/{repo}/manifests/{reference}");
        let mut resp = self.request(
            Method::PUT,
            &path,
            &[],
            ReqBody::Bytes(bytes, media_type),
            &push_scope(repo, None),
            &what,
        )?;
        if resp.status().is_success() {
            return Ok(());
        }
        Err(self.status_error(&mut resp, &what))
    }

    /// Whether the repository has the blob.
    pub fn blob_exists(&self, repo: &str, digest: &str, scope: &str) -> Result<bool> {
        let what = format!("HEAD blob {repo}@{digest}");
        let mut resp = self.request(
            Method::HEAD,
            &format!("/v2/{repo}/blobs/{digest}"),
            &[],
            ReqBody::Empty,
            scope,
            &what,
        )?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.status_error(&mut resp, &what)),
        }
    }

    /// Starts a blob download at `offset`. Returns the response and whether
    /// it honours the offset (206); a 200 restarts from the first byte.
    pub fn get_blob(
        &self,
        repo: &str,
        digest: &str,
        offset: u64,
    ) -> Result<(Response<Body>, bool)> {
        let what = format!("GET blob {repo}@{digest}");
        let headers: Vec<(&str, String)> = if offset > 0 {
            vec![("Range", format!("bytes={offset}-"))]
        } else {
            vec![]
        };
        let mut resp = self.request(
            Method::GET,
            &format!("/v2/{repo}/blobs/{digest}"),
            &headers,
            ReqBody::Empty,
            &pull_scope(repo),
            &what,
        )?;
        match resp.status() {
            StatusCode::PARTIAL_CONTENT if offset > 0 => Ok((resp, true)),
            StatusCode::OK => Ok((resp, false)),
            _ => Err(self.status_error(&mut resp, &what)),
        }
    }

    /// Downloads from a non-distributable layer's URL.
    pub fn get_url(&self, url: &str) -> Result<Response<Body>> {
        let mut resp = self.request(
            Method::GET,
            url,
            &[],
            ReqBody::Empty,
            "",
            &format!("GET {url}"),
        )?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(self.status_error(&mut resp, &format!("GET {url}")))
    }

    /// Asks the registry to mount `digest` from repository `from`. `None`
    /// means mounted; otherwise the upload URL it opened instead.
    pub fn mount_blob(&self, repo: &str, digest: &str, from: &str) -> Result<Option<String>> {
        let what = format!("mount blob {digest} from {from} into {repo}");
        let path = format!("/v2/{repo}/blobs/uploads/?mount={digest}&from={from}");
        let mut resp = self.request(
            Method::POST,
            &path,
            &[],
            ReqBody::Empty,
            &push_scope(repo, Some(from)),
            &what,
        )?;
        match resp.status() {
            StatusCode::CREATED => Ok(None),
            StatusCode::ACCEPTED => Ok(Some(self.location(&resp, &what)?)),
            _ => Err(self.status_error(&mut resp, &what)),
        }
    }

    /// Opens an upload session; returns its URL.
    pub fn start_upload(&self, repo: &str) -> Result<String> {
        let what = format!("start upload to {repo}");
        let mut resp = self.request(
            Method::POST,
            &format!("/v2/{repo}/blobs/uploads/"),
            &[],
            ReqBody::Empty,
            &push_scope(repo, None),
            &what,
        )?;
        if resp.status() == StatusCode::ACCEPTED {
            return self.location(&resp, &what);
        }
        Err(self.status_error(&mut resp, &what))
    }

    /// Uploads a whole blob file to an upload session (monolithic PUT).
    pub fn finish_upload(
        &self,
        repo: &str,
        location: &str,
        digest: &str,
        file: &Path,
    ) -> Result<()> {
        let what = format!("upload blob {digest} to {repo}");
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{sep}digest={digest}");
        let mut resp = self.request(
            Method::PUT,
            &url,
            &[],
            ReqBody::File(file),
            &push_scope(repo, None),
            &what,
        )?;
        if resp.status() == StatusCode::CREATED || resp.status().is_success() {
            return Ok(());
        }
        Err(self.status_error(&mut resp, &what))
    }

    pub(crate) fn location(&self, resp: &Response<Body>, what: &str) -> Result<String> {
        let loc = resp
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::Registry {
                registry: self.registry().to_owned(),
                what: what.to_owned(),
                status: resp.status().as_u16(),
                message: "no Location header in the answer".to_owned(),
            })?;
        Ok(self.url(loc))
    }
}
