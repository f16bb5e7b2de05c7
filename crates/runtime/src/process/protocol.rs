//! The conversation between the runtime (parent) and the container's init
//! process, over a `SOCK_SEQPACKET` socket pair: one datagram per message,
//! each direction with its own message type.
//!
//! ```text
//! parent (create)                                init (clone3 child, pid 1 in the container)
//!   clone3(new namespaces[, into cgroup]) ──────► joins its v1 cgroups ("0" > tasks
//!   write uid/gid maps                            through fds the parent opened),
//!                                                 waits for Go
//!   Go ─────────────────────────────────────────► join namespaces, hostname, rlimits,
//!                                                 mounts (rootfs::prepare)
//!                       ◄──────────────────────── MountsReady   (only with prestart or
//!   run prestart and createRuntime hooks                          createRuntime hooks)
//!   HooksDone ──────────────────────────────────► createContainer hooks, pivot_root,
//!                                                 masked/read-only paths, console,
//!                                                 resolve the program to run
//!                       ◄──────────────────────── Ready
//!   write state "created", exit                   block reading exec.fifo
//!                                                 ... `start` writes one byte (`run`
//!                                                 wrote it before the clone) ...
//!                                                 startContainer hooks, user, capabilities,
//!                                                 seccomp, execve
//!
//! At any point init may send Error instead and exit; the parent then undoes
//! everything. `exec` uses the same channel: its child sends Error or nothing
//! (the socket is close-on-exec, so end-of-file means the program started).
//! ```

use std::fmt;
use std::os::fd::{AsFd, OwnedFd};

use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use serde::{Deserialize, Serialize};

/// A failure inside the container's process, carried across the fork.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireError {
    /// What init was doing, e.g. "mounting" or "executing the process".
    pub stage: String,
    pub errno: Option<i32>,
    pub message: String,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.stage, self.message)
    }
}

impl std::error::Error for WireError {}

impl WireError {
    /// A failed system call while doing `stage`.
    pub fn io(stage: &str, err: impl Into<std::io::Error>) -> Self {
        let err: std::io::Error = err.into();
        WireError {
            stage: stage.to_string(),
            errno: err.raw_os_error(),
            message: err.to_string(),
        }
    }

    /// A failure described in words while doing `stage`.
    pub fn msg(stage: &str, message: impl ToString) -> Self {
        WireError {
            stage: stage.to_string(),
            errno: None,
            message: message.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum ToInit {
    /// Carries the state JSON for the hooks init runs itself (empty without such hooks).
    Go {
        hook_state: String,
    },
    HooksDone,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ToParent {
    MountsReady,
    Ready,
    Error(WireError),
}

/// One end of the channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// Errors of the channel itself (not of the other side's work).
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("the other side closed the channel")]
    Closed,
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed message: {0}")]
    Malformed(#[from] serde_json::Error),
}

/// Creates a connected pair; both ends are close-on-exec.
pub fn pair() -> std::io::Result<(Channel, Channel)> {
    let (a, b) = rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub fn send<T: Serialize>(&self, msg: &T) -> Result<(), ChannelError> {
        let data = serde_json::to_vec(msg)?;
        loop {
            match rustix::net::send(&self.fd, &data, SendFlags::NOSIGNAL) {
                Ok(_) => return Ok(()),
                Err(rustix::io::Errno::INTR) => continue,
                Err(rustix::io::Errno::PIPE) => return Err(ChannelError::Closed),
                Err(e) => return Err(ChannelError::Io(e.into())),
            }
        }
    }

    /// Receives one message; `Ok(None)` when the other side closed (or exec'd).
    pub fn recv<T: for<'de> Deserialize<'de>>(&self) -> Result<Option<T>, ChannelError> {
        // Uninitialised capacity: zeroing 64 KiB would touch (and, in the
        // freshly cloned init, copy) 16 pages for a message of a few bytes.
        let mut buf = Vec::with_capacity(64 * 1024);
        let n = loop {
            match rustix::net::recv(
                &self.fd,
                rustix::buffer::spare_capacity(&mut buf),
                RecvFlags::empty(),
            ) {
                Ok((n, _)) => break n,
                Err(rustix::io::Errno::INTR) => continue,
                Err(rustix::io::Errno::CONNRESET) => return Ok(None),
                Err(e) => return Err(ChannelError::Io(e.into())),
            }
        };
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(serde_json::from_slice(&buf)?))
    }

    pub fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
