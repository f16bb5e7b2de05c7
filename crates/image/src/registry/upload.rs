//! Blob uploads (distribution spec, "pushing blobs"): in chunks, each a
//! `PATCH` with `Content-Range`, then a `PUT` with the digest; an upload
//! cut off mid-chunk asks the registry how much it has (`GET` on the upload
//! URL, its `Range` header) and goes on from there, or starts a new upload
//! when the registry dropped the old one (docker-registry does when a
//! chunk arrives short). A registry that does not take chunks gets the
//! blob in one monolithic `PUT`.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use ureq::Body;
use ureq::http::{Method, Response, StatusCode, header};

use super::client::{RegistryClient, ReqBody, push_scope};
use crate::error::{Error, Result};

/// How a chunked upload ended.
enum Chunked {
    Done,
    /// The registry refused the first chunk: it wants monolithic uploads.
    Refused,
}

impl RegistryClient {
    /// Uploads the blob file `file` (`size` bytes) to the upload session at
    /// `location`: chunked when it is larger than one chunk, else (or when
    /// the registry refuses chunks) in one `PUT`.
    pub fn upload_blob(
        &self,
        repo: &str,
        location: &str,
        digest: &str,
        file: &Path,
        size: u64,
    ) -> Result<()> {
        let chunk = self.chunk_size();
        if chunk == 0 || size <= chunk {
            return self.finish_upload(repo, location, digest, file);
        }
        match self.upload_chunks(repo, location, digest, file, size, chunk)? {
            Chunked::Done => Ok(()),
            Chunked::Refused => {
                let fresh = self.start_upload(repo)?;
                self.finish_upload(repo, &fresh, digest, file)
            }
        }
    }

    fn upload_chunks(
        &self,
        repo: &str,
        location: &str,
        digest: &str,
        path: &Path,
        size: u64,
        chunk: u64,
    ) -> Result<Chunked> {
        let what = format!("upload blob {digest} to {repo}");
        let io_err = |e| Error::io("read blob for upload", path.display().to_string(), e);
        let mut file = File::open(path).map_err(io_err)?;
        let mut buf = vec![0u8; chunk as usize];
        let mut location = location.to_owned();
        let mut offset = 0u64;
        let mut resumes = 0;
        while offset < size {
            let n = chunk.min(size - offset) as usize;
            file.seek(SeekFrom::Start(offset)).map_err(io_err)?;
            file.read_exact(&mut buf[..n]).map_err(io_err)?;
            let range = format!("{offset}-{}", offset + n as u64 - 1);
            let sent = self.request(
                Method::PATCH,
                &location,
                &[("Content-Range", range)],
                ReqBody::Bytes(&buf[..n], "application/octet-stream"),
                &push_scope(repo, None),
                &what,
            );
            match sent {
                Ok(resp) if resp.status() == StatusCode::ACCEPTED => {
                    location = self.location(&resp, &what)?;
                    offset = acknowledged(&resp).unwrap_or(offset + n as u64);
                }
                Ok(resp) if offset == 0 && refuses_chunks(resp.status()) => {
                    return Ok(Chunked::Refused);
                }
                Ok(resp) if resp.status() == StatusCode::NOT_FOUND && resumes < self.retries() => {
                    resumes += 1;
                    (location, offset) = (self.start_upload(repo)?, 0);
                }
                Ok(resp)
                    if resp.status() == StatusCode::RANGE_NOT_SATISFIABLE
                        && resumes < self.retries() =>
                {
                    resumes += 1;
                    (location, offset) = self.resume_point(&location, repo, &what)?;
                }
                Ok(mut resp) => return Err(self.status_error(&mut resp, &what)),
                Err(Error::RegistryUnreachable { .. }) if resumes < self.retries() => {
                    resumes += 1;
                    self.backoff(resumes);
                    (location, offset) = self.resume_point(&location, repo, &what)?;
                }
                Err(e) => return Err(e),
            }
        }
        self.close_upload(repo, &location, digest, &what)?;
        Ok(Chunked::Done)
    }

    /// Where to go on after an interruption: where the upload stands, or
    /// a new upload from the first byte when the registry dropped it.
    fn resume_point(&self, location: &str, repo: &str, what: &str) -> Result<(String, u64)> {
        match self.upload_status(location, repo, what) {
            Err(Error::Registry { status: 404, .. }) => Ok((self.start_upload(repo)?, 0)),
            other => other,
        }
    }

    /// Where an upload stands: its URL and the next byte it wants.
    fn upload_status(&self, location: &str, repo: &str, what: &str) -> Result<(String, u64)> {
        let mut resp = self.request(
            Method::GET,
            location,
            &[],
            ReqBody::Empty,
            &push_scope(repo, None),
            what,
        )?;
        if resp.status() != StatusCode::NO_CONTENT && !resp.status().is_success() {
            return Err(self.status_error(&mut resp, &format!("{what}: upload status")));
        }
        let next = acknowledged(&resp).unwrap_or(0);
        let location = self
            .location(&resp, what)
            .unwrap_or_else(|_| location.to_owned());
        Ok((location, next))
    }

    /// The final `PUT ?digest=` with no body, after the last chunk.
    fn close_upload(&self, repo: &str, location: &str, digest: &str, what: &str) -> Result<()> {
        let sep = if location.contains('?') { '&' } else { '?' };
        let mut resp = self.request(
            Method::PUT,
            &format!("{location}{sep}digest={digest}"),
            &[],
            ReqBody::Empty,
            &push_scope(repo, None),
            what,
        )?;
        if resp.status().is_success() {
            return Ok(());
        }
        Err(self.status_error(&mut resp, what))
    }
}

/// The next byte after the `Range: 0-N` an upload answer acknowledges.
fn acknowledged(resp: &Response<Body>) -> Option<u64> {
    let range = resp.headers().get(header::RANGE)?.to_str().ok()?;
    parse_upload_range(range)
}

/// `0-1023` (or `bytes=0-1023`) -> 1024; `0-0` with nothing sent is how
/// some registries say "empty", which the next chunk's 416 corrects.
fn parse_upload_range(range: &str) -> Option<u64> {
    let range = range.trim().trim_start_matches("bytes=");
    let (_, end) = range.split_once('-')?;
    end.trim().parse::<u64>().ok().map(|e| e + 1)
}

/// Answers to a first `PATCH` that mean "no chunked uploads here".
fn refuses_chunks(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::METHOD_NOT_ALLOWED
            | StatusCode::NOT_IMPLEMENTED
            | StatusCode::BAD_REQUEST
            | StatusCode::RANGE_NOT_SATISFIABLE
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_ranges_name_the_next_byte() {
        assert_eq!(parse_upload_range("0-1023"), Some(1024));
        assert_eq!(parse_upload_range("bytes=0-4"), Some(5));
        assert_eq!(parse_upload_range("nonsense"), None);
    }
}
