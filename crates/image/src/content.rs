//! The content-addressed blob store, split like containerd's into a read side
//! ([`Provider`]) and a write side ([`Ingester`]).
//!
//! Layout under the store's root:
//! - `blobs/<alg>/<hex>`: committed blobs, each verified against its digest
//!   (and size, when known) before it was renamed into place;
//! - `ingest/<alg>-<hex>`: a partial download of a known digest, locked by
//!   its writer with `flock`, kept when a resumable writer is dropped;
//! - `ingest/tmp-<random>`: a blob whose digest is learnt while writing.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::digest::{Digest, Hasher, check_supported, hex_of};
use crate::error::{Error, IoContext, Result};

/// Reads committed blobs.
pub trait Provider {
    /// The size of the blob, or `None` when the store does not have it.
    fn blob_size(&self, digest: &Digest) -> Result<Option<u64>>;

    /// Opens the blob for reading.
    fn open_blob(&self, digest: &Digest) -> Result<File>;

    /// Reads a small blob (a manifest, index or config) into memory,
    /// refusing blobs larger than `limit` bytes.
    fn read_blob(&self, digest: &Digest, limit: u64) -> Result<Vec<u8>> {
        let file = self.open_blob(digest)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        if size > limit {
            return Err(Error::TooLarge {
                what: format!("blob {digest}"),
                size,
                limit,
            });
        }
        let mut data = Vec::with_capacity(size as usize);
        file.take(limit)
            .read_to_end(&mut data)
            .map_err(|e| Error::io("read blob", digest.to_string(), e))?;
        Ok(data)
    }
}

/// Writes blobs. Nothing becomes visible through [`Provider`] before
/// [`BlobWriter::commit`] has verified it.
pub trait Ingester {
    /// Starts writing the blob `digest` (of `size` bytes when known) from its
    /// first byte. Returns `None` when the store already has it.
    fn begin(&self, digest: &Digest, size: Option<u64>) -> Result<Option<BlobWriter>>;

    /// Like [`Ingester::begin`], but continues a partial write left by an
    /// earlier, interrupted writer: [`BlobWriter::offset`] says how many bytes
    /// are already there, and they are kept if this writer is dropped too.
    fn resume(&self, digest: &Digest, size: Option<u64>) -> Result<Option<BlobWriter>>;

    /// Starts a blob whose digest is computed while it is written (imports,
    /// archives without digests). [`BlobWriter::commit`] returns the digest.
    fn begin_unknown(&self) -> Result<BlobWriter>;
}

/// The on-disk content store.
#[derive(Debug, Clone)]
pub struct ContentStore {
    root: PathBuf,
}

