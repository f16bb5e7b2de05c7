//! Per-phase timestamps, for finding where a command's time goes.
//!
//! With `BRIG_TRACE_TIMINGS=FILE` in the environment, every process of a
//! command (the `brig` CLI, its monitor) appends one line per phase to
//! FILE: `<unix time in µs> <pid> <phase>`. Wall-clock time, so lines of
//! different processes sort into one timeline (`sort -n FILE`). Without
//! the variable, [`mark`] costs one cached lookup.

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The environment variable naming the trace file.
pub const ENV: &str = "BRIG_TRACE_TIMINGS";

fn target() -> Option<&'static PathBuf> {
    static TARGET: OnceLock<Option<PathBuf>> = OnceLock::new();
    TARGET
        .get_or_init(|| std::env::var_os(ENV).map(PathBuf::from))
        .as_ref()
}

/// Records that `phase` starts (or ends) now.
pub fn mark(phase: &str) {
    let Some(path) = target() else {
        return;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let line = format!("{} {} {phase}\n", now.as_micros(), std::process::id());
    // One write with O_APPEND: lines of concurrent processes stay whole.
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}
