//! The unpack pipeline for one layer blob: a decoder thread reads the blob,
//! decompresses it and hashes the uncompressed bytes (the diff ID) while the
//! calling thread writes files, so inflate and file system work overlap.

use std::io::{self, Read};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use brig_image::digest::Hasher;
use brig_image::manifest::decompress;
use brig_image::{Compression, Digest};

use crate::apply::{ApplyOptions, ApplyStats, apply_layer};
use crate::error::{Error, Result};

const CHUNK: usize = 1 << 20;
const CHUNKS_IN_FLIGHT: usize = 4;

type Chunk = io::Result<(Vec<u8>, usize)>;

/// Applies the layer blob `blob` into `dest` and returns what was applied
/// with the digest of the uncompressed stream.
pub fn unpack_blob(
    blob: impl Read + Send,
    compression: Compression,
    dest: &Path,
    opts: &ApplyOptions,
) -> Result<(ApplyStats, Digest)> {
    let (tx, rx) = sync_channel::<Chunk>(CHUNKS_IN_FLIGHT);
    let (recycle_tx, recycle_rx) = sync_channel::<Vec<u8>>(CHUNKS_IN_FLIGHT + 2);
    std::thread::scope(|s| {
        let decoder = s.spawn(move || decode(blob, compression, tx, recycle_rx));
        let mut reader = ChunkReader {
            rx,
            recycle: recycle_tx,
            current: Vec::new(),
            len: 0,
            pos: 0,
        };
        let applied = apply_layer(&mut reader, dest, opts);
        // Read what follows the end-of-archive marker too: the diff ID
        // covers the whole stream.
        let drained = applied
            .as_ref()
            .ok()
            .map(|_| io::copy(&mut reader, &mut io::sink()));
        drop(reader);
        let digest = decoder
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("layer decoder thread panicked")));
        let stats = applied?;
        if let Some(Err(source)) = drained {
            return Err(Error::BadStream { source });
        }
        let digest = digest.map_err(|source| Error::BadStream { source })?;
        Ok((stats, digest))
    })
}

/// The decoder thread: blob -> decompress -> hash -> chunks.
fn decode(
    blob: impl Read + Send,
    compression: Compression,
    tx: SyncSender<Chunk>,
    recycle: Receiver<Vec<u8>>,
) -> io::Result<Digest> {
    let mut hasher = Hasher::sha256();
    let mut input = decompress(compression, io::BufReader::with_capacity(CHUNK, blob))?;
    loop {
        let mut buf = recycle.try_recv().unwrap_or_else(|_| vec![0u8; CHUNK]);
        let n = match fill(&mut input, &mut buf) {
            Ok(n) => n,
            Err(e) => {
                let kind = e.kind();
                let _ = tx.send(Err(io::Error::new(kind, e.to_string())));
                return Err(e);
            }
        };
        if n == 0 {
            return Ok(hasher.finish());
        }
        hasher.update(&buf[..n]);
        if tx.send(Ok((buf, n))).is_err() {
            // The writer stopped (it failed); its error is reported.
            return Err(io::Error::other("layer writer stopped"));
        }
    }
}

fn fill(src: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads the chunks the decoder sends, handing buffers back for reuse.
struct ChunkReader {
    rx: Receiver<Chunk>,
    recycle: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    len: usize,
    pos: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            let used = std::mem::take(&mut self.current);
            if !used.is_empty() {
                let _ = self.recycle.try_send(used);
            }
            match self.rx.recv() {
                Ok(Ok((chunk, len))) => {
                    self.current = chunk;
                    self.len = len;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.len - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
