//! Running a runtime command with a timeout, its output captured in files.
//!
//! Output goes to files, not pipes: a container started by `create` or
//! `run -d` inherits the runtime's stdout and stderr and keeps them open, so
//! waiting for EOF on a pipe would hang. The runtime process itself is awaited
//! through a pidfd with a deadline and killed when it overruns.

use std::ffi::OsString;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, poll};
use rustix::process::{Pid, PidfdFlags, pidfd_open};

/// How long one runtime command may take before the test kills it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a command did.
#[derive(Debug, Clone)]
pub struct CmdOutput {
    /// The full command line, for failure messages.
    pub argv: Vec<String>,
    /// Exit code, when it exited.
    pub code: Option<i32>,
    /// Terminating signal, when it was killed.
    pub signal: Option<i32>,
    /// Stdout as it was when the command exited.
    pub stdout: String,
    /// Stderr as it was when the command exited.
    pub stderr: String,
    /// The command overran its timeout and was killed.
    pub timed_out: bool,
    /// Wall-clock time of the command.
    pub elapsed: Duration,
    stdout_path: PathBuf,
}

impl CmdOutput {
    /// Exited with status 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Panics, with the command and its output, unless it exited 0.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert!(self.success(), "command failed:\n{}", self.describe());
        self
    }

    /// Panics unless it exited non-zero (not killed, not timed out).
    #[track_caller]
    pub fn assert_failed(&self) -> &Self {
        assert!(
            !self.timed_out && self.code.is_some_and(|c| c != 0),
            "command should have failed:\n{}",
            self.describe()
        );
        self
    }

    /// Panics unless it failed with the word "error" on stderr, as runc's
    /// clients expect of every failure.
    #[track_caller]
    pub fn assert_error(&self) -> &Self {
        self.assert_failed();
        assert!(
            self.stderr.to_lowercase().contains("error"),
            "stderr should contain \"error\":\n{}",
            self.describe()
        );
        self
    }

    /// Stdout re-read now: a container started by this command may have
    /// written more since the command exited.
    pub fn stdout_now(&self) -> String {
        fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// The command, its status and output, for assertion messages.
    pub fn describe(&self) -> String {
        let status = match (self.code, self.signal, self.timed_out) {
            (_, _, true) => "timed out (killed)".to_owned(),
            (Some(c), _, _) => format!("exit {c}"),
            (None, Some(s), _) => format!("killed by signal {s}"),
            (None, None, _) => "unknown status".to_owned(),
        };
        format!(
            "  $ {}\n  status: {status}\n  stdout: {}\n  stderr: {}",
            self.argv.join(" "),
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }
}

/// A command line to run, with optional extra descriptors and stdin.
#[derive(Debug, Clone)]
pub struct Invocation {
    argv: Vec<OsString>,
    extra_fds: Vec<PathBuf>,
    /// Open the extra descriptors read-only (directories can be passed).
    extra_fds_read_only: bool,
    stdin: Option<PathBuf>,
    env: Vec<(String, String)>,
    listen_fds: bool,
    timeout: Duration,
}

impl Invocation {
    /// `argv[0]` is the program.
    pub fn new<I, S>(argv: I) -> Invocation
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Invocation {
            argv: argv.into_iter().map(Into::into).collect(),
            extra_fds: Vec::new(),
            extra_fds_read_only: false,
            stdin: None,
            env: Vec::new(),
            listen_fds: false,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Invocation
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.argv.extend(args.into_iter().map(Into::into));
        self
    }

    /// Opens `files` read-write as descriptors 3, 4, ... of the command
    /// (for `--preserve-fds`), through a `/bin/sh` wrapper that execs it.
    pub fn extra_fds(mut self, files: &[PathBuf]) -> Invocation {
        self.extra_fds = files.to_vec();
        self
    }

    /// Like [`Invocation::extra_fds`], opened read-only: `files` may be directories.
    pub fn extra_fds_read_only(mut self, files: &[PathBuf]) -> Invocation {
        self.extra_fds = files.to_vec();
        self.extra_fds_read_only = true;
        self
    }

    /// Also announces the extra descriptors by systemd socket activation:
    /// `LISTEN_FDS=<count>` and `LISTEN_PID=<pid of the command>`.
    pub fn listen_fds(mut self) -> Invocation {
        self.listen_fds = true;
        self
    }

    /// Feeds this file as stdin (default: /dev/null).
    pub fn stdin(mut self, file: &Path) -> Invocation {
        self.stdin = Some(file.to_owned());
        self
    }

    /// Sets an environment variable for the command.
    pub fn env(mut self, key: &str, value: &str) -> Invocation {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Overrides [`DEFAULT_TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Invocation {
        self.timeout = timeout;
        self
    }

    /// Runs it, capturing stdout and stderr into files under `out_dir`.
    pub fn run(&self, out_dir: &Path) -> CmdOutput {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let stdout_path = out_dir.join(format!("cmd-{n}.stdout"));
        let stderr_path = out_dir.join(format!("cmd-{n}.stderr"));
        let argv = self.wrapped_argv();
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdout(create(&stdout_path))
            .stderr(create(&stderr_path));
        cmd.stdin(match &self.stdin {
            Some(path) => Stdio::from(
                File::open(path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display())),
            ),
            None => Stdio::null(),
        });
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let shown: Vec<String> = argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", shown.join(" ")));
        let timed_out = !wait_until(&child, started + self.timeout);
        if timed_out {
            let _ = child.kill();
        }
        let status = child
            .wait()
            .unwrap_or_else(|e| panic!("waiting for {}: {e}", shown.join(" ")));
        let elapsed = started.elapsed();
        use std::os::unix::process::ExitStatusExt;
        CmdOutput {
            argv: shown,
            code: status.code(),
            signal: status.signal(),
            stdout: fs::read_to_string(&stdout_path).unwrap_or_default(),
            stderr: fs::read_to_string(&stderr_path).unwrap_or_default(),
            timed_out,
            elapsed,
            stdout_path,
        }
    }

    fn wrapped_argv(&self) -> Vec<OsString> {
        if self.extra_fds.is_empty() {
            return self.argv.clone();
        }
        let mut script = String::from("exec");
        for i in 0..self.extra_fds.len() {
            let mode = if self.extra_fds_read_only { "<" } else { "<>" };
            script.push_str(&format!(" {}{mode}\"${}\"", i + 3, i + 1));
        }
        if self.listen_fds {
            // exec keeps the shell's pid, so $$ is the runtime's pid.
            script.push_str(&format!(
                "; export LISTEN_FDS={} LISTEN_PID=$$",
                self.extra_fds.len()
            ));
        }
        script.push_str(&format!("; shift {}; exec \"$@\"", self.extra_fds.len()));
        let mut argv: Vec<OsString> =
            vec!["/bin/sh".into(), "-c".into(), script.into(), "sh".into()];
        argv.extend(self.extra_fds.iter().map(|p| p.as_os_str().to_owned()));
        argv.extend(self.argv.iter().cloned());
        argv
    }
}

fn create(path: &Path) -> File {
    File::create(path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()))
}

/// Waits for `child` to exit without reaping it; false when the deadline passed.
fn wait_until(child: &std::process::Child, deadline: Instant) -> bool {
    let pidfd = match pidfd_open(Pid::from_child(child), PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(_) => return true, // already gone: wait() will reap it
    };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let timeout = rustix::time::Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_status() {
        let dir = tempfile::tempdir().unwrap();
        let out =
            Invocation::new(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]).run(dir.path());
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
        assert!(!out.success());
    }

    #[test]
    fn kills_on_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let out = Invocation::new(["sleep", "10"])
            .timeout(Duration::from_millis(100))
            .run(dir.path());
        assert!(out.timed_out);
        assert!(out.elapsed < Duration::from_secs(5));
    }

    #[test]
    fn passes_extra_fds() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        fs::write(&f, "").unwrap();
        let out = Invocation::new(["/bin/sh", "-c", "echo via3 >&3; ls /proc/self/fd"])
            .extra_fds(std::slice::from_ref(&f))
            .run(dir.path());
        out.assert_ok();
        assert_eq!(fs::read_to_string(&f).unwrap(), "via3\n");
        assert!(out.stdout.lines().any(|l| l == "3"));
    }
}
