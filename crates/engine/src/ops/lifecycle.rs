//! `start`, `stop`, `kill`, `restart`, `pause`, `unpause`, `wait`.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::monitor::MonitorArgs;
use crate::options::units::parse_signal;
use crate::record::{ContainerRecord, State};

/// What `wait` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    /// Until it is not running (now, if it is not).
    NotRunning,
    /// Until it exits next.
    NextExit,
    /// Until it is removed.
    Removed,
}

const SIGKILL: i32 = 9;

impl Engine {
    /// `brig start`: launches a monitor and returns once the program runs.
    /// With `attach_wait` it returns once the container is created and its
    /// monitor waits for an attach client (foreground `run`).
    pub fn start(&self, reference: &str, attach_wait: bool) -> Result<ContainerRecord> {
        self.start_with(reference, attach_wait, None)
    }

    /// [`Engine::start`] with the caller's terminal size (rows, columns),
    /// which a container with a terminal starts with.
    pub fn start_with(
        &self,
        reference: &str,
        attach_wait: bool,
        console_size: Option<(u16, u16)>,
    ) -> Result<ContainerRecord> {
        let found = self.find(reference)?;
        let _lock = self.ctx.lock(&found.id)?;
        let rec = self.find(&found.id)?;
        match rec.state {
            State::Running | State::Restarting if !attach_wait => return Ok(rec),
            State::Created | State::Exited => {}
            state => {
                return Err(Error::wrong_state(
                    &rec.id,
                    state,
                    match state {
                        State::Paused => "unpause it instead",
                        State::Running | State::Restarting => "it is already running; use attach",
                        _ => "wait for the current operation to finish",
                    },
                ));
            }
        }
        self.ctx.db.modify(&rec.id, |r| {
            r.stop_requested = false;
            Ok(())
        })?;
        self.launcher()?.launch(&MonitorArgs {
            root: self.ctx.paths.root().to_owned(),
            runroot: self.ctx.paths.runroot().to_owned(),
            id: rec.id.clone(),
            attach_wait,
            console_size,
        })?;
        self.find(&rec.id)
    }

    /// `brig stop`: the stop signal, then SIGKILL after `timeout` seconds
    /// (the container's `--stop-timeout` by default).
    pub fn stop(&self, reference: &str, timeout: Option<u64>) -> Result<ContainerRecord> {
        let rec = self.find(reference)?;
        if !rec.state.has_monitor() {
            return Ok(rec);
        }
        self.ctx.db.modify(&rec.id, |r| {
            r.stop_requested = true;
            Ok(())
        })?;
        let runtime = self.ctx.runtime(&rec);
        if rec.state != State::Restarting {
            let signal = parse_signal("--stop-signal", &rec.config.stop_signal)?;
            let _ = runtime.kill(&rec.id, signal, false);
            if rec.state == State::Paused {
                let _ = runtime.resume(&rec.id);
            }
        }
        let grace = Duration::from_secs(
            timeout
                .unwrap_or(rec.config.stop_timeout)
                .min(u32::MAX as u64),
        );
        if !self.wait_stopped(&rec.id, Some(Instant::now() + grace))? {
            let _ = runtime.kill(&rec.id, SIGKILL, true);
            if !self.wait_stopped(&rec.id, Some(Instant::now() + Duration::from_secs(30)))? {
                return Err(Error::Timeout {
                    what: format!("stopping container {}", rec.name),
                    seconds: 30,
                });
            }
        }
        self.ctx.event(&rec, "stop", &[]);
        self.find(&rec.id)
    }

    /// `brig kill -s SIGNAL`.
    pub fn kill(&self, reference: &str, signal: &str) -> Result<ContainerRecord> {
        let rec = self.find(reference)?;
        let sig = parse_signal("--signal", signal)?;
        if !matches!(rec.state, State::Running | State::Paused) {
            return Err(Error::wrong_state(&rec.id, rec.state, "it is not running"));
        }
        let stop_signal = parse_signal("--stop-signal", &rec.config.stop_signal).unwrap_or(15);
        if sig == SIGKILL || sig == stop_signal {
            // As in Docker: a container killed by hand is not restarted.
            self.ctx.db.modify(&rec.id, |r| {
                r.stop_requested = true;
                Ok(())
            })?;
        }
        self.ctx.runtime(&rec).kill(&rec.id, sig, false)?;
        self.ctx.event(&rec, "kill", &[("signal", sig.to_string())]);
        Ok(rec)
    }

