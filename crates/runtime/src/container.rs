//! Operations on an existing container: state, start, kill, delete, list, ps.

use std::time::Duration;

use rustix::fs::{Mode, OFlags};

use crate::error::{Error, Result};
use crate::hooks::{self, HookKind};
use crate::proc;
use crate::report::{self, OciState};
use crate::state::{ContainerDir, Record, Status, Store};

/// How long `delete --force` and `kill` wait for processes to go.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

fn open(store: &Store, id: &str) -> Result<(ContainerDir, Record, Status)> {
    let dir = store.open(id)?;
    let record = dir.load()?;
    let status = dir.status(&record);
    Ok((dir, record, status))
}

pub fn state(store: &Store, id: &str) -> Result<OciState> {
    let (_dir, record, status) = open(store, id)?;
    Ok(report::oci_state(&record, status))
}

/// States of every container under the root; unreadable entries are skipped.
pub fn list(store: &Store) -> Result<Vec<OciState>> {
    let mut out = Vec::new();
    for id in store.ids()? {
        if let Ok(state) = state(store, &id) {
            out.push(state);
        }
    }
    Ok(out)
}

pub fn start(store: &Store, id: &str) -> Result<()> {
    let (dir, record, status) = open(store, id)?;
    if status != Status::Created {
        return Err(Error::WrongState {
            id: id.to_string(),
            status: status.as_str(),
            action: "start (only a created container can be started)",
        });
    }
    release_init(&dir, &record)?;
    let state = report::oci_state_json(&record, "running");
    if let Err(e) = hooks::run_all(
        record.config.hooks().as_ref(),
        HookKind::Poststart,
        state.as_bytes(),
    ) {
        // The spec makes poststart failures warnings: the container is running.
        eprintln!("warning: {e}");
    }
    Ok(())
}

/// Lets the waiting init exec the program: one byte through the exec fifo.
/// Returns once init has executed it (or died): init holds the fifo open
/// close-on-exec, so our reading end sees a hang-up exactly then. Poststart
/// hooks thus run after the program started, as the spec asks.
/// When the OOM killer ended init before it executed the program, says so.
pub(crate) fn release_init(dir: &ContainerDir, record: &Record) -> Result<()> {
    let oom_kills = crate::cgroup::OomBaseline::take(record.cgroup.as_ref()).map(|b| b.kills());
    let path = dir.fifo_path();
    let reader = open_fifo(&path, OFlags::RDONLY)?;
    let writer = open_fifo(&path, OFlags::WRONLY).map_err(|e| match e {
        Error::Io { cause, .. } if cause.raw_os_error() == Some(libc::ENXIO) => Error::WrongState {
            id: dir.id.clone(),
            status: "stopped",
            action: "start (its init process is gone)",
        },
        e => e,
    })?;
    rustix::io::write(&writer, b"0").map_err(|e| Error::io("cannot write", &path, e.into()))?;
    drop(writer);
    await_exec(dir, record, &reader, oom_kills)
}

/// The exec fifo opened without blocking.
pub(crate) fn open_fifo(path: &std::path::Path, flags: OFlags) -> Result<std::os::fd::OwnedFd> {
    rustix::fs::open(
        path,
        flags | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io("cannot open", path, e.into()))
}

/// After the start byte is in the fifo: returns once init executed the
/// program or died (then says whether the OOM killer did it, comparing the
/// cgroup's kill count with `oom_kills` from before the start).
pub(crate) fn await_exec(
    dir: &ContainerDir,
    record: &Record,
    reader: &std::os::fd::OwnedFd,
    oom_kills: Option<u64>,
) -> Result<()> {
    let path = dir.fifo_path();
    std::fs::remove_file(&path).map_err(|e| Error::io("cannot remove", &path, e))?;
    wait_for_hangup(reader).map_err(|e| Error::io("waiting for the program to start", &path, e))?;
    let oom_killed = oom_kills
        .zip(record.cgroup.as_ref())
        .is_some_and(|(kills, cg)| crate::cgroup::OomBaseline::at(cg, kills).killed())
        && record
            .init
            .is_some_and(|i| crate::cgroup::died_before_exec(&i));
    if oom_killed {
        return Err(crate::cgroup::oom_killed(
            "starting the container",
            &record.config,
        ));
    }
    Ok(())
}

