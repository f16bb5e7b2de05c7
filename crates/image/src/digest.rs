//! Digests: parsing with the algorithms brig can verify, and hashing.

use std::io::{self, Read, Write};

pub use oci_spec::image::{Digest, DigestAlgorithm};
use sha2::Digest as _;

use crate::error::{Error, Result};

/// Parses `alg:hex` and refuses algorithms brig cannot verify, so every
/// accepted digest also names a safe path component (`blobs/<alg>/<hex>`).
pub fn parse_digest(value: &str) -> Result<Digest> {
    let digest: Digest =
        value
            .parse()
            .map_err(|e: oci_spec::OciSpecError| Error::InvalidDigest {
                value: value.to_owned(),
                reason: e.to_string(),
            })?;
    check_supported(&digest)?;
    Ok(digest)
}

/// Refuses digests whose algorithm brig cannot compute.
pub fn check_supported(digest: &Digest) -> Result<()> {
    match digest.algorithm() {
        DigestAlgorithm::Sha256 | DigestAlgorithm::Sha384 | DigestAlgorithm::Sha512 => Ok(()),
        other => Err(Error::UnsupportedDigestAlgorithm {
            algorithm: other.to_string(),
        }),
    }
}

/// The hex part of a digest, e.g. for `blobs/sha256/<hex>` file names.
pub fn hex_of(digest: &Digest) -> &str {
    digest.digest()
}

/// An incremental hash for one of the supported algorithms.
#[derive(Clone)]
pub enum Hasher {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.algorithm().as_ref())
    }
}

impl Hasher {
    /// A hasher for `algorithm`, or an error if brig cannot compute it.
    pub fn new(algorithm: &DigestAlgorithm) -> Result<Self> {
        match algorithm {
            DigestAlgorithm::Sha256 => Ok(Hasher::Sha256(sha2::Sha256::new())),
            DigestAlgorithm::Sha384 => Ok(Hasher::Sha384(sha2::Sha384::new())),
            DigestAlgorithm::Sha512 => Ok(Hasher::Sha512(sha2::Sha512::new())),
            other => Err(Error::UnsupportedDigestAlgorithm {
                algorithm: other.to_string(),
            }),
        }
    }

    /// A SHA-256 hasher (the default algorithm for everything brig writes).
    pub fn sha256() -> Self {
        Hasher::Sha256(sha2::Sha256::new())
    }

    pub fn algorithm(&self) -> DigestAlgorithm {
        match self {
            Hasher::Sha256(_) => DigestAlgorithm::Sha256,
            Hasher::Sha384(_) => DigestAlgorithm::Sha384,
            Hasher::Sha512(_) => DigestAlgorithm::Sha512,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// The digest of everything hashed so far.
    pub fn finish(self) -> Digest {
        let (alg, hex) = match self {
            Hasher::Sha256(h) => ("sha256", hex::encode(h.finalize())),
            Hasher::Sha384(h) => ("sha384", hex::encode(h.finalize())),
            Hasher::Sha512(h) => ("sha512", hex::encode(h.finalize())),
        };
        // A lowercase hex string of the right length always parses.
        Digest::try_from(format!("{alg}:{hex}")).expect("hex digest of a supported algorithm")
    }
}

/// The SHA-256 digest of `data`.
pub fn sha256_of(data: &[u8]) -> Digest {
    let mut h = Hasher::sha256();
    h.update(data);
    h.finish()
}

/// A reader that hashes and counts everything read through it.
#[derive(Debug)]
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R, hasher: Hasher) -> Self {
        HashingReader {
            inner,
            hasher,
            count: 0,
        }
    }

    /// Bytes read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The digest and byte count of everything read.
    pub fn finish(self) -> (Digest, u64) {
        (self.hasher.finish(), self.count)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A writer that hashes and counts everything written through it.
#[derive(Debug)]
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W, hasher: Hasher) -> Self {
        HashingWriter {
            inner,
            hasher,
            count: 0,
        }
    }

    /// The inner writer, digest and byte count of everything written.
    pub fn finish(self) -> (W, Digest, u64) {
        (self.inner, self.hasher.finish(), self.count)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_is_the_well_known_value() {
        assert_eq!(
            sha256_of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn unsupported_and_malformed_digests_are_refused() {
        assert!(matches!(
            parse_digest("md5:abc"),
            Err(Error::UnsupportedDigestAlgorithm { .. })
        ));
        assert!(matches!(
            parse_digest("sha256:../../etc/passwd"),
            Err(Error::InvalidDigest { .. })
        ));
        assert!(matches!(
            parse_digest("sha256:ABCDEF"),
            Err(Error::InvalidDigest { .. })
        ));
        let sha512 = format!("sha512:{}", "a".repeat(128));
        assert_eq!(parse_digest(&sha512).unwrap().to_string(), sha512);
    }

    #[test]
    fn sha512_hasher_names_its_algorithm() {
        let mut h = Hasher::new(&DigestAlgorithm::Sha512).unwrap();
        h.update(b"abc");
        let d = h.finish();
        assert_eq!(d.algorithm(), &DigestAlgorithm::Sha512);
        assert!(d.digest().starts_with("ddaf35a193617aba"));
    }
}
