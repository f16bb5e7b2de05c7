//! Namespaces made by a forked child that only waits: it is in its new
//! namespaces as soon as `clone3` returns, so their `/proc/PID/ns/*` files
//! can be set up and held at once (no helper program, no polling).

use brig_sys::process::{CloneArgs, ForkResult, clone3, exit_immediately};

use crate::error::{IoContext, Result};

/// Runs `f` with the PID of a child in new namespaces `flags`
/// (`CLONE_NEW*`); the child is killed and reaped when `f` returns.
pub(super) fn with_child_in<T>(flags: u64, f: impl FnOnce(i32) -> Result<T>) -> Result<T> {
    let (hold, _release) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).ctx("create a pipe", "pipe2")?;
    let args = CloneArgs {
        namespaces: flags,
        cgroup: None,
    };
    let pid = match clone3(&args).ctx("create namespaces", "clone3")? {
        ForkResult::Child => {
            // Only async-signal-safe calls here: wait until killed.
            let _ = rustix::io::read(&hold, &mut [0u8; 1]);
            exit_immediately(0);
        }
        ForkResult::Parent { pid } => pid,
    };
    let result = f(pid);
    if let Some(child) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(child, rustix::process::Signal::KILL);
        let _ = rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty());
    }
    result
}
