//! Progress reporting for blob transfers and layer unpacking. The CLI turns
//! these events into progress bars (on a terminal) or plain lines.

use std::io::{self, Read};

use crate::digest::Digest;

/// How a blob transfer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobStatus {
    /// Copied and verified.
    Done,
    /// The store already had it.
    AlreadyPresent,
}

/// Receives progress events; every method has an empty default.
pub trait Progress: Sync {
    /// A blob of `total` bytes starts; `what` is e.g. "layer" or "config".
    fn start(&self, _digest: &Digest, _what: &str, _total: u64) {}
    /// `bytes` more bytes of the blob were transferred.
    fn advance(&self, _digest: &Digest, _bytes: u64) {}
    /// The blob is finished.
    fn finish(&self, _digest: &Digest, _status: BlobStatus) {}
}

/// Ignores all progress.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// A reader that reports every read as progress of `digest`.
pub struct ProgressReader<'a, R> {
    inner: R,
    digest: &'a Digest,
    progress: &'a dyn Progress,
}

impl<'a, R> ProgressReader<'a, R> {
    pub fn new(inner: R, digest: &'a Digest, progress: &'a dyn Progress) -> Self {
        ProgressReader {
            inner,
            digest,
            progress,
        }
    }
}

impl<R> std::fmt::Debug for ProgressReader<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProgressReader({})", self.digest)
    }
}

impl<R: Read> Read for ProgressReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.progress.advance(self.digest, n as u64);
        }
        Ok(n)
    }
}
