//! The OCI runtime, driven through runc's command line (brig-runtime, runc
//! or crun), as Podman drives it. The engine never forks container
//! processes itself.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde::Deserialize;

use crate::error::{Error, Result};

/// The runtime brig uses unless told otherwise.
pub const DEFAULT_RUNTIME: &str = "brig-runtime";

/// Finds the runtime binary: a path as given; a name next to the running
/// program (where brig's own runtime is installed), then in `PATH`.
pub fn find_runtime(choice: Option<&str>) -> Result<PathBuf> {
    // `--runtime brig` means brig's own runtime, not the brig command.
    let name = match choice {
        None | Some("brig") => DEFAULT_RUNTIME,
        Some(other) => other,
    };
    let not_found = || Error::RuntimeNotFound {
        runtime: name.to_owned(),
    };
    if name.contains('/') {
        let p = PathBuf::from(name);
        return if p.is_file() { Ok(p) } else { Err(not_found()) };
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(name)));
    let in_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    beside
        .into_iter()
        .chain(in_path)
        .find(|p| p.is_file())
        .ok_or_else(not_found)
}

/// What `state` reports.
#[derive(Debug, Clone, Deserialize)]
pub struct RuntimeState {
    pub status: String,
    #[serde(default)]
    pub pid: i32,
}

/// One runtime binary with brig's state directory.
#[derive(Debug, Clone)]
pub struct OciRuntime {
    binary: PathBuf,
    root: PathBuf,
}

/// How `create` connects the container's stdio.
#[derive(Debug)]
pub struct CreateIo {
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
    /// With a terminal: where the runtime sends the pty master.
    pub console_socket: Option<PathBuf>,
}

impl OciRuntime {
    pub fn new(binary: &Path, root: &Path) -> OciRuntime {
        OciRuntime {
            binary: binary.to_owned(),
            root: root.to_owned(),
        }
    }

    pub fn binary(&self) -> &Path {
        &self.binary
    }

    fn name(&self) -> String {
        self.binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// `RUNTIME --root ROOT [--log FILE --log-format json] ARGS`.
    pub fn command(&self, log: Option<&Path>) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--root").arg(&self.root);
        if let Some(log) = log {
            cmd.arg("--log").arg(log).arg("--log-format").arg("json");
        }
        cmd.env_remove(crate::monitor::ENV)
            .env_remove(crate::monitor::MALLOC_ENV);
        cmd
    }

    fn run(&self, command: &str, args: &[&str]) -> Result<Output> {
        let out = self
            .command(None)
            .arg(command)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| self.spawn_error(command, e))?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(self.failure(command, &out.status, &String::from_utf8_lossy(&out.stderr)))
        }
    }

    fn spawn_error(&self, command: &str, e: std::io::Error) -> Error {
        Error::Runtime {
            runtime: self.binary.display().to_string(),
            command: command.to_owned(),
            status: String::new(),
            message: format!("cannot run it: {e}"),
        }
    }

    fn failure(&self, command: &str, status: &std::process::ExitStatus, message: &str) -> Error {
        Error::Runtime {
            runtime: self.name(),
            command: command.to_owned(),
            status: status
                .code()
                .map(|c| format!(" (exit {c})"))
                .unwrap_or_default(),
            message: message.trim().to_owned(),
        }
    }

    /// `create --bundle B --pid-file P [--console-socket S] ID`; errors come
    /// from the runtime's log (its stderr is the container's).
    pub fn create(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        log: &Path,
        io: CreateIo,
    ) -> Result<()> {
        self.create_with("create", id, bundle, pid_file, log, io)
    }

    /// `run --detach ...`: [`OciRuntime::create`] and `start` in one
    /// execution of the runtime, for containers that need nothing done
    /// between the two (no network to attach, no attach client to await).
    pub fn run_detached(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        log: &Path,
        io: CreateIo,
    ) -> Result<()> {
        self.create_with("run", id, bundle, pid_file, log, io)
    }

    fn create_with(
        &self,
        verb: &str,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        log: &Path,
        io: CreateIo,
    ) -> Result<()> {
        let _ = std::fs::remove_file(log);
        let mut cmd = self.command(Some(log));
        cmd.arg(verb);
        if verb == "run" {
            cmd.arg("--detach");
        }
        cmd.arg("--bundle")
            .arg(bundle)
            .arg("--pid-file")
            .arg(pid_file);
        if let Some(sock) = &io.console_socket {
            cmd.arg("--console-socket").arg(sock);
        }
        cmd.arg(id)
            .stdin(io.stdin)
            .stdout(io.stdout)
            .stderr(io.stderr);
        let status = cmd.status().map_err(|e| self.spawn_error(verb, e))?;
        drop(cmd);
        if status.success() {
            Ok(())
        } else {
            Err(self.failure(verb, &status, &last_log_error(log)))
        }
    }

    pub fn start(&self, id: &str) -> Result<()> {
        self.run("start", &[id]).map(drop)
    }

    /// Sends `signal` to the container's init (or, with `all`, every process).
    pub fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        let sig = signal.to_string();
        let mut args = Vec::new();
        if all {
            args.push("--all");
        }
        args.extend([id, sig.as_str()]);
        self.run("kill", &args).map(drop)
    }

    /// `delete [--force] ID`; a container the runtime does not know is fine.
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let args: &[&str] = if force { &["--force", id] } else { &[id] };
        match self.run("delete", args) {
            Ok(_) => Ok(()),
            Err(Error::Runtime { message, .. })
                if message.contains("not exist") || message.contains("not found") =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The runtime's view of the container; `None` if it does not know it.
    pub fn state(&self, id: &str) -> Result<Option<RuntimeState>> {
        let out = self
            .command(None)
            .arg("state")
            .arg(id)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| self.spawn_error("state", e))?;
        if !out.status.success() {
            return Ok(None);
        }
        serde_json::from_slice(&out.stdout)
            .map(Some)
            .map_err(|e| Error::json(format!("{} state {id}", self.name()), e))
    }

    pub fn pause(&self, id: &str) -> Result<()> {
        self.run("pause", &[id]).map(drop)
    }

    pub fn resume(&self, id: &str) -> Result<()> {
        self.run("resume", &[id]).map(drop)
    }

    /// `update --resources FILE ID`.
    pub fn update(&self, id: &str, resources: &Path) -> Result<()> {
        let file = resources.to_string_lossy();
        self.run("update", &["--resources", &file, id]).map(drop)
    }

    /// PIDs of the container's processes (`ps --format json`).
    pub fn pids(&self, id: &str) -> Result<Vec<i32>> {
        let out = self.run("ps", &["--format", "json", id])?;
        serde_json::from_slice(&out.stdout)
            .map_err(|e| Error::json(format!("{} ps {id}", self.name()), e))
    }
}

/// The last error message of a runtime's JSON log (`{"level":"error","msg":...}`),
/// or its last line.
pub fn last_log_error(log: &Path) -> String {
    let Ok(file) = std::fs::File::open(log) else {
        return "no error message (the runtime wrote no log)".to_owned();
    };
    let mut last = String::new();
    let mut last_error = None;
    for line in BufReader::new(file).lines().map_while(|l| l.ok()) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
            let msg = v["msg"].as_str().unwrap_or(&line).to_owned();
            if v["level"] == "error" || v["level"] == "fatal" {
                last_error = Some(msg.clone());
            }
            last = msg;
        } else if !line.trim().is_empty() {
            last = line;
        }
    }
    last_error.unwrap_or(last)
}
