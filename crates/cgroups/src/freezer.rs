//! Freezing and thawing (`pause` / `resume`), and reading the state back.
//!
//! v1: write `FROZEN` to `freezer.state` and re-read until the kernel says
//! `FROZEN` (it passes through `FREEZING`), thawing briefly now and then so
//! a forking workload cannot starve the freezer, as runc does.
//! v2: write `1` to `cgroup.freeze` and wait, with `poll(2)` on
//! `cgroup.events`, until it reports `frozen 1`.
//! Both give up after a bounded time and leave the cgroup thawed.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{CgroupError, Result};
use crate::fsutil;

/// The freezer state of a cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FreezerState {
    /// Running normally.
    Thawed,
    /// Every process is stopped.
    Frozen,
}

/// How long freezing may take before we give up (and thaw).
const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

/// Sets the v1 freezer of `dir` (the cgroup in the freezer hierarchy).
pub(crate) fn set_v1(dir: &Path, state: FreezerState) -> Result<()> {
    let file = dir.join("freezer.state");
    if state == FreezerState::Thawed {
        return fsutil::write_file(&file, "THAWED", "resume");
    }
    let start = Instant::now();
    for attempt in 0u32.. {
        if attempt % 50 == 49 {
            // Let new children finish forking, then try again.
            fsutil::write_file(&file, "THAWED", "pause")?;
            std::thread::sleep(Duration::from_millis(10));
        }
        fsutil::write_file(&file, "FROZEN", "pause")?;
        if attempt % 25 == 24 {
            std::thread::sleep(Duration::from_micros(100));
        }
        match fsutil::read_string(&file)?.trim() {
            "FROZEN" => return Ok(()),
            _ if start.elapsed() > FREEZE_TIMEOUT => break,
            _ => {}
        }
    }
    fsutil::write_file(&file, "THAWED", "pause")?;
    Err(CgroupError::FreezeTimeout {
        path: dir.to_path_buf(),
        state: "FROZEN",
        waited: start.elapsed(),
    })
}

/// Reads the v1 freezer state (`FREEZING` counts as thawed: not all stopped).
pub(crate) fn get_v1(dir: &Path) -> Result<FreezerState> {
    let text = fsutil::read_string(&dir.join("freezer.state"))?;
    Ok(if text.trim() == "FROZEN" {
        FreezerState::Frozen
    } else {
        FreezerState::Thawed
    })
}

/// Sets the v2 freezer of `dir` and waits until the kernel reports it.
pub(crate) fn set_v2(dir: &Path, state: FreezerState) -> Result<()> {
    let (value, want) = match state {
        FreezerState::Frozen => ("1", true),
        FreezerState::Thawed => ("0", false),
    };
    let field = if want { "pause" } else { "resume" };
    fsutil::write_file(&dir.join("cgroup.freeze"), value, field)?;
    let events = dir.join("cgroup.events");
    // A fake tree has no kernel behind it and no cgroup.events to wait on.
    if !events.exists() {
        return Ok(());
    }
    match wait_frozen(&events, want) {
        Ok(()) => Ok(()),
        Err(e) => {
            if want {
                let _ = fsutil::write_file(&dir.join("cgroup.freeze"), "0", field);
            }
            Err(e)
        }
    }
}

fn frozen_now(events: &Path) -> Result<bool> {
    let text = fsutil::read_string(events)?;
    Ok(fsutil::parse_flat_keyed(&text).get("frozen") == Some(&1))
}

fn wait_frozen(events: &Path, want: bool) -> Result<()> {
    let start = Instant::now();
    let file = std::fs::File::open(events).map_err(|e| CgroupError::io("open", events, e))?;
    loop {
        if frozen_now(events)? == want {
            return Ok(());
        }
        let left = FREEZE_TIMEOUT.saturating_sub(start.elapsed());
        if left.is_zero() {
            let dir = events.parent().unwrap_or(events).to_path_buf();
            return Err(CgroupError::FreezeTimeout {
                path: dir,
                state: if want { "frozen" } else { "thawed" },
                waited: start.elapsed(),
            });
        }
        // kernfs signals a change of cgroup.events with POLLPRI; wake at
        // least every 10 ms anyway in case the change raced our read.
        let mut fds = [rustix::event::PollFd::new(
            &file,
            rustix::event::PollFlags::PRI,
        )];
        let nap = left.min(Duration::from_millis(10));
        let timeout = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: nap.subsec_nanos().into(),
        };
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(CgroupError::io("poll", events, e.into())),
        }
    }
}

/// Reads the v2 freezer state from `cgroup.events` (or `cgroup.freeze` on a fake tree).
pub(crate) fn get_v2(dir: &Path) -> Result<FreezerState> {
    if !dir.is_dir() {
        return Err(CgroupError::io(
            "read the freezer state of",
            dir,
            std::io::ErrorKind::NotFound.into(),
        ));
    }
    let events = dir.join("cgroup.events");
    let frozen = if events.exists() {
        frozen_now(&events)?
    } else {
        fsutil::read_optional(&dir.join("cgroup.freeze"))?.is_some_and(|t| t.trim() == "1")
    };
    Ok(if frozen {
        FreezerState::Frozen
    } else {
        FreezerState::Thawed
    })
}
