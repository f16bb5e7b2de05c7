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
use crate::layers::LayerStore;

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
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 4)
        .min(count);
    let queue = Mutex::new(0..count);
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let streamed = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                    let Some(i) = next else { break };
                    match layer(images, layers, &pending, &chains, i, progress) {
                        Ok(true) => {
                            streamed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        Ok(false) => {}
                        Err(e) => {
                            failure
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .get_or_insert(e);
                            break;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(Pulled {
        image: pending.finish()?,
        chain_ids: chains,
        streamed: streamed.into_inner(),
    })
}

/// Downloads layer `i` and unpacks it at the same time; true when the
/// streamed unpack was used.
fn layer(
    images: &ImageStore,
    layers: &LayerStore,
    pending: &PendingPull<'_>,
    chains: &[Digest],
    i: usize,
    progress: &dyn Progress,
) -> Result<bool> {
    let desc = &pending.layers()[i];
    let (chain, diff) = (&chains[i], &pending.diff_ids()[i]);
    if layers.contains(chain) {
        pending.fetch_layer(i, progress, None)?;
        return Ok(false);
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
            layers.unpack_from(chain, diff, &open, compression)
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
    if let Ok(crate::Unpacked::Fresh(_)) = streamed {
        return Ok(true);
    }
    if streamed.is_ok() {
        return Ok(false);
    }
    // The stream was cut or bad; the stored blob is verified: use it.
    let open = || {
        images
            .content()
            .open_blob(&desc.digest().clone())
            .map_err(Error::from)
    };
    layers
        .unpack(chain, diff, &open, compression)
        .map(|_| false)
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
