//! The monitor: one small process per running container, Podman's conmon
//! in brig. It outlives the `brig` command that started it and
//!
//! - mounts the root filesystem, writes the OCI config and runs the
//!   runtime's `create` and `start` (networking attaches in between);
//! - is the container's subreaper: the init process is its child, so it
//!   learns the exit status, and it reaps every orphan;
//! - holds the container's stdio or pty, writes the logs and serves attach
//!   clients on `<runroot>/sock/<id12>.a`;
//! - runs health checks on their schedule;
//! - on exit records code, time and OOM kill, removes `--rm` containers and
//!   restarts per the restart policy with back-off.
//!
//! It is the small `brig-monitor` program (or `brig __monitor`), whose
//! `main` calls [`run_from_env`], started detached from its caller (fork,
//! fork again, exec: see `spawn.rs`), so a closed terminal or a killed
//! `brig` never takes the container down. It tells the caller how the
//! start went with one JSON line on its stdout.

mod health;
mod idmap;
mod io;
mod netns;
mod nschild;
mod run;
mod spawn;
mod start;

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

pub(crate) use io::receive_fd;

use crate::error::{Error, Result};

/// The environment variable that carries [`MonitorArgs`] as JSON.
pub const ENV: &str = "BRIG_MONITOR";
/// Set in the second (detached) monitor process.
const STAGE_ENV: &str = "BRIG_MONITOR_DETACHED";
/// glibc's malloc settings for monitors (one arena, no kept free memory,
/// no cached stack of the thread a start runs on);
/// removed again for every process a monitor starts.
pub(crate) const MALLOC_ENV: &str = "GLIBC_TUNABLES";
const MALLOC_TUNING: &str = "glibc.malloc.arena_max=1:glibc.malloc.trim_threshold=0:glibc.malloc.top_pad=0:glibc.malloc.mmap_threshold=65536:glibc.pthread.stack_cache_size=0";

/// What a monitor is asked to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MonitorArgs {
    pub root: PathBuf,
    pub runroot: PathBuf,
    pub id: String,
    /// Wait for an attach client before starting the program (foreground
    /// `run`, so no output is missed).
    pub attach_wait: bool,
    /// The terminal's (rows, columns), for a container with a terminal.
    #[serde(default)]
    pub console_size: Option<(u16, u16)>,
}

/// How the engine starts a monitor: `program args...` with [`ENV`] set.
/// The `brig` CLI passes itself and its hidden monitor command.
#[derive(Debug, Clone)]
pub struct MonitorLauncher {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

/// The readiness line a monitor writes.
#[derive(Debug, Serialize, Deserialize)]
struct Ready {
    ok: bool,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

impl MonitorLauncher {
    /// Starts a monitor and waits until the container runs (or, with
    /// `attach_wait`, is created and waits for its attach client).
    pub fn launch(&self, args: &MonitorArgs) -> Result<()> {
        crate::timing::mark("launch monitor");
        let json = serde_json::to_string(args).map_err(|e| Error::json("monitor arguments", e))?;
        let stdout = spawn::spawn_detached(
            &self.program,
            &self.args,
            &[
                (ENV, &json),
                // A long-lived, single-threaded process: give freed memory back.
                (MALLOC_ENV, MALLOC_TUNING),
                // Already detached.
                (STAGE_ENV, "1"),
            ],
            &[],
        )?;
        let stdout = Some(std::fs::File::from(stdout));
        // The readiness line is the first JSON line (a wrapper such as a
        // test harness may print its own lines before).
        let mut line = String::new();
        if let Some(out) = stdout {
            use std::io::BufRead;
            let mut reader = std::io::BufReader::new(out);
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if line.trim_start().starts_with('{') => break,
                    Ok(_) => {}
                }
            }
        }
        crate::timing::mark("monitor ready line read");
        let log = crate::paths::Paths::new(&args.root, &args.runroot).monitor_log(&args.id);
        let ready: Ready = serde_json::from_str(line.trim()).map_err(|_| Error::Monitor {
            id: args.id.clone(),
            message: "it exited before the container started".to_owned(),
            log: log.clone(),
        })?;
        match (ready.ok, ready.error) {
            (true, _) => Ok(()),
            (false, Some(e)) => Err(crate::attach::decode_error(e.to_string().as_bytes())),
            (false, None) => Err(Error::Monitor {
                id: args.id.clone(),
                message: "the container failed to start".to_owned(),
                log,
            }),
        }
    }
}

/// The monitor's entry point for the hidden command: runs the monitor
/// described by [`ENV`] and returns the process exit status.
pub fn run_from_env() -> i32 {
    let Some(json) = std::env::var_os(ENV) else {
        eprintln!("error: {ENV} is not set: this command is started by brig itself");
        return 2;
    };
    let args: MonitorArgs = match serde_json::from_str(&json.to_string_lossy()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: bad {ENV}: {e}");
            return 2;
        }
    };
    if std::env::var_os(STAGE_ENV).is_none() {
        crate::timing::mark("monitor stage 1: detach");
        return detach();
    }
    crate::timing::mark("monitor: detached");
    match run::Monitor::new(args) {
        Ok(m) => m.run(),
        Err((mut ready, e)) => {
            ready.send(Err(&e));
            eprintln!("monitor: {e}");
            1
        }
    }
}

/// Re-executes this program as the detached monitor (inheriting stdout,
/// the readiness pipe) and returns at once, so the caller can reap us and
/// the monitor is nobody's child.
fn detach() -> i32 {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            println!(
                "{}",
                serde_json::json!({"ok": false, "error": {"kind": "engine", "message": format!("monitor: cannot find its own program: {e}")}})
            );
            return 1;
        }
    };
    let spawned = Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(STAGE_ENV, "1")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        Ok(_) => 0,
        Err(e) => {
            println!(
                "{}",
                serde_json::json!({"ok": false, "error": {"kind": "engine", "message": format!("monitor: cannot start: {e}")}})
            );
            1
        }
    }
}

/// The readiness pipe (the monitor's stdout until it reported).
#[derive(Debug)]
pub(crate) struct Readiness {
    out: Option<std::fs::File>,
}

impl Readiness {
    pub(crate) fn from_stdout() -> Readiness {
        let fd: Option<OwnedFd> = rustix::io::fcntl_dupfd_cloexec(rustix::stdio::stdout(), 3).ok();
        // Our stdout now points at /dev/null; the duplicate is the pipe.
        if let Ok(null) = std::fs::File::options().write(true).open("/dev/null") {
            let _ = rustix::stdio::dup2_stdout(&null);
        }
        Readiness {
            out: fd.map(std::fs::File::from),
        }
    }

    /// Whether the caller still waits for the report.
    pub(crate) fn pending(&self) -> bool {
        self.out.is_some()
    }

    /// Reports once; later calls do nothing.
    pub(crate) fn send(&mut self, result: std::result::Result<(), &Error>) {
        let Some(mut out) = self.out.take() else {
            return;
        };
        let line = match result {
            Ok(()) => serde_json::json!({"ok": true}),
            Err(e) => {
                let detail: serde_json::Value =
                    serde_json::from_slice(&crate::attach::encode_error(e)).unwrap_or_default();
                serde_json::json!({"ok": false, "error": detail})
            }
        };
        let _ = writeln!(out, "{line}");
    }
}
