//! Blocking signals and reading them synchronously through a signalfd.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Signals a foreground `run` forwards to the container.
pub const FORWARDED: &[i32] = &[
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCONT,
    libc::SIGTSTP,
];

fn sigset(signals: &[i32]) -> libc::sigset_t {
    // SAFETY: sigemptyset fully initialises the set before it is read.
    let mut set = unsafe {
        let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(set.as_mut_ptr());
        set.assume_init()
    };
    for &sig in signals {
        // SAFETY: `set` is initialised; an invalid number only yields EINVAL.
        unsafe { libc::sigaddset(&mut set, sig) };
    }
    set
}

/// Blocks `signals` and returns a signalfd that yields them, plus SIGCHLD.
pub fn signalfd(signals: &[i32]) -> io::Result<OwnedFd> {
    let mut all = signals.to_vec();
    all.push(libc::SIGCHLD);
    let set = sigset(&all);
    // SAFETY: `set` is a valid sigset; we pass no old-set pointer.
    if unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `set` is valid; -1 asks for a new descriptor.
    let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: signalfd returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads the next signal number from a signalfd made by [`signalfd`].
pub fn read_signal(fd: &OwnedFd) -> io::Result<i32> {
    let mut info = std::mem::MaybeUninit::<libc::signalfd_siginfo>::uninit();
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: the buffer is exactly one signalfd_siginfo, as the kernel writes.
    let n = unsafe { libc::read(fd.as_raw_fd(), info.as_mut_ptr().cast(), size) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n as usize != size {
        return Err(io::Error::from_raw_os_error(libc::EIO));
    }
    // SAFETY: the kernel filled the whole struct (checked above).
    Ok(unsafe { info.assume_init() }.ssi_signo as i32)
}

/// Unblocks every signal and restores default dispositions, as a process
/// about to exec the container's program expects.
pub fn reset_all() -> io::Result<()> {
    let empty = sigset(&[]);
    // SAFETY: an empty set is valid; we change only this process's mask.
    if unsafe { libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: SIG_DFL is always a valid disposition; errors for
        // unsupported numbers are ignored on purpose.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    Ok(())
}

/// Sends any signal number (real-time ones included) through a pidfd.
pub fn pidfd_send(pidfd: std::os::fd::BorrowedFd<'_>, signal: i32) -> io::Result<()> {
    // SAFETY: a null siginfo with flags 0 is the documented plain-kill form;
    // the fd is borrowed for the duration of the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
        )
    };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