/// Blocks until no writer holds the fifo any more (POLLHUP is reported
/// even when no event is requested).
fn wait_for_hangup(reader: &std::os::fd::OwnedFd) -> std::io::Result<()> {
    use rustix::event::{PollFd, PollFlags, poll};
    loop {
        let mut fds = [PollFd::new(reader, PollFlags::empty())];
        match poll(&mut fds, None) {
            Ok(_) if fds[0].revents().intersects(PollFlags::HUP | PollFlags::ERR) => return Ok(()),
            Ok(_) | Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

pub fn kill(store: &Store, id: &str, signal: i32, all: bool) -> Result<()> {
    let (_dir, record, status) = open(store, id)?;
    if status == Status::Stopped {
        if all {
            // As runc: `--all` still reaches what a dead init left in its
            // cgroup (containerd's shim runs it on stopped tasks it deletes).
            return signal_cgroup_leftovers(&record, signal);
        }
        return Err(Error::WrongState {
            id: id.to_string(),
            status: status.as_str(),
            // containerd's shim recognises "container not running".
            action: "kill: container not running",
        });
    }
    signal_container(&record, signal, all)?;
    if status == Status::Paused && signal == libc::SIGKILL {
        // As runc: a frozen process dies of SIGKILL only once thawed, and
        // engines (containerd's shim) wait for it to exit.
        thaw(&record)?;
    }
    Ok(())
}

/// Signals the processes left in a stopped container's cgroup. Only the
/// cgroup is trusted here: the dead init's pid may have been reused.
fn signal_cgroup_leftovers(record: &Record, signal: i32) -> Result<()> {
    use brig_cgroups::CgroupMonitor;
    let Some(Ok(pids)) = record.cgroup.as_ref().map(|cg| cg.pids()) else {
        return Ok(());
    };
    for pid in pids {
        if let Some(fd) = proc::ProcessId::of(pid).and_then(|p| p.pidfd()) {
            proc::signal(&fd, signal)?;
        }
    }
    Ok(())
}

fn thaw(record: &Record) -> Result<()> {
    use brig_cgroups::CgroupManager;
    match record
        .cgroup
        .as_ref()
        .map(|cg| cg.freeze(brig_cgroups::FreezerState::Thawed))
    {
        Some(Err(e)) if !e.is_not_found() => Err(e.into()),
        _ => Ok(()),
    }
}

fn signal_container(record: &Record, signal: i32, all: bool) -> Result<()> {
    let Some(init) = record.init else {
        return Ok(());
    };
    if all {
        for pid in container_pids(record, init.pid)
            .into_iter()
            .filter(|&p| p != init.pid)
        {
            if let Some(fd) = proc::ProcessId::of(pid).and_then(|p| p.pidfd()) {
                proc::signal(&fd, signal)?;
            }
        }
    }
    match init.pidfd() {
        Some(fd) => proc::signal(&fd, signal),
        None => Ok(()),
    }
}

pub fn delete(store: &Store, id: &str, force: bool) -> Result<()> {
    let dir = store.open(id)?;
    let record = match dir.load() {
        Ok(record) => record,
        // Interrupted before its first state write: nothing runs, only the directory exists.
        Err(Error::NotFound(_)) => return dir.remove(),
        Err(e) => return Err(e),
    };
    let status = dir.status(&record);
    if matches!(status, Status::Running | Status::Paused) && !force {
        return Err(Error::WrongState {
            id: id.to_string(),
            status: status.as_str(),
            action: "delete without --force (stop it first)",
        });
    }
    stop_all(&record)?;
    if let Some(cg) = &record.cgroup {
        use brig_cgroups::CgroupManager;
        cg.remove()?;
    }
    let state = report::oci_state_json(&record, "stopped");
    if let Err(e) = hooks::run_all(
        record.config.hooks().as_ref(),
        HookKind::Poststop,
        state.as_bytes(),
    ) {
        eprintln!("warning: {e}");
    }
    dir.remove()
}

/// SIGKILLs every process of the container and waits for init to be gone.
fn stop_all(record: &Record) -> Result<()> {
    let Some(init) = record.init else {
        return Ok(());
    };
    let Some(fd) = init.pidfd() else {
        return Ok(());
    };
    signal_container(record, libc::SIGKILL, true)?;
    // Frozen processes (a paused container) only die once thawed.
    thaw(record)?;
    if !proc::wait_exit(&fd, KILL_TIMEOUT)? {
        return Err(Error::sys(
            "waiting for the container to die after SIGKILL",
            std::io::Error::from(std::io::ErrorKind::TimedOut),
        ));
    }
    Ok(())
}

/// Host pids of the container's processes.
pub fn pids(store: &Store, id: &str) -> Result<Vec<i32>> {
    let (_dir, record, status) = open(store, id)?;
    if status == Status::Stopped {
        return Ok(Vec::new());
    }
    Ok(record
        .init
        .map(|i| container_pids(&record, i.pid))
        .unwrap_or_default())
}

/// The container's own process spec, the base `exec` starts from (runc's behaviour).
pub fn process_template(store: &Store, id: &str) -> Result<oci_spec::runtime::Process> {
    let dir = store.open(id)?;
    let record = dir.load()?;
    Ok(record.config.process().clone().unwrap_or_default())
}

/// The container's processes: from its cgroup, else from its pid namespace.
fn container_pids(record: &Record, init: i32) -> Vec<i32> {
    use brig_cgroups::CgroupMonitor;
    match record.cgroup.as_ref().map(|cg| cg.pids()) {
        Some(Ok(pids)) if !pids.is_empty() => pids,
        _ => proc::pids_in_pid_namespace(init),
    }
}
