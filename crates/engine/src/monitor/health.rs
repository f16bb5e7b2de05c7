//! Health checks on their schedule: every `interval` the check command runs
//! through the runtime's `exec` (as the container's user, in its
//! namespaces); a check that outlives `timeout` is killed and fails.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::config::HealthConfig;
use crate::health::{HealthResult, MAX_OUTPUT};
use crate::runtime::OciRuntime;

/// One check in progress.
#[derive(Debug)]
struct Check {
    pid: i32,
    pidfd: OwnedFd,
    output: Option<OwnedFd>,
    text: Vec<u8>,
    started_ns: i64,
    deadline: Instant,
    timed_out: bool,
}

/// The schedule of one container's checks.
#[derive(Debug)]
pub(super) struct HealthRunner {
    config: HealthConfig,
    started: Instant,
    next: Instant,
    check: Option<Check>,
}

impl HealthRunner {
    pub(super) fn new(config: HealthConfig) -> HealthRunner {
        let now = Instant::now();
        HealthRunner {
            next: now + config.interval,
            started: now,
            config,
            check: None,
        }
    }

    /// Whether failures do not count yet.
    pub(super) fn in_start_period(&self) -> bool {
        self.started.elapsed() < self.config.start_period
    }

    pub(super) fn retries(&self) -> u32 {
        self.config.retries
    }

    /// How long until something is due.
    pub(super) fn wait(&self) -> Duration {
        let now = Instant::now();
        match &self.check {
            Some(c) => c.deadline.saturating_duration_since(now),
            None => self.next.saturating_duration_since(now),
        }
    }

    pub(super) fn fds(&self) -> Vec<BorrowedFd<'_>> {
        let Some(c) = &self.check else {
            return Vec::new();
        };
        let mut v = vec![c.pidfd.as_fd()];
        v.extend(c.output.as_ref().map(|o| o.as_fd()));
        v
    }

    /// Starts a due check, or kills one past its deadline. Returns a
    /// result when a check could not even be started.
    pub(super) fn tick(&mut self, runtime: &OciRuntime, id: &str) -> Option<HealthResult> {
        let now = Instant::now();
        if let Some(c) = &mut self.check {
            if now >= c.deadline && !c.timed_out {
                c.timed_out = true;
                let _ = rustix::process::kill_process(
                    rustix::process::Pid::from_raw(c.pid)?,
                    rustix::process::Signal::KILL,
                );
            }
            return None;
        }
        if now < self.next {
            return None;
        }
        self.next = now + self.config.interval;
        match self.spawn(runtime, id) {
            Ok(check) => {
                self.check = Some(check);
                None
            }
            Err(e) => {
                let t = crate::time::rfc3339_nanos(crate::time::now_ns());
                Some(HealthResult {
                    start: t.clone(),
                    end: t,
                    exit_code: -1,
                    output: format!("cannot run the health check: {e}"),
                })
            }
        }
    }

    fn spawn(&self, runtime: &OciRuntime, id: &str) -> std::io::Result<Check> {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let w2 = w.try_clone()?;
        let child = runtime
            .command(None)
            .arg("exec")
            .arg(id)
            .args(self.config.command())
            .stdin(Stdio::null())
            .stdout(Stdio::from(w))
            .stderr(Stdio::from(w2))
            .spawn()?;
        let pid = child.id() as i32;
        // The monitor's reaper collects the exit status, not `Child`.
        drop(child);
        let pidfd = rustix::process::pidfd_open(
            rustix::process::Pid::from_raw(pid).ok_or_else(|| std::io::Error::other("bad pid"))?,
            rustix::process::PidfdFlags::empty(),
        )?;
        if let Ok(flags) = rustix::fs::fcntl_getfl(&r) {
            let _ = rustix::fs::fcntl_setfl(&r, flags | rustix::fs::OFlags::NONBLOCK);
        }
        Ok(Check {
            pid,
            pidfd,
            output: Some(r),
            text: Vec::new(),
            started_ns: crate::time::now_ns(),
            deadline: Instant::now() + self.config.timeout,
            timed_out: false,
        })
    }

    /// Reads the running check's output.
    pub(super) fn read_output(&mut self) {
        let Some(c) = &mut self.check else { return };
        let Some(out) = &c.output else { return };
        let mut buf = [0u8; 4096];
        loop {
            match rustix::io::read(out, &mut buf) {
                Ok(0) => {
                    c.output = None;
                    return;
                }
                Ok(n) => {
                    let room = MAX_OUTPUT.saturating_sub(c.text.len());
                    c.text.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => return,
            }
        }
    }

    /// The result if `pid` was the check's process.
    pub(super) fn exited(&mut self, pid: i32, code: i32) -> Option<HealthResult> {
        if self.check.as_ref().is_none_or(|c| c.pid != pid) {
            return None;
        }
        self.read_output();
        let c = self.check.take()?;
        let (exit_code, output) = if c.timed_out {
            (
                -1,
                format!(
                    "Health check exceeded timeout ({}s)",
                    self.config.timeout.as_secs_f64()
                ),
            )
        } else {
            (code, String::from_utf8_lossy(&c.text).into_owned())
        };
        Some(HealthResult {
            start: crate::time::rfc3339_nanos(c.started_ns),
            end: crate::time::rfc3339_nanos(crate::time::now_ns()),
            exit_code,
            output,
        })
    }
}
