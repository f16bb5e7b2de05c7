//! `logs [-f] [--tail N] [--since T] [--until T]`.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use crate::engine::Engine;
use crate::error::{IoContext, Result};
use crate::logs::{self, LogEntry};

/// What `logs` shows.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// Keep printing new entries until the container stops.
    pub follow: bool,
    /// Only the last N entries.
    pub tail: Option<usize>,
    /// Only entries at or after this time (Unix ns).
    pub since: Option<i64>,
    /// Only entries before this time (Unix ns).
    pub until: Option<i64>,
}

const FOLLOW_POLL: Duration = Duration::from_millis(100);

fn entry_time(e: &LogEntry) -> i64 {
    crate::time::parse_rfc3339(&e.time).unwrap_or(0)
}

impl Engine {
    /// Passes each entry to `sink`; a sink error (a closed pipe) ends quietly.
    pub fn logs(
        &self,
        reference: &str,
        opts: &LogOptions,
        sink: &mut dyn FnMut(&LogEntry) -> std::io::Result<()>,
    ) -> Result<()> {
        let rec = self.find(reference)?;
        let path = self.ctx.paths.log(&rec.id);
        let keep = |e: &LogEntry| {
            let t = entry_time(e);
            opts.since.is_none_or(|s| t >= s) && opts.until.is_none_or(|u| t < u)
        };
        let mut entries: Vec<LogEntry> = logs::files(&path)
            .iter()
            .flat_map(|f| logs::read_entries(f))
            .filter(keep)
            .collect();
        if let Some(n) = opts.tail {
            let skip = entries.len().saturating_sub(n);
            entries.drain(..skip);
        }
        for e in &entries {
            if sink(e).is_err() {
                return Ok(());
            }
        }
        if !opts.follow {
            return Ok(());
        }
        self.follow(&rec.id, &path, &keep, sink)
    }

    fn follow(
        &self,
        id: &str,
        path: &std::path::Path,
        keep: &dyn Fn(&LogEntry) -> bool,
        sink: &mut dyn FnMut(&LogEntry) -> std::io::Result<()>,
    ) -> Result<()> {
        let meta = std::fs::metadata(path).ok();
        let mut inode = meta.as_ref().map(|m| m.ino());
        let mut offset = meta.map_or(0, |m| m.len());
        let mut pending = Vec::new();
        loop {
            let running = self
                .ctx
                .db
                .container(id)?
                .is_some_and(|r| r.state.has_monitor());
            if let Ok(meta) = std::fs::metadata(path) {
                if Some(meta.ino()) != inode || meta.len() < offset {
                    // Rotated: the new file starts from the beginning.
                    inode = Some(meta.ino());
                    offset = 0;
                    pending.clear();
                }
                if meta.len() > offset {
                    let mut f = std::fs::File::open(path).ctx("open", path)?;
                    f.seek(SeekFrom::Start(offset)).ctx("seek", path)?;
                    let mut chunk = Vec::new();
                    f.take(meta.len() - offset)
                        .read_to_end(&mut chunk)
                        .ctx("read", path)?;
                    offset += chunk.len() as u64;
                    pending.extend_from_slice(&chunk);
                    while let Some(nl) = pending.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = pending.drain(..=nl).collect();
                        if let Ok(e) = serde_json::from_slice::<LogEntry>(&line)
                            && keep(&e)
                            && sink(&e).is_err()
                        {
                            return Ok(());
                        }
                    }
                    continue;
                }
            }
            if !running {
                return Ok(());
            }
            std::thread::sleep(FOLLOW_POLL);
        }
    }
}
