//! How a new process gets into the container's cgroup without anybody
//! migrating it.
//!
//! Writing a pid to `cgroup.procs` moves a whole thread group, for which the
//! kernel takes its global threadgroup lock for writing; that waits for an
//! RCU grace period, 5 to 25 ms measured on this kind of machine, and was
//! the largest single cost of `run`. Two ways avoid it:
//! - cgroup2: `clone3(CLONE_INTO_CGROUP)` creates the child in place.
//! - cgroup v1: a single-threaded process writes `0` ("myself") to a
//!   hierarchy's `tasks` file; moving one thread that is the caller needs
//!   no threadgroup lock (about 40 µs). The runtime opens the files and the
//!   child writes them: the kernel checks the credentials of whoever
//!   opened the file, so this works from inside a new user namespace too.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{Mode, OFlags};

use crate::any::AnyManager;
use crate::error::{CgroupError, Result};

/// What a child needs to enter the container's cgroup by itself. Made by
/// the parent after `create`, handed to the child through the clone.
#[derive(Debug, Default)]
pub struct Entry {
    /// The cgroup2 directory, for `clone3(CLONE_INTO_CGROUP)` (pure v2, and
    /// the cgroup2 half of a hybrid machine).
    pub clone_into: Option<OwnedFd>,
    /// One `tasks` file per v1 hierarchy, for [`join_self`].
    pub tasks: Vec<OwnedFd>,
}

impl Entry {
    pub fn clone_into(&self) -> Option<BorrowedFd<'_>> {
        self.clone_into.as_ref().map(|fd| fd.as_fd())
    }

    pub fn tasks(&self) -> Vec<BorrowedFd<'_>> {
        self.tasks.iter().map(|fd| fd.as_fd()).collect()
    }
}

impl AnyManager {
    /// Opens what [`Entry`] needs (call after `create`).
    pub fn entry(&self) -> Result<Entry> {
        let (v1, v2) = match self {
            Self::V1(m) => (Some(m), None),
            Self::V2(m) => (None, Some(m)),
            Self::Hybrid(h) => (Some(h.v1()), Some(h.v2())),
        };
        let clone_into = v2.map(|m| m.open_dir()).transpose()?;
        let tasks = v1
            .map(|m| m.dirs().iter().map(|d| open_tasks(&d.dir)).collect())
            .transpose()?
            .unwrap_or_default();
        Ok(Entry { clone_into, tasks })
    }
}

fn open_tasks(dir: &std::path::Path) -> Result<OwnedFd> {
    let path = dir.join("tasks");
    rustix::fs::open(&path, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| CgroupError::io("open", path, e.into()))
}

/// Moves the calling thread into the cgroup of each `tasks` file. Only a
/// single-threaded caller moves its whole process this way (a forked or
/// cloned child of the runtime is).
pub fn join_self(tasks: &[BorrowedFd<'_>]) -> io::Result<()> {
    for fd in tasks {
        rustix::io::write(fd, b"0")?;
    }
    Ok(())
}
