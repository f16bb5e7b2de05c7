//! Pull and unpack at once: each layer is unpacked while it downloads (the
//! download hands its bytes to the unpacker through a channel), and several
//! layers go at once. The unpacked layer is accepted only if its content
//! hashes to the diff ID the (verified) config names; if the download is
//! interrupted or the streamed unpack fails for any reason, the layer is
//! unpacked again from the stored, verified blob.

use std::io::{self, Read};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use brig_image::manifest::layer_compression;
use brig_image::registry::{BlobTee, PendingPull};
use brig_image::{Digest, ImageRecord, ImageStore, Progress, Provider, Reference, RegistryOptions};

use crate::error::{Error, Result};
use crate::layers::{LayerStore, Staged};
use crate::parallel::run_parallel;

/// Chunks in flight between a download and its unpacker.
const CHUNKS_IN_FLIGHT: usize = 16;

type Chunk = io::Result<Vec<u8>>;

/// What [`pull_and_unpack`] produced.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub image: ImageRecord,
    /// Chain IDs, base first: what [`crate::Snapshotter::prepare`] takes.
    pub chain_ids: Vec<Digest>,
    /// Layers unpacked while they downloaded (the others were already
    /// unpacked, or were unpacked from the stored blob afterwards).
    pub streamed: usize,
}

/// Pulls `reference` into `images` and unpacks it into `layers`, ready for
/// a snapshot.
pub fn pull_and_unpack(
    images: &ImageStore,
    layers: &LayerStore,
    reference: &Reference,
    opts: &RegistryOptions,
    progress: &dyn Progress,
) -> Result<Pulled> {
    let pending = images.pull_start(reference, opts)?;
    let chains = pending.chain_ids();
    let count = pending.layers().len();
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 4);
    let done = run_parallel((0..count).collect(), workers, |i| {
        layer(images, layers, &pending, &chains, i, progress)
    })?;
    let streamed = done.iter().filter(|(streamed, _)| *streamed).count();
    layers.publish(done.into_iter().filter_map(|(_, staged)| staged).collect())?;
    Ok(Pulled {
        image: pending.finish()?,
        chain_ids: chains,
        streamed,
    })
}

/// Downloads layer `i` and unpacks it at the same time (staged, published
/// with the others); true when the streamed unpack was used.
fn layer(
    images: &ImageStore,
    layers: &LayerStore,
    pending: &PendingPull<'_>,
    chains: &[Digest],
    i: usize,
    progress: &dyn Progress,
) -> Result<(bool, Option<Staged>)> {
    let desc = &pending.layers()[i];
    let (chain, diff) = (&chains[i], &pending.diff_ids()[i]);
    if layers.contains(chain) {
        pending.fetch_layer(i, progress, None)?;
        return Ok((false, None));
    }
    let compression = layer_compression(desc.media_type().as_ref())?;
    let (tx, rx) = sync_channel::<Chunk>(CHUNKS_IN_FLIGHT);
    let mut tee = ChannelTee { tx: Some(tx) };
    let streamed = std::thread::scope(|s| {
        let rx = Mutex::new(Some(rx));
        let unpacker = s.spawn(move || {
            let open = || {
                let rx = rx.lock().unwrap_or_else(|p| p.into_inner()).take();
                let rx = rx.ok_or_else(|| {
                    Error::io("stream", "layer download", io::ErrorKind::BrokenPipe)
                })?;
                Ok(Box::new(ChannelReader::new(rx)) as Box<dyn Read + Send>)
            };
            layers.stage(chain, diff, &open, compression)
        });
        let fetched = pending.fetch_layer(i, progress, Some(&mut tee));
        tee.tx = None; // End of stream for the unpacker.
        let unpacked = unpacker.join().unwrap_or_else(|_| {
            Err(Error::io(
                "unpack",
                "layer",
                io::Error::other("unpacker panicked"),
            ))
        });
        fetched.map(|_| unpacked)
    })?;
    match streamed {
        Ok(Some(layer)) => return Ok((true, Some(layer))),
        Ok(None) => return Ok((false, None)),
        Err(_) => {}
    }
    // The stream was cut or bad; the stored blob is verified: use it.
    let open = || {
        let file = images.content().open_blob(&desc.digest().clone())?;
        Ok(Box::new(file) as Box<dyn Read + Send>)
    };
    layers
        .stage(chain, diff, &open, compression)
        .map(|layer| (false, layer))
}

/// Sends a download's bytes to the unpacker.
struct ChannelTee {
    tx: Option<SyncSender<Chunk>>,
}

impl BlobTee for ChannelTee {
    fn data(&mut self, bytes: &[u8]) -> bool {
        let sent = self
            .tx
            .as_ref()
            .is_some_and(|tx| tx.send(Ok(bytes.to_vec())).is_ok());
        if !sent {
            self.tx = None;
        }
        sent
    }

    fn abort(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "layer download interrupted",
            )));
        }
    }
}

/// Reads what a [`ChannelTee`] sends.
struct ChannelReader {
    rx: Receiver<Chunk>,
    current: Vec<u8>,
    pos: usize,
}

impl ChannelReader {
    fn new(rx: Receiver<Chunk>) -> Self {
        ChannelReader {
            rx,
            current: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
