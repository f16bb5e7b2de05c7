//! Running one runtime command and timing it, as a child subreaper.
//!
//! The worker process is a subreaper so that container processes orphaned
//! by `create`/`run -d` are reparented to it. It reaps every child while it
//! waits for the command it timed: a zombie container process would
//! otherwise make `delete --force` wait for a process that never vanishes.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;
use rustix::process::{
    Pid, PidfdFlags, Signal, WaitOptions, getpid, pidfd_open, pidfd_send_signal,
    set_child_subreaper, wait, waitpid,
};

/// Makes this process the subreaper of everything it starts.
pub fn become_subreaper() -> anyhow::Result<()> {
    set_child_subreaper(Some(getpid()))?;
    Ok(())
}

/// Runs `argv` with stdin/stdout on /dev/null and stderr appended to
/// `stderr_log`; returns its wall-clock time, or the failure with the last
/// line of its stderr. A command still running after `timeout` is killed.
pub fn timed(argv: &[String], stderr_log: &Path, timeout: Duration) -> Result<Duration, String> {
    let log = File::options()
        .create(true)
        .append(true)
        .open(stderr_log)
        .map_err(|e| e.to_string())?;
    let before = log.metadata().map(|m| m.len()).unwrap_or(0);
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    let started = Instant::now();
    let child = cmd.spawn().map_err(|e| format!("{}: {e}", argv[0]))?;
    let status = reap_until(Pid::from_child(&child), started + timeout);
    let elapsed = started.elapsed();
    if let Ok(0) = status {
        return Ok(elapsed);
    }
    let text = std::fs::read(stderr_log).unwrap_or_default();
    let new = String::from_utf8_lossy(text.get(before as usize..).unwrap_or_default()).into_owned();
    let last = new
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message");
    match status {
        Ok(code) => Err(format!("`{}` exited {code}: {last}", argv.join(" "))),
        Err(e) => Err(format!("`{}`: {e}: {last}", argv.join(" "))),
    }
}

/// Reaps children until `pid` exits; returns its shell-style status. Other
/// children (orphaned containers) are reaped within a millisecond of their
/// exit. Past `deadline`, `pid` is killed and an error returned.
pub fn reap_until(pid: Pid, deadline: Instant) -> Result<i32, String> {
    let pidfd = pidfd_open(pid, PidfdFlags::empty()).map_err(|e| format!("pidfd_open: {e}"))?;
    loop {
        loop {
            match wait(WaitOptions::NOHANG) {
                Ok(Some((reaped, status))) if reaped == pid => {
                    return Ok(status
                        .exit_status()
                        .unwrap_or_else(|| 128 + status.terminating_signal().unwrap_or(0)));
                }
                Ok(Some(_)) | Err(Errno::INTR) => {}
                Ok(None) => break,
                Err(e) => return Err(format!("wait: {e}")),
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let _ = pidfd_send_signal(&pidfd, Signal::KILL);
            let _ = waitpid(Some(pid), WaitOptions::empty());
            return Err(format!("timed out, killed (pid {pid:?})"));
        }
        let slice = left.min(Duration::from_millis(1));
        let timeout = Timespec {
            tv_sec: 0,
            tv_nsec: i64::from(slice.subsec_nanos()),
        };
        let _ = poll(&mut [PollFd::new(&pidfd, PollFlags::IN)], Some(&timeout));
    }
}

/// Reaps whatever has already exited.
pub fn reap_zombies() {
    while let Ok(Some(_)) = wait(WaitOptions::NOHANG) {}
}

/// `brig-bench __rss TIMEOUT_MS -- CMD...`: runs CMD, waits, and prints the
/// peak RSS (KiB) of CMD and the descendants it waited for, as wait4's
/// rusage reports it.
pub fn rss_probe(timeout_ms: u64, argv: &[String]) -> anyhow::Result<()> {
    let child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_millis(timeout_ms);
    let status = reap_until(Pid::from_child(&child), deadline).map_err(anyhow::Error::msg)?;
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)?;
    if status != 0 {
        anyhow::bail!("`{}` exited {status}", argv.join(" "));
    }
    println!("{}", usage.max_rss());
    Ok(())
}
