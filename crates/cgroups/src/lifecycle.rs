//! Steps of `remove()` shared by the backends: kill what is left, wait for
//! the cgroup to empty, remove the parents we created.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{CgroupError, Result};
use crate::fsutil;

/// How long `remove()` waits for killed processes to leave the cgroup.
pub(crate) const EMPTY_TIMEOUT: Duration = Duration::from_secs(5);

/// Refuses to go on when the calling process is itself in the cgroup:
/// killing "everything in it" would kill us.
pub(crate) fn refuse_self(pids: &[i32], dir: &Path) -> Result<()> {
    let me = rustix::process::getpid().as_raw_nonzero().get();
    if pids.contains(&me) {
        return Err(CgroupError::Busy {
            path: dir.to_path_buf(),
            pids: vec![me],
            waited: Duration::ZERO,
        });
    }
    Ok(())
}

/// Sends SIGKILL to each pid; ones that already exited are fine.
pub(crate) fn kill_all(pids: &[i32]) {
    for &pid in pids {
        if let Some(pid) = rustix::process::Pid::from_raw(pid) {
            // ESRCH (already gone) is the outcome we want anyway.
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

/// Is `pid` a process that still runs (not gone, not a zombie)? Zombies
/// have nothing left to kill and hold no cgroup resources.
fn is_live(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the parenthesised command name, which may contain spaces.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

/// Polls `list` with short, growing sleeps until no live process is left,
/// for at most [`EMPTY_TIMEOUT`]; SIGKILLs newcomers (children forked meanwhile).
pub(crate) fn wait_until_empty(dir: &Path, list: impl Fn() -> Result<Vec<i32>>) -> Result<()> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(200);
    loop {
        let mut pids = list()?;
        pids.retain(|&pid| is_live(pid));
        if pids.is_empty() {
            return Ok(());
        }
        if start.elapsed() > EMPTY_TIMEOUT {
            return Err(CgroupError::Busy {
                path: dir.to_path_buf(),
                pids,
                waited: start.elapsed(),
            });
        }
        kill_all(&pids);
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Removes the `created - 1` parents above `dir` that we created, innermost
/// first, each only if it is an empty cgroup; stops at the first that is
/// still in use (another container's cgroup lives there).
pub(crate) fn remove_created_parents(dir: &Path, created: usize) {
    let mut parent: Option<PathBuf> = dir.parent().map(Path::to_path_buf);
    for _ in 1..created {
        let Some(p) = parent else { return };
        if !fsutil::rmdir_if_empty(&p) {
            return;
        }
        parent = p.parent().map(Path::to_path_buf);
    }
}
