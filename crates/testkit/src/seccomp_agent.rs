//! A stand-in seccomp agent: the unix socket of `linux.seccomp.listenerPath`,
//! to which a runtime sends the container process state (JSON) with the
//! SCMP_ACT_NOTIFY listener in SCM_RIGHTS, one connection per listener.

use std::io::{self, IoSliceMut, Read};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, recvmsg};
use serde_json::Value;

pub use brig_sys::seccomp::Notification;

/// A listening agent socket.
#[derive(Debug)]
pub struct SeccompAgent {
    path: PathBuf,
    listener: UnixListener,
}

/// What one connection carried.
#[derive(Debug)]
pub struct Delivery {
    /// The container process state document.
    pub state: Value,
    /// The descriptors, in the order `state.fds` names them.
    pub fds: Vec<OwnedFd>,
}

impl SeccompAgent {
    /// Listens at `path` (which must not exist).
    pub fn bind(path: &Path) -> io::Result<SeccompAgent> {
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        Ok(SeccompAgent {
            path: path.to_owned(),
            listener,
        })
    }

    /// The socket's path, for `listenerPath`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts the next connection and reads what it carried, until the
    /// sender closed it or `timeout` passed.
    pub fn receive(&self, timeout: Duration) -> io::Result<Delivery> {
        let deadline = Instant::now() + timeout;
        let stream = loop {
            match self.listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(e),
            }
        };
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(100)),
        ))?;
        read_delivery(stream)
    }
}

fn read_delivery(mut stream: UnixStream) -> io::Result<Delivery> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut data = vec![0u8; 64 * 1024];
    let got = recvmsg(
        &stream,
        &mut [IoSliceMut::new(&mut data)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    let mut fds = Vec::new();
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = message {
            fds.extend(received);
        }
    }
    data.truncate(got.bytes);
    // The document may come in several writes; the sender closes after it.
    while serde_json::from_slice::<Value>(&data).is_err() {
        let mut more = [0u8; 4096];
        match stream.read(&mut more)? {
            0 => break,
            n => data.extend_from_slice(&more[..n]),
        }
    }
    let state = serde_json::from_slice(&data).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "not a JSON document ({e}): {:?}",
                String::from_utf8_lossy(&data)
            ),
        )
    })?;
    Ok(Delivery { state, fds })
}

/// Waits for the next syscall notified on `listener`; it waits until answered.
pub fn wait_notification(listener: &OwnedFd) -> io::Result<Notification> {
    brig_sys::seccomp::notif_recv(listener.as_fd())
}

/// Lets the notified syscall `id` run as if the filter allowed it.
pub fn let_run(listener: &OwnedFd, id: u64) -> io::Result<()> {
    brig_sys::seccomp::notif_respond(
        listener.as_fd(),
        id,
        0,
        0,
        brig_sys::seccomp::USER_NOTIF_FLAG_CONTINUE,
    )
}

/// Lets every syscall notified on `listener` run (SECCOMP_USER_NOTIF_FLAG_CONTINUE)
/// until `stop` is set or the listener's processes are gone.
pub fn continue_until(listener: &OwnedFd, stop: &AtomicBool) {
    use rustix::event::{PollFd, PollFlags, poll};
    while !stop.load(Ordering::Relaxed) {
        let mut fds = [PollFd::new(listener, PollFlags::IN)];
        let timeout = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 20_000_000,
        };
        if poll(&mut fds, Some(&timeout)).unwrap_or(0) == 0 {
            continue;
        }
        if fds[0].revents().contains(PollFlags::HUP) {
            return;
        }
        // A notification can vanish (its process was killed) between poll and recv.
        if let Ok(n) = wait_notification(listener) {
            let _ = let_run(listener, n.id);
        }
    }
}

/// What a descriptor refers to, as /proc/self/fd shows it (a seccomp
/// listener is "anon_inode:seccomp notify").
pub fn describe_fd(fd: &OwnedFd) -> String {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map(|p| p.display().to_string())
        .unwrap_or_else(|e| format!("<{e}>"))
}