impl ContentStore {
    /// Opens (creating if needed) the store under `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for dir in ["blobs", "ingest"] {
            let path = root.join(dir);
            fs::create_dir_all(&path).ctx("create directory", &path)?;
        }
        Ok(ContentStore { root })
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path a committed blob has (whether or not it exists).
    pub fn blob_path(&self, digest: &Digest) -> Result<PathBuf> {
        check_supported(digest)?;
        Ok(self
            .root
            .join("blobs")
            .join(digest.algorithm().as_ref())
            .join(hex_of(digest)))
    }

    /// Writes a small in-memory blob and returns its digest. When `expected`
    /// is given the bytes must match it.
    pub fn put_bytes(&self, data: &[u8], expected: Option<&Digest>) -> Result<Digest> {
        let writer = match expected {
            Some(digest) => match self.begin(digest, Some(data.len() as u64))? {
                Some(w) => w,
                None => return Ok(digest.clone()),
            },
            None => self.begin_unknown()?,
        };
        let mut writer = writer;
        writer
            .write_all(data)
            .map_err(|e| Error::io("write blob", &writer.temp_path, e))?;
        writer.commit()
    }

    /// Removes a committed blob; returns the bytes freed (0 if absent).
    pub fn delete_blob(&self, digest: &Digest) -> Result<u64> {
        let path = self.blob_path(digest)?;
        let size = match fs::symlink_metadata(&path) {
            Ok(m) => m.blocks() * 512,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::io("inspect blob", path, e)),
        };
        match fs::remove_file(&path) {
            Ok(()) => Ok(size),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(Error::io("remove blob", path, e)),
        }
    }

    /// Every committed blob. File names that are not valid digests are
    /// skipped (they cannot have been written by this store).
    pub fn list_blobs(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        let blobs = self.root.join("blobs");
        for alg in fs::read_dir(&blobs).ctx("list", &blobs)? {
            let alg = alg.ctx("list", &blobs)?;
            let alg_name = alg.file_name().to_string_lossy().into_owned();
            let dir = alg.path();
            for entry in fs::read_dir(&dir).ctx("list", &dir)? {
                let entry = entry.ctx("list", &dir)?;
                let name = format!("{alg_name}:{}", entry.file_name().to_string_lossy());
                if let Ok(d) = crate::digest::parse_digest(&name) {
                    out.push(d);
                }
            }
        }
        Ok(out)
    }

    /// Removes abandoned temporary files in `ingest/` that nobody holds
    /// locked. Partial downloads of known digests are kept unless
    /// `include_partial` is set (they let a later pull resume).
    pub fn clean_ingest(&self, include_partial: bool) -> Result<u64> {
        let dir = self.root.join("ingest");
        let mut freed = 0;
        for entry in fs::read_dir(&dir).ctx("list", &dir)? {
            let entry = entry.ctx("list", &dir)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !include_partial && !name.starts_with("tmp-") {
                continue;
            }
            let path = entry.path();
            let Ok(file) = File::open(&path) else {
                continue;
            };
            // A writer holds its file locked; skip those that are in use.
            if file.try_lock().is_err() {
                continue;
            }
            freed += file.metadata().map(|m| m.blocks() * 512).unwrap_or(0);
            let _ = fs::remove_file(&path);
        }
        Ok(freed)
    }

    fn start(
        &self,
        digest: &Digest,
        size: Option<u64>,
        resume: bool,
    ) -> Result<Option<BlobWriter>> {
        let final_path = self.blob_path(digest)?;
        if final_path.exists() {
            return Ok(None);
        }
        let temp_path =
            self.root
                .join("ingest")
                .join(format!("{}-{}", digest.algorithm(), hex_of(digest)));
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&temp_path)
                .ctx("create", &temp_path)?;
            // Another process writing the same blob holds the lock: wait for
            // it, then the blob is usually there.
            file.lock().ctx("lock", &temp_path)?;
            if final_path.exists() {
                return Ok(None);
            }
            let same_file = match fs::metadata(&temp_path) {
                Ok(m) => file.metadata().map(|f| f.ino() == m.ino()).unwrap_or(false),
                Err(_) => false,
            };
            if !same_file {
                continue; // The previous holder renamed or removed it; start over.
            }
            return BlobWriter::open(file, temp_path, final_path, digest, size, resume).map(Some);
        }
    }
}

impl Provider for ContentStore {
    fn blob_size(&self, digest: &Digest) -> Result<Option<u64>> {
        let path = self.blob_path(digest)?;
        match fs::metadata(&path) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("inspect blob", path, e)),
        }
    }

    fn open_blob(&self, digest: &Digest) -> Result<File> {
        let path = self.blob_path(digest)?;
        File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::BlobNotFound {
                digest: digest.to_string(),
            },
            _ => Error::io("open blob", path, e),
        })
    }
}

impl Ingester for ContentStore {
    fn begin(&self, digest: &Digest, size: Option<u64>) -> Result<Option<BlobWriter>> {
        self.start(digest, size, false)
    }

    fn resume(&self, digest: &Digest, size: Option<u64>) -> Result<Option<BlobWriter>> {
        self.start(digest, size, true)
    }

    fn begin_unknown(&self) -> Result<BlobWriter> {
        let dir = self.root.join("ingest");
        let temp = tempfile::Builder::new()
            .prefix("tmp-")
            .tempfile_in(&dir)
            .ctx("create temporary file in", &dir)?;
        let (file, path) = temp.keep().map_err(|e| Error::io("keep", &dir, e.error))?;
        file.lock().ctx("lock", &path)?;
        Ok(BlobWriter {
            file: BufWriter::with_capacity(1 << 20, file),
            temp_path: path,
            blobs_dir: self.root.join("blobs"),
            expected: None,
            size: None,
            hasher: Hasher::sha256(),
            written: 0,
            offset: 0,
            keep_on_drop: false,
            done: false,
        })
    }
}

