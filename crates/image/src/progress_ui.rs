//! Ready-made [`Progress`] receivers for a command line: one bar per blob
//! on a terminal (bytes, speed, ETA), plain lines otherwise.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::digest::Digest;
use crate::progress::{BlobStatus, NoProgress, Progress};

/// The short ID Docker prints for a blob (12 hex digits).
pub fn short_id(digest: &Digest) -> &str {
    let hex = digest.digest();
    &hex[..hex.len().min(12)]
}

/// Bars on a terminal, lines elsewhere, nothing when `quiet`.
pub fn for_stderr(quiet: bool) -> Box<dyn Progress> {
    if quiet {
        Box::new(NoProgress)
    } else if std::io::stderr().is_terminal() {
        Box::new(BarProgress::new())
    } else {
        Box::new(LineProgress::new(std::io::stderr()))
    }
}

/// One progress bar per blob.
#[derive(Debug)]
pub struct BarProgress {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl BarProgress {
    pub fn new() -> Self {
        BarProgress {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(HashMap::new()),
        }
    }
}

impl Default for BarProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for BarProgress {
    fn start(&self, digest: &Digest, what: &str, total: u64) {
        let style = ProgressStyle::with_template(
            "{prefix:.bold} {msg:10} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        let bar = self.multi.add(ProgressBar::new(total).with_style(style));
        bar.set_prefix(short_id(digest).to_owned());
        bar.set_message(what.to_owned());
        self.bars
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(digest.to_string(), bar);
    }

    fn advance(&self, digest: &Digest, bytes: u64) {
        if let Some(bar) = self
            .bars
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(digest.as_ref())
        {
            bar.inc(bytes);
        }
    }

    fn finish(&self, digest: &Digest, status: BlobStatus) {
        if let Some(bar) = self
            .bars
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(digest.as_ref())
        {
            bar.finish_with_message(match status {
                BlobStatus::Done => "done",
                BlobStatus::AlreadyPresent => "exists",
            });
        }
    }
}

/// A line when a blob starts and when it ends.
#[derive(Debug)]
pub struct LineProgress<W: Write + Send> {
    out: Mutex<W>,
}

impl<W: Write + Send> LineProgress<W> {
    pub fn new(out: W) -> Self {
        LineProgress {
            out: Mutex::new(out),
        }
    }

    pub fn into_inner(self) -> W {
        self.out.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

impl<W: Write + Send> Progress for LineProgress<W> {
    fn start(&self, digest: &Digest, what: &str, total: u64) {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(
            out,
            "{}: {what}, {:.1} MB",
            short_id(digest),
            total as f64 / 1e6
        );
    }

    fn finish(&self, digest: &Digest, status: BlobStatus) {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let word = match status {
            BlobStatus::Done => "done",
            BlobStatus::AlreadyPresent => "already exists",
        };
        let _ = writeln!(out, "{}: {word}", short_id(digest));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::sha256_of;

    #[test]
    fn plain_lines_name_the_short_id() {
        let p = LineProgress::new(Vec::new());
        let d = sha256_of(b"x");
        p.start(&d, "layer", 2_500_000);
        p.advance(&d, 100);
        p.finish(&d, BlobStatus::AlreadyPresent);
        let text = String::from_utf8(p.into_inner()).unwrap();
        let id = &d.digest()[..12];
        assert_eq!(text, format!("{id}: layer, 2.5 MB\n{id}: already exists\n"));
    }
}
