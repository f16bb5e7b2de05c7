//! Container logs in Docker's json-file format: one JSON object per line,
//! `{"log":"text\n","stream":"stdout","time":"RFC 3339 nanos"}`, rotated by
//! size (`container.log`, then `.1`, `.2`, ...; the oldest is dropped).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::LogConfig;
use crate::error::{IoContext, Result};

/// Lines longer than this are split (as Docker does at 16 KiB).
const MAX_LINE: usize = 16 * 1024;

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// Appends entries to a container's log, rotating by size.
#[derive(Debug)]
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    config: LogConfig,
    /// Incomplete lines of stdout and stderr.
    partial: [Vec<u8>; 2],
}

impl LogWriter {
    pub fn open(path: &Path, config: &LogConfig) -> Result<LogWriter> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ctx("open log", path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(LogWriter {
            path: path.to_owned(),
            file,
            size,
            config: config.clone(),
            partial: [Vec::new(), Vec::new()],
        })
    }

    /// Adds output of `stream` (0 stdout, 1 stderr); complete lines are written.
    pub fn feed(&mut self, stream: usize, data: &[u8], now_ns: i64) -> Result<()> {
        let stream = stream.min(1);
        self.partial[stream].extend_from_slice(data);
        loop {
            let buf = &self.partial[stream];
            let cut = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => i + 1,
                None if buf.len() >= MAX_LINE => MAX_LINE,
                None => break,
            };
            let line: Vec<u8> = self.partial[stream].drain(..cut).collect();
            self.write_entry(stream, &line, now_ns)?;
        }
        Ok(())
    }

    /// Writes what is left of incomplete lines (the container exited).
    pub fn flush_partial(&mut self, now_ns: i64) -> Result<()> {
        for stream in 0..2 {
            if !self.partial[stream].is_empty() {
                let line = std::mem::take(&mut self.partial[stream]);
                self.write_entry(stream, &line, now_ns)?;
            }
        }
        Ok(())
    }

    fn write_entry(&mut self, stream: usize, line: &[u8], now_ns: i64) -> Result<()> {
        let entry = LogEntry {
            log: String::from_utf8_lossy(line).into_owned(),
            stream: if stream == 0 { "stdout" } else { "stderr" }.to_owned(),
            time: crate::time::rfc3339_nanos(now_ns),
        };
        let mut text =
            serde_json::to_vec(&entry).map_err(|e| crate::Error::json("log entry", e))?;
        text.push(b'\n');
        if let Some(max) = self.config.max_size
            && self.size > 0
            && self.size + text.len() as u64 > max
        {
            self.rotate()?;
        }
        self.file.write_all(&text).ctx("write log", &self.path)?;
        self.size += text.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> Result<()> {
        let keep = self.config.max_file.max(1);
        if keep == 1 {
            self.file.set_len(0).ctx("truncate log", &self.path)?;
            self.size = 0;
            return Ok(());
        }
        for n in (1..keep).rev() {
            let from = rotated(&self.path, n - 1);
            let to = rotated(&self.path, n);
            if from.exists() {
                std::fs::rename(&from, &to).ctx("rotate log", &from)?;
            }
        }
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .ctx("open log", &self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// `container.log` for 0, `container.log.N` for N.
pub fn rotated(path: &Path, n: u32) -> PathBuf {
    if n == 0 {
        path.to_owned()
    } else {
        let mut s = path.as_os_str().to_owned();
        s.push(format!(".{n}"));
        PathBuf::from(s)
    }
}

/// The log files of a container, oldest first.
pub fn files(path: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = (1..100)
        .map(|n| rotated(path, n))
        .take_while(|p| p.exists())
        .collect();
    out.reverse();
    if path.exists() {
        out.push(path.to_owned());
    }
    out
}

/// Reads every entry of `file` (skipping lines that are not entries, such
/// as a line cut short by a crash).
pub fn read_entries(file: &Path) -> Vec<LogEntry> {
    let Ok(f) = File::open(file) else {
        return Vec::new();
    };
    BufReader::new(f)
        .lines()
        .map_while(|l| l.ok())
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_json_entries_and_partial_lines_wait() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("container.log");
        let mut w = LogWriter::open(&path, &LogConfig::default()).unwrap();
        w.feed(0, b"hello\nwor", 0).unwrap();
        w.feed(1, b"oops\n", 1).unwrap();
        w.feed(0, b"ld\n", 2).unwrap();
        w.feed(0, b"tail", 3).unwrap();
        w.flush_partial(4).unwrap();
        let e = read_entries(&path);
        let got: Vec<(&str, &str)> = e
            .iter()
            .map(|e| (e.stream.as_str(), e.log.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("stdout", "hello\n"),
                ("stderr", "oops\n"),
                ("stdout", "world\n"),
                ("stdout", "tail")
            ]
        );
        assert_eq!(e[0].time, "1970-01-01T00:00:00.000000000Z");
    }

    #[test]
    fn rotation_keeps_max_file_files_under_max_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("container.log");
        let config = LogConfig {
            max_size: Some(4096),
            max_file: 3,
        };
        let mut w = LogWriter::open(&path, &config).unwrap();
        for i in 0..500 {
            w.feed(0, format!("line {i:04}\n").as_bytes(), i).unwrap();
        }
        let all = files(&path);
        assert_eq!(all.len(), 3, "{all:?}");
        for f in &all {
            assert!(std::fs::metadata(f).unwrap().len() <= 4096);
        }
        let last = read_entries(all.last().unwrap());
        assert_eq!(last.last().unwrap().log, "line 0499\n");
        let first = read_entries(&all[0]);
        assert!(first[0].log.as_str() > "line 0000\n", "oldest dropped");
    }
}
