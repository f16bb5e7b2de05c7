//! `events`: a container's OOM events and periodic statistics, as the JSON
//! lines runc prints: `{"type":"stats","id":ID,"data":{...}}` every interval
//! and `{"type":"oom","id":ID}` when the kernel's OOM killer acts in the
//! container's cgroup. The stream ends when the container stops.
//!
//! No thread: one `poll(2)` on the init process's pidfd and the cgroup's
//! OOM descriptor, with the time to the next statistics as its timeout.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use brig_cgroups::{AnyManager, CgroupMonitor, OomWait, OomWatcher, Stats};
use rustix::event::{PollFd, PollFlags};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::state::{Status, Store};

/// One event of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Stats(Box<Stats>),
    Oom,
}

#[derive(Serialize)]
struct Line<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Stats>,
}

impl Event {
    /// The event as one line of runc's `events` output (without newline).
    pub fn to_json(&self, id: &str) -> String {
        let line = match self {
            Event::Stats(stats) => Line {
                kind: "stats",
                id,
                data: Some(stats),
            },
            Event::Oom => Line {
                kind: "oom",
                id,
                data: None,
            },
        };
        serde_json::to_string(&line).unwrap_or_default()
    }
}

/// The container's cgroup, when the container is still there to read.
fn living_cgroup(store: &Store, id: &str) -> Result<(AnyManager, crate::proc::ProcessId)> {
    let dir = store.open(id)?;
    let record = dir.load()?;
    let status = dir.status(&record);
    let stopped = || Error::WrongState {
        id: id.to_string(),
        status: Status::Stopped.as_str(),
        action: "report events (it is not running)",
    };
    if status == Status::Stopped {
        return Err(stopped());
    }
    let cgroup = record.cgroup.ok_or(Error::Unsupported(
        "events of a container without a cgroup (created by an older brig-runtime)",
    ))?;
    let init = record.init.ok_or_else(stopped)?;
    Ok((cgroup, init))
}

/// The container's statistics now (`events --stats`).
pub fn stats(store: &Store, id: &str) -> Result<Stats> {
    let (cgroup, _) = living_cgroup(store, id)?;
    Ok(cgroup.stats()?)
}

/// A container's events, read one at a time with [`EventStream::next_event`].
/// Holds no lock on the container: other commands work meanwhile.
#[derive(Debug)]
pub struct EventStream {
    cgroup: AnyManager,
    init: OwnedFd,
    oom: Option<OomWatcher>,
    /// The cgroup's OOM kill count when we last reported (or started).
    reported_kills: u64,
    interval: Duration,
    next_stats: Instant,
    ended: bool,
}

impl EventStream {
    /// Starts watching container `id`; statistics come every `interval`.
    pub fn open(store: &Store, id: &str, interval: Duration) -> Result<Self> {
        let (cgroup, init) = living_cgroup(store, id)?;
        let init = init.pidfd().ok_or_else(|| Error::WrongState {
            id: id.to_string(),
            status: Status::Stopped.as_str(),
            action: "report events (it is not running)",
        })?;
        let oom = cgroup.oom_watcher()?;
        let reported_kills = oom.oom_kill_count().unwrap_or(0);
        Ok(EventStream {
            cgroup,
            init,
            oom: Some(oom),
            reported_kills,
            interval,
            next_stats: Instant::now() + interval,
            ended: false,
        })
    }

    /// Blocks until the next event; `None` once the container has stopped
    /// (after reporting an OOM kill that stopped it).
    pub fn next_event(&mut self) -> Result<Option<Event>> {
        while !self.ended {
            let now = Instant::now();
            if now >= self.next_stats {
                self.next_stats = now + self.interval;
                // A cgroup that vanished means the container is going: the
                // pidfd will say so on the next round.
                if let Ok(stats) = self.cgroup.stats() {
                    return Ok(Some(Event::Stats(Box::new(stats))));
                }
                continue;
            }
            let (init_exited, oom_ready) = self.wait(self.next_stats - now)?;
            if oom_ready && self.oom_happened()? {
                return Ok(Some(Event::Oom));
            }
            if init_exited {
                return Ok(self.finish());
            }
        }
        Ok(None)
    }

    /// Polls the pidfd and the OOM descriptor; returns which are ready.
    fn wait(&self, timeout: Duration) -> Result<(bool, bool)> {
        let ts = rustix::time::Timespec {
            tv_sec: timeout.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: timeout.subsec_nanos().into(),
        };
        let mut fds = vec![PollFd::new(&self.init, PollFlags::IN)];
        let oom_fd = self.oom.as_ref().map(|o| o.as_fd());
        if let Some(fd) = &oom_fd {
            fds.push(PollFd::new(fd, PollFlags::IN));
        }
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Error::sys("poll for container events", e)),
        }
        let ready = |fd: Option<&PollFd<'_>>| fd.is_some_and(|f| !f.revents().is_empty());
        Ok((ready(fds.first()), ready(fds.get(1))))
    }

    /// Consumes an OOM notification; true when it was a real OOM.
    fn oom_happened(&mut self) -> Result<bool> {
        let Some(oom) = self.oom.as_mut() else {
            return Ok(false);
        };
        match oom.check()? {
            OomWait::Oom { .. } => {
                self.reported_kills = oom.oom_kill_count().unwrap_or(self.reported_kills);
                Ok(true)
            }
            OomWait::NoEvent => Ok(false),
            OomWait::CgroupRemoved => {
                self.oom = None;
                Ok(false)
            }
        }
    }

    /// The container stopped. The kernel may notify an OOM kill a moment
    /// after the killed process is gone (v2 rate-limits `memory.events`
    /// notifications), but the kill counter is already up to date.
    fn finish(&mut self) -> Option<Event> {
        self.ended = true;
        let kills = self.oom.as_ref().and_then(|o| o.oom_kill_count().ok());
        kills
            .is_some_and(|k| k > self.reported_kills)
            .then_some(Event::Oom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_runcs_shape() {
        let oom = Event::Oom.to_json("c1");
        assert_eq!(oom, r#"{"type":"oom","id":"c1"}"#);
        let mut stats = Stats::default();
        stats.pids.current = 3;
        let line: serde_json::Value =
            serde_json::from_str(&Event::Stats(Box::new(stats)).to_json("c1")).unwrap();
        assert_eq!(line["type"], "stats");
        assert_eq!(line["id"], "c1");
        assert_eq!(line["data"]["pids"]["current"], 3);
        assert!(line["data"]["memory"]["usage"].is_object());
    }
}
