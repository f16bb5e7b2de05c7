//! Supervising a foreground container process: forward signals to it,
//! proxy its terminal, and return its exit status as a shell would.

use std::os::fd::{AsFd, OwnedFd};

use rustix::event::{PollFd, PollFlags, poll};
use rustix::process::{Pid, WaitOptions};

use crate::error::{Error, Result};
use crate::proc;

/// Blocks the signals we forward; call before creating the child so none is lost.
pub fn block_signals() -> Result<OwnedFd> {
    brig_sys::signal::signalfd(brig_sys::signal::FORWARDED).map_err(|e| Error::sys("signalfd", e))
}

/// Restores the terminal mode of our stdin when dropped.
struct RawMode {
    saved: Option<rustix::termios::Termios>,
}

impl RawMode {
    fn enter() -> Self {
        let stdin = rustix::stdio::stdin();
        let saved = rustix::termios::tcgetattr(stdin).ok();
        if let Some(mut raw) = saved.clone() {
            raw.make_raw();
            let _ = rustix::termios::tcsetattr(stdin, rustix::termios::OptionalActions::Now, &raw);
        }
        RawMode { saved }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = rustix::termios::tcsetattr(
                rustix::stdio::stdin(),
                rustix::termios::OptionalActions::Now,
                saved,
            );
        }
    }
}

fn copy_winsize(master: &OwnedFd) {
    if let Ok(size) = rustix::termios::tcgetwinsize(rustix::stdio::stdin()) {
        let _ = rustix::termios::tcsetwinsize(master, size);
    }
}

/// Waits for our child `pid` to exit; returns its status (128+signal when killed).
pub fn supervise(pid: i32, sigfd: &OwnedFd, master: Option<OwnedFd>) -> Result<i32> {
    let target = proc::ProcessId::of(pid).and_then(|p| p.pidfd());
    let _raw = master.as_ref().map(|m| {
        copy_winsize(m);
        RawMode::enter()
    });
    let mut stdin_open = master.is_some();
    let mut master_open = master.is_some();
    loop {
        if let Some(code) = reap(pid)? {
            if let Some(m) = master.as_ref().filter(|_| master_open) {
                drain(m);
            }
            return Ok(code);
        }
        let stdin = rustix::stdio::stdin();
        let mut fds = vec![PollFd::new(sigfd, PollFlags::IN)];
        if let Some(m) = master.as_ref().filter(|_| master_open) {
            fds.push(PollFd::new(m, PollFlags::IN));
            if stdin_open {
                fds.push(PollFd::new(&stdin, PollFlags::IN));
            }
        }
        match poll(&mut fds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(Error::sys("poll", e)),
        }
        let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        drop(fds);
        if ready[0] {
            let sig =
                brig_sys::signal::read_signal(sigfd).map_err(|e| Error::sys("read signalfd", e))?;
            match (sig, &master) {
                (libc::SIGCHLD, _) => {}
                (libc::SIGWINCH, Some(m)) => copy_winsize(m),
                (sig, _) => {
                    if let Some(fd) = &target {
                        proc::signal(fd, sig)?;
                    }
                }
            }
        }
        if let Some(m) = &master {
            if ready.get(1) == Some(&true) && !pump(m.as_fd(), rustix::stdio::stdout()) {
                master_open = false;
            }
            if ready.get(2) == Some(&true) && !pump(rustix::stdio::stdin(), m.as_fd()) {
                stdin_open = false;
            }
        }
    }
}

/// Copies one chunk; false at end of input or on error.
fn pump(from: impl AsFd, to: impl AsFd) -> bool {
    let mut buf = [0u8; 8192];
    match rustix::io::read(&from, &mut buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => write_all(&to, &buf[..n]),
    }
}

fn write_all(to: &impl AsFd, mut data: &[u8]) -> bool {
    while !data.is_empty() {
        match rustix::io::write(to, data) {
            Ok(n) => data = &data[n..],
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return false,
        }
    }
    true
}

/// Copies what is left in the pty after the process exited.
fn drain(master: &OwnedFd) {
    loop {
        let mut fds = [PollFd::new(master, PollFlags::IN)];
        let zero = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        if !matches!(poll(&mut fds, Some(&zero)), Ok(n) if n > 0)
            || !pump(master.as_fd(), rustix::stdio::stdout())
        {
            return;
        }
    }
}

/// Reaps `pid` if it exited.
fn reap(pid: i32) -> Result<Option<i32>> {
    let Some(p) = Pid::from_raw(pid) else {
        return Ok(Some(0));
    };
    match rustix::process::waitpid(Some(p), WaitOptions::NOHANG) {
        Ok(Some((_, status))) => {
            if let Some(code) = status.exit_status() {
                Ok(Some(code))
            } else if let Some(sig) = status.terminating_signal() {
                Ok(Some(128 + sig))
            } else {
                Ok(None)
            }
        }
        Ok(None) => Ok(None),
        Err(rustix::io::Errno::CHILD) => Ok(Some(0)),
        Err(rustix::io::Errno::INTR) => Ok(None),
        Err(e) => Err(Error::sys("waitpid", e)),
    }
}