    /// `brig restart`.
    pub fn restart(&self, reference: &str, timeout: Option<u64>) -> Result<ContainerRecord> {
        let rec = self.stop(reference, timeout)?;
        let rec = self.start(&rec.id, false)?;
        self.ctx.event(&rec, "restart", &[]);
        Ok(rec)
    }

    /// `brig pause` (freezes every process of the container).
    pub fn pause(&self, reference: &str) -> Result<ContainerRecord> {
        self.set_paused(reference, true)
    }

    /// `brig unpause`.
    pub fn unpause(&self, reference: &str) -> Result<ContainerRecord> {
        self.set_paused(reference, false)
    }

    fn set_paused(&self, reference: &str, pause: bool) -> Result<ContainerRecord> {
        let found = self.find(reference)?;
        let _lock = self.ctx.lock(&found.id)?;
        let rec = self.find(&found.id)?;
        let (from, to, action) = if pause {
            (State::Running, State::Paused, "pause")
        } else {
            (State::Paused, State::Running, "unpause")
        };
        if rec.state != from {
            return Err(Error::wrong_state(
                &rec.id,
                rec.state,
                format!("{action} needs a {} container", from.as_str()),
            ));
        }
        let runtime = self.ctx.runtime(&rec);
        if pause {
            runtime.pause(&rec.id)?;
        } else {
            runtime.resume(&rec.id)?;
        }
        let rec = self.ctx.db.modify(&rec.id, |r| {
            if r.state == from {
                r.state = to;
            }
            Ok(r.clone())
        })?;
        self.ctx.event(&rec, action, &[]);
        Ok(rec)
    }

    /// `brig wait`: the exit code once `condition` holds.
    pub fn wait(&self, reference: &str, condition: WaitCondition) -> Result<i32> {
        let rec = self.find(reference)?;
        let code = |r: &ContainerRecord| r.exit_code.unwrap_or(0);
        match condition {
            WaitCondition::NotRunning => {
                self.wait_stopped(&rec.id, None)?;
                Ok(self
                    .ctx
                    .db
                    .container(&rec.id)?
                    .map_or(code(&rec), |r| code(&r)))
            }
            WaitCondition::NextExit => {
                let finished = rec.finished_at;
                loop {
                    self.wait_stopped(&rec.id, None)?;
                    match self.ctx.db.container(&rec.id)? {
                        Some(r)
                            if r.finished_at != finished
                                || r.state == State::Exited && finished.is_none() =>
                        {
                            return Ok(code(&r));
                        }
                        None => return Ok(code(&rec)),
                        _ => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            }
            WaitCondition::Removed => {
                let mut last = rec.clone();
                while let Some(r) = self.ctx.db.container(&rec.id)? {
                    last = r;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(code(&last))
            }
        }
    }

    /// Waits until the container has no running process (its monitor
    /// recorded the exit, or it died and was repaired). `false` at the
    /// deadline.
    pub(crate) fn wait_stopped(&self, id: &str, deadline: Option<Instant>) -> Result<bool> {
        let mut pidfd: Option<(i32, OwnedFd)> = None;
        loop {
            let Some(rec) = self.ctx.db.container(id)? else {
                return Ok(true);
            };
            let running = rec.state.has_monitor();
            if !running {
                return Ok(true);
            }
            if rec.monitor.is_none_or(|m| !m.is_alive()) {
                self.repair_one(&rec)?;
                continue;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false);
            }
            // Sleep on the init's pidfd (wakes at its exit), at most 50 ms.
            if let Some(pid) = rec.pid
                && pidfd.as_ref().is_none_or(|(p, _)| *p != pid)
            {
                pidfd = rustix::process::Pid::from_raw(pid)
                    .and_then(|p| {
                        rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok()
                    })
                    .map(|fd| (pid, fd));
            }
            let step = Duration::from_millis(if pidfd.is_some() { 50 } else { 10 });
            let step = deadline.map_or(step, |d| {
                step.min(d.saturating_duration_since(Instant::now()))
            });
            let ts = rustix::time::Timespec::try_from(step).unwrap_or(rustix::time::Timespec {
                tv_sec: 0,
                tv_nsec: 10_000_000,
            });
            match &pidfd {
                Some((_, fd)) => {
                    let mut fds = [PollFd::new(fd, PollFlags::IN)];
                    if matches!(rustix::event::poll(&mut fds, Some(&ts)), Ok(n) if n > 0) {
                        // The init is gone; the monitor records it in moments.
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
                None => std::thread::sleep(step),
            }
        }
    }
}
