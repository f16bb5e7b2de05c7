//! Starting a monitor that is nobody's child, with one execution: fork,
//! fork again in a new session, exec; the middle process exits at once
//! and is reaped by the caller. (Re-executing the monitor program to
//! detach, as before, cost a second program start on every `run`.)

use std::ffi::{CString, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use brig_sys::process::{ForkResult, exit_immediately, fork};

use crate::error::{Error, IoContext, Result};

/// Runs `program args...` detached, with `set` added to (and `unset`
/// removed from) our environment, stdin and stderr on /dev/null; returns
/// the read end of a pipe that is its stdout.
pub(super) fn spawn_detached(
    program: &Path,
    args: &[OsString],
    set: &[(&str, &str)],
    unset: &[&str],
) -> Result<OwnedFd> {
    let bad = |what: &str| Error::io("start the monitor", program, std::io::Error::other(what));
    // Everything the children need is made before forking.
    let path = CString::new(program.as_os_str().as_bytes()).map_err(|_| bad("NUL in path"))?;
    let mut argv = vec![path.clone()];
    for a in args {
        argv.push(CString::new(a.as_bytes()).map_err(|_| bad("NUL in argument"))?);
    }
    let mut envp = Vec::new();
    for (k, v) in std::env::vars_os() {
        let key = k.as_bytes();
        if unset
            .iter()
            .chain(set.iter().map(|(k, _)| k))
            .any(|u| u.as_bytes() == key)
        {
            continue;
        }
        let mut entry = key.to_vec();
        entry.push(b'=');
        entry.extend(v.as_bytes());
        if let Ok(c) = CString::new(entry) {
            envp.push(c);
        }
    }
    for (k, v) in set {
        envp.push(CString::new(format!("{k}={v}")).map_err(|_| bad("NUL in environment"))?);
    }
    let null = std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .ctx("open", "/dev/null")?;
    let (read, write) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).ctx("create a pipe", "pipe2")?;
    match fork().ctx("start the monitor", program)? {
        ForkResult::Child => {
            // Descriptors and exec only (our parent may be multithreaded).
            let _ = rustix::stdio::dup2_stdin(&null);
            let _ = rustix::stdio::dup2_stdout(&write);
            let _ = rustix::stdio::dup2_stderr(&null);
            if let Ok(ForkResult::Child) = fork() {
                let _ = rustix::process::setsid();
                let _ = brig_sys::exec::execve(&path, &argv, &envp);
                exit_immediately(127);
            }
            exit_immediately(0);
        }
        ForkResult::Parent { pid } => {
            drop(write);
            if let Some(child) = rustix::process::Pid::from_raw(pid) {
                let _ =
                    rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty());
            }
            Ok(read)
        }
    }
}
