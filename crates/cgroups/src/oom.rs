//! Watching a container's cgroup for OOM events, without threads.
//!
//! v1: an eventfd registered on `memory.oom_control` through
//! `cgroup.event_control`; the kernel signals it on every OOM in the cgroup
//! (and once more when the cgroup is removed).
//! v2: inotify on `memory.events`, whose `oom`/`oom_kill` counters the kernel
//! bumps (and signals as a modification).
//! Both read the kill count from the `oom_kill` line (`memory.oom_control`
//! on v1, `memory.events` on v2).
//!
//! The watcher's [`OomWatcher::as_fd`] becomes readable on an event, so an
//! event loop can poll it together with other descriptors.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{CgroupError, Result};
use crate::fsutil;

/// What [`OomWatcher::wait`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OomWait {
    /// The kernel reported memory pressure up to OOM; `kills` is how many
    /// processes the OOM killer killed since the last report (0 when it was
    /// disabled or the event was only the limit being hit).
    Oom { kills: u64 },
    /// Nothing OOM-related happened (the timeout passed, or only another
    /// counter of `memory.events` changed).
    NoEvent,
    /// The cgroup is gone; no more events will come.
    CgroupRemoved,
}

#[derive(Debug)]
enum Source {
    /// v1: the eventfd, and the `memory.oom_control` fd it is bound to (the
    /// registration lasts as long as that file stays open).
    EventFd {
        eventfd: OwnedFd,
        _oom_control: std::fs::File,
    },
    /// v2: an inotify instance watching `memory.events`.
    Inotify { inotify: OwnedFd },
}

/// An OOM event source for one cgroup.
#[derive(Debug)]
pub struct OomWatcher {
    source: Source,
    /// Where the `oom_kill` counter is read.
    counter_file: PathBuf,
    last_kills: u64,
    /// v2 only: the last seen `oom` counter.
    last_ooms: u64,
}

/// Reads the `oom_kill` counter of a v1 memory cgroup or a v2 cgroup.
pub(crate) fn read_oom_kills(counter_file: &Path) -> Result<u64> {
    if !counter_file.exists() && counter_file.parent().is_some_and(|d| !d.is_dir()) {
        return Err(CgroupError::io(
            "read",
            counter_file,
            std::io::ErrorKind::NotFound.into(),
        ));
    }
    read_counter(counter_file, "oom_kill")
}

impl OomWatcher {
    /// Registers an eventfd for OOM in the v1 memory cgroup `dir`.
    pub(crate) fn v1(dir: &Path) -> Result<Self> {
        let control_path = dir.join("memory.oom_control");
        let control = std::fs::File::open(&control_path)
            .map_err(|e| CgroupError::io("open", &control_path, e))?;
        let eventfd = rustix::event::eventfd(
            0,
            rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
        )
        .map_err(|e| CgroupError::io("create an eventfd for", &control_path, e.into()))?;
        use std::os::fd::AsRawFd;
        let registration = format!("{} {}", eventfd.as_raw_fd(), control.as_raw_fd());
        fsutil::write_file(
            &dir.join("cgroup.event_control"),
            &registration,
            "OOM notification",
        )?;
        let last_kills = read_oom_kills(&control_path)?;
        Ok(Self {
            source: Source::EventFd {
                eventfd,
                _oom_control: control,
            },
            counter_file: control_path,
            last_kills,
            last_ooms: 0,
        })
    }

    /// Watches `memory.events` of the v2 cgroup `dir`.
    pub(crate) fn v2(dir: &Path) -> Result<Self> {
        let events = dir.join("memory.events");
        use rustix::fs::inotify;
        let inotify = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
            .map_err(|e| CgroupError::io("create an inotify instance for", &events, e.into()))?;
        inotify::add_watch(
            &inotify,
            &events,
            inotify::WatchFlags::MODIFY | inotify::WatchFlags::DELETE_SELF,
        )
        .map_err(|e| CgroupError::io("watch", &events, e.into()))?;
        let last_kills = read_oom_kills(&events)?;
        let last_ooms = read_counter(&events, "oom")?;
        Ok(Self {
            source: Source::Inotify { inotify },
            counter_file: events,
            last_kills,
            last_ooms,
        })
    }

    /// Readable when an event is pending.
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.source {
            Source::EventFd { eventfd, .. } => eventfd.as_fd(),
            Source::Inotify { inotify } => inotify.as_fd(),
        }
    }

    /// The kernel's OOM kill count for the cgroup, now.
    pub fn oom_kill_count(&self) -> Result<u64> {
        read_oom_kills(&self.counter_file)
    }

    /// Waits up to `timeout` (forever with `None`) for the next event.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<OomWait> {
        let ts = timeout.map(|t| rustix::time::Timespec {
            tv_sec: t.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: t.subsec_nanos().into(),
        });
        let fd = self.as_fd();
        let mut fds = [rustix::event::PollFd::new(
            &fd,
            rustix::event::PollFlags::IN,
        )];
        let ready = match rustix::event::poll(&mut fds, ts.as_ref()) {
            Ok(n) => n,
            Err(rustix::io::Errno::INTR) => 0,
            Err(e) => {
                return Err(CgroupError::io(
                    "poll OOM events of",
                    &self.counter_file,
                    e.into(),
                ));
            }
        };
        if ready == 0 {
            return Ok(OomWait::NoEvent);
        }
        self.check()
    }

    /// Consumes pending events without blocking and reports what they mean;
    /// call it when [`OomWatcher::as_fd`] polled readable.
    pub fn check(&mut self) -> Result<OomWait> {
        let mut buf = [0u8; 4096];
        let got = match &self.source {
            Source::EventFd { eventfd, .. } => rustix::io::read(eventfd, &mut buf[..8]),
            Source::Inotify { inotify } => rustix::io::read(inotify, &mut buf),
        };
        match got {
            Ok(_) => {}
            Err(rustix::io::Errno::AGAIN) => return Ok(OomWait::NoEvent),
            Err(e) => {
                return Err(CgroupError::io(
                    "read OOM events of",
                    &self.counter_file,
                    e.into(),
                ));
            }
        }
        if self.counter_file.parent().is_none_or(|dir| !dir.is_dir()) {
            return Ok(OomWait::CgroupRemoved);
        }
        let kills = read_oom_kills(&self.counter_file)?;
        let new = kills.saturating_sub(self.last_kills);
        self.last_kills = kills;
        if matches!(self.source, Source::Inotify { .. }) {
            // memory.events changes for "high"/"max" too; only OOM counts.
            let oom_moved = self.oom_counter_moved()?;
            if new == 0 && !oom_moved {
                return Ok(OomWait::NoEvent);
            }
        }
        Ok(OomWait::Oom { kills: new })
    }

    /// v2: did the `oom` counter (limit hit and no reclaim possible) move?
    fn oom_counter_moved(&mut self) -> Result<bool> {
        let oom = read_counter(&self.counter_file, "oom")?;
        let moved = oom > self.last_ooms;
        self.last_ooms = oom;
        Ok(moved)
    }
}

fn read_counter(file: &Path, key: &str) -> Result<u64> {
    Ok(fsutil::read_flat_keyed(file)?
        .get(key)
        .copied()
        .unwrap_or(0))
}
