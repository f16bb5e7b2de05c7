//! Process creation: `fork` and `clone3` with namespace flags.
//!
//! Callers must be single-threaded (the runtime never starts threads): after
//! a fork of a multi-threaded process only async-signal-safe calls are sound.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// The outcome of a successful fork or clone, seen from either side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForkResult {
    /// We are the new process.
    Child,
    /// We are the caller; `pid` is the new process as seen from our pid namespace.
    Parent { pid: i32 },
}

/// Forks the calling process.
pub fn fork() -> io::Result<ForkResult> {
    // SAFETY: fork has no memory-safety preconditions of its own. The runtime
    // is single-threaded, so the child's copy of the address space holds no
    // lock taken by another thread.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(ForkResult::Child),
        pid => Ok(ForkResult::Parent { pid }),
    }
}

/// What `clone3` should do beyond a plain fork.
#[derive(Debug, Default, Clone, Copy)]
pub struct CloneArgs<'a> {
    /// `CLONE_NEW*` namespace flags (and only those: no `CLONE_VM`, no threads).
    pub namespaces: u64,
    /// Place the child in this cgroup v2 directory before it runs (`CLONE_INTO_CGROUP`).
    pub cgroup: Option<BorrowedFd<'a>>,
}

/// Mask of the flags `clone3` may be given through [`CloneArgs::namespaces`].
const NAMESPACE_FLAGS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP) as u64
    | CLONE_NEWTIME;

/// `CLONE_NEWTIME` is only valid for `clone3` and `unshare` (it collides with CSIGNAL in `clone`).
pub const CLONE_NEWTIME: u64 = 0x80;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

#[repr(C)]
#[derive(Default)]
struct RawCloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Creates a child process in new namespaces (and optionally a cgroup) in one step.
///
/// Like `fork`, the child continues from this call on a copy of our memory.
/// A child in a new pid namespace is its pid 1.
pub fn clone3(args: &CloneArgs<'_>) -> io::Result<ForkResult> {
    if args.namespaces & !NAMESPACE_FLAGS != 0 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut raw = RawCloneArgs {
        flags: args.namespaces,
        exit_signal: libc::SIGCHLD as u64,
        ..RawCloneArgs::default()
    };
    if let Some(cgroup) = args.cgroup {
        raw.flags |= CLONE_INTO_CGROUP;
        raw.cgroup = cgroup.as_raw_fd() as u64;
    }
    // SAFETY: `raw` is a properly sized, initialised clone_args that lives for
    // the call. Without CLONE_VM and with a zero stack the kernel duplicates
    // the address space as fork does, so the child may return into Rust code.
    // The caller is single-threaded (module contract).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut raw as *mut RawCloneArgs,
            std::mem::size_of::<RawCloneArgs>(),
        )
    };
    match ret {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(ForkResult::Child),
        pid => Ok(ForkResult::Parent { pid: pid as i32 }),
    }
}

/// Ends the calling process at once, without running destructors or atexit
/// handlers: what a forked child must do instead of returning into its
/// parent's stack frames.
pub fn exit_immediately(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust-managed state.
    unsafe { libc::_exit(code) }
}

/// Moves the caller into new namespaces (`CLONE_NEW*` flags only).
pub fn unshare(namespaces: u64) -> io::Result<()> {
    if namespaces & !NAMESPACE_FLAGS != 0 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: only namespace flags are passed (checked above); they do not
    // unshare the fd table or fs struct, so no descriptor or path held by
    // Rust code changes meaning.
    if unsafe { libc::unshare(namespaces as libc::c_int) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
