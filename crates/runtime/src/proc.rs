//! Identifying processes across commands without falling for recycled pids:
//! a pid is remembered together with its start time, and signals go through
//! a pidfd opened and then checked against that start time.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::process::{Pid, PidfdFlags};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A process as identified by pid plus start time (clock ticks after boot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: i32,
    pub start_time: u64,
}

/// The fields of /proc/<pid>/stat we use.
#[derive(Debug, Clone, Copy)]
struct Stat {
    state: u8,
    start_time: u64,
}

fn read_stat(pid: i32) -> Option<Stat> {
    let data = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: parse after the last ')'.
    let close = data.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&data[close + 2..]).ok()?;
    let mut fields = rest.split(' ');
    let state = fields.next()?.bytes().next()?;
    // starttime is field 22 of the line, the 20th after the state (field 3).
    let start_time = fields.nth(18)?.parse().ok()?;
    Some(Stat { state, start_time })
}

impl ProcessId {
    /// Identifies a live process by pid.
    pub fn of(pid: i32) -> Option<Self> {
        read_stat(pid).map(|s| ProcessId {
            pid,
            start_time: s.start_time,
        })
    }

    /// True while the very process we recorded exists and has not exited.
    pub fn is_alive(&self) -> bool {
        matches!(read_stat(self.pid), Some(s) if s.start_time == self.start_time && !matches!(s.state, b'Z' | b'X' | b'x'))
    }

    /// True when the process sits in a frozen cgroup (or was SIGSTOPped).
    pub fn is_stopped_by_freezer(&self) -> bool {
        matches!(read_stat(self.pid), Some(s) if s.start_time == self.start_time && s.state == b'T')
    }

    /// A pidfd for this very process, or None when it is gone (or the pid was reused).
    pub fn pidfd(&self) -> Option<OwnedFd> {
        let pid = Pid::from_raw(self.pid)?;
        let fd = rustix::process::pidfd_open(pid, PidfdFlags::empty()).ok()?;
        // Checked after opening: from here on the fd pins this process.
        self.is_alive().then_some(fd)
    }
}

/// Sends `signal` through a pidfd; a process that is already gone is not an error.
pub fn signal(pidfd: impl AsFd, signal: i32) -> Result<()> {
    match brig_sys::signal::pidfd_send(pidfd.as_fd(), signal) {
        Err(e) if e.raw_os_error() != Some(libc::ESRCH) => Err(Error::sys("pidfd_send_signal", e)),
        _ => Ok(()),
    }
}

/// Waits until the pidfd's process has exited. Returns false on timeout.
pub fn wait_exit(pidfd: impl AsFd, timeout: Duration) -> Result<bool> {
    use rustix::event::{PollFd, PollFlags, poll};
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
        let ts = rustix::time::Timespec::try_from(left).unwrap_or(rustix::time::Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        });
        match poll(&mut fds, Some(&ts)) {
            Ok(0) => continue,
            Ok(_) => return Ok(true),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(Error::sys("poll pidfd", e)),
        }
    }
}

/// Every process (host pids) that shares `init`'s pid namespace, init first.
/// Used when no cgroup is available to ask.
pub fn pids_in_pid_namespace(init: i32) -> Vec<i32> {
    let ns_of = |pid: i32| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let Some(target) = ns_of(init) else {
        return Vec::new();
    };
    if ns_of(std::process::id() as i32).as_ref() == Some(&target) {
        // The container shares our pid namespace: only init is known to be its own.
        return vec![init];
    }
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| ns_of(pid).as_ref() == Some(&target))
        .collect();
    pids.sort_by_key(|&p| (p != init, p));
    pids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_is_alive_and_stat_parses() {
        let me = ProcessId::of(std::process::id() as i32).unwrap();
        assert!(me.is_alive());
        let stale = ProcessId {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!stale.is_alive());
        assert!(stale.pidfd().is_none());
    }
}
