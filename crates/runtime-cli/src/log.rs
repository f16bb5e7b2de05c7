//! Error reporting: always to stderr, and to `--log` in runc's text or JSON
//! line format, which engines parse to show the runtime's error.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::LogFormat;

pub struct Logger {
    file: Option<PathBuf>,
    format: LogFormat,
}

impl Logger {
    pub fn new(file: Option<&Path>, format: LogFormat, _debug: bool) -> Self {
        Logger {
            file: file.map(Path::to_path_buf),
            format,
        }
    }

    pub fn error(&self, err: &anyhow::Error) {
        let msg = format!("{err:#}");
        eprintln!("error: {msg}");
        let Some(path) = &self.file else { return };
        let time = brig_runtime::state::rfc3339_now();
        let line = match self.format {
            LogFormat::Json => {
                serde_json::json!({"level": "error", "msg": msg, "time": time}).to_string()
            }
            LogFormat::Text => format!("time={time:?} level=error msg={msg:?}"),
        };
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}