/// A blob being written: hashes as it goes, verifies on [`commit`](Self::commit).
#[derive(Debug)]
pub struct BlobWriter {
    file: BufWriter<File>,
    temp_path: PathBuf,
    blobs_dir: PathBuf,
    expected: Option<Digest>,
    size: Option<u64>,
    hasher: Hasher,
    written: u64,
    offset: u64,
    keep_on_drop: bool,
    done: bool,
}

impl BlobWriter {
    fn open(
        mut file: File,
        temp_path: PathBuf,
        final_path: PathBuf,
        digest: &Digest,
        size: Option<u64>,
        resume: bool,
    ) -> Result<Self> {
        let mut hasher = Hasher::new(digest.algorithm())?;
        let mut offset = 0;
        if resume {
            // Re-hash what an earlier writer left, so the digest covers it.
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = file.read(&mut buf).ctx("read partial blob", &temp_path)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                offset += n as u64;
            }
            if size.is_some_and(|s| offset > s) {
                file.set_len(0).ctx("truncate", &temp_path)?;
                hasher = Hasher::new(digest.algorithm())?;
                offset = 0;
            }
        } else {
            file.set_len(0).ctx("truncate", &temp_path)?;
        }
        use std::io::Seek;
        file.seek(io::SeekFrom::Start(offset))
            .ctx("seek", &temp_path)?;
        let blobs_dir = final_path
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        Ok(BlobWriter {
            file: BufWriter::with_capacity(1 << 20, file),
            temp_path,
            blobs_dir,
            expected: Some(digest.clone()),
            size,
            hasher,
            written: offset,
            offset,
            keep_on_drop: resume,
            done: false,
        })
    }

    /// Bytes that were already present when this writer started (resume).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes in the blob so far, including [`offset`](Self::offset).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The digest this writer expects, if it was started with one.
    pub fn expected(&self) -> Option<&Digest> {
        self.expected.as_ref()
    }

    /// Verifies size and digest, syncs the data and renames the blob into
    /// place. On a mismatch the partial data is removed and the error names
    /// the expected and the actual digest.
    pub fn commit(self) -> Result<Digest> {
        self.commit_new().map(|(digest, _)| digest)
    }

    /// Like [`commit`](Self::commit), and also says whether the blob is new
    /// (false when another writer placed the same content first).
    pub fn commit_new(mut self) -> Result<(Digest, bool)> {
        self.done = true;
        let result = self.verify_and_place();
        if !matches!(result, Ok((_, true))) {
            let _ = fs::remove_file(&self.temp_path);
        }
        result
    }

    fn verify_and_place(&mut self) -> Result<(Digest, bool)> {
        self.file.flush().ctx("write", &self.temp_path)?;
        let hasher = std::mem::replace(&mut self.hasher, Hasher::sha256());
        let actual = hasher.finish();
        if let Some(expected) = &self.expected {
            if let Some(size) = self.size
                && size != self.written
            {
                return Err(Error::SizeMismatch {
                    digest: expected.to_string(),
                    expected: size,
                    actual: self.written,
                });
            }
            if *expected != actual {
                return Err(Error::DigestMismatch {
                    expected: expected.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        let dir = self.blobs_dir.join(actual.algorithm().as_ref());
        let final_path = dir.join(hex_of(&actual));
        if final_path.exists() {
            return Ok((actual, false));
        }
        self.file
            .get_ref()
            .sync_all()
            .ctx("sync", &self.temp_path)?;
        fs::create_dir_all(&dir).ctx("create directory", &dir)?;
        fs::rename(&self.temp_path, &final_path).ctx("rename blob into", &final_path)?;
        // The rename itself must survive a crash too.
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .ctx("sync directory", &dir)?;
        Ok((actual, true))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let (Some(size), Some(digest)) = (self.size, &self.expected)
            && self.written + buf.len() as u64 > size
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("blob {digest} is longer than the {size} bytes its descriptor says"),
            ));
        }
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if self.keep_on_drop {
            let _ = self.file.flush();
        } else {
            let _ = fs::remove_file(&self.temp_path);
        }
    }
}
