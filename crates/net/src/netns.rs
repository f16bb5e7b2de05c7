//! Running code inside another network namespace.
//!
//! setns(2) changes the namespace of the calling thread only, so the work runs
//! on a fresh thread that ends right after: a thread that entered a foreign
//! namespace is never reused for anything else.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

use crate::error::NetError;

/// Opens a network namespace file (e.g. /run/netns/NAME or /proc/PID/ns/net).
pub fn open_netns(path: &Path) -> Result<OwnedFd, NetError> {
    rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(|source| {
        NetError::Netns {
            path: path.to_path_buf(),
            op: "open",
            source,
        }
    })
}

/// Runs `work` on a new thread that first joins the network namespace at `path`.
pub fn run_in_netns<T, F>(path: &Path, work: F) -> Result<T, NetError>
where
    T: Send,
    F: FnOnce() -> Result<T, NetError> + Send,
{
    let fd = open_netns(path)?;
    let owned_path: PathBuf = path.to_path_buf();
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            move_into_link_name_space(fd.as_fd(), Some(LinkNameSpaceType::Network)).map_err(
                |source| NetError::Netns {
                    path: owned_path.clone(),
                    op: "enter (setns)",
                    source,
                },
            )?;
            drop(fd);
            work()
        });
        worker.join().map_err(|_| NetError::ThreadPanicked {
            path: path.to_path_buf(),
        })?
    })
}
