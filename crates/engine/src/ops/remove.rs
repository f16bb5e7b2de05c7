//! `rm`, and the repair every command does first.

use std::time::{Duration, Instant};

use crate::cleanup;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::proc::ProcessId;
use crate::record::{ContainerRecord, State};

/// The exit code recorded for a container whose monitor vanished (a
/// reboot, or the monitor was killed): Docker's "unknown".
pub const LOST_EXIT_CODE: i32 = 255;

impl Engine {
    /// `brig rm [-f] [-v]`: a running container needs `force` (it is
    /// killed first); `volumes` also removes its anonymous volumes.
    pub fn remove(&self, reference: &str, force: bool, volumes: bool) -> Result<String> {
        let rec = self.find(reference)?;
        if rec.state.has_monitor() {
            if !force {
                return Err(Error::wrong_state(
                    &rec.id,
                    rec.state,
                    "stop it first, or use rm -f to kill and remove it",
                ));
            }
            self.kill_for_removal(&rec)?;
        }
        let _lock = self.ctx.lock(&rec.id)?;
        let Some(rec) = self.ctx.db.container(&rec.id)? else {
            // Removed meanwhile (--rm).
            return Ok(rec.id);
        };
        if rec.state.has_monitor() {
            return Err(Error::wrong_state(
                &rec.id,
                rec.state,
                "it was started again meanwhile; retry",
            ));
        }
        if rec.state == State::Creating && rec.owner.is_some_and(|o| o.is_alive()) {
            return Err(Error::wrong_state(
                &rec.id,
                rec.state,
                "it is being created; retry",
            ));
        }
        let rec = self.ctx.db.modify(&rec.id, |r| {
            r.state = State::Removing;
            r.owner = Some(ProcessId::current());
            Ok(r.clone())
        })?;
        cleanup::remove_container(&self.ctx, &rec, volumes)?;
        Ok(rec.id)
    }

    fn kill_for_removal(&self, rec: &ContainerRecord) -> Result<()> {
        self.ctx.db.modify(&rec.id, |r| {
            r.stop_requested = true;
            Ok(())
        })?;
        let runtime = self.ctx.runtime(rec);
        let _ = runtime.kill(&rec.id, 9, true);
        if rec.state == State::Paused {
            let _ = runtime.resume(&rec.id);
        }
        if !self.wait_stopped(&rec.id, Some(Instant::now() + Duration::from_secs(10)))? {
            // The monitor does not answer: end it, then repair.
            if let Some(m) = rec.monitor.filter(|m| m.is_alive())
                && let Some(pid) = rustix::process::Pid::from_raw(m.pid)
            {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            std::thread::sleep(Duration::from_millis(50));
            if let Some(r) = self.ctx.db.container(&rec.id)? {
                self.repair_one(&r)?;
            }
        }
        Ok(())
    }

    /// Finishes what crashed processes left: a container being created or
    /// removed by a process that is gone is removed; a running container
    /// whose monitor is gone (killed, or a reboot wiped `/run`) is marked
    /// exited with its leftovers released, so `start` works again.
    pub fn repair(&self) -> Result<()> {
        let suspects = self.ctx.db.liveness_in(&[
            State::Creating,
            State::Removing,
            State::Running,
            State::Paused,
            State::Restarting,
        ])?;
        for suspect in suspects.iter().filter(|s| s.orphaned()) {
            if let Some(rec) = self.ctx.db.container(&suspect.id)? {
                self.repair_one(&rec)?;
            }
        }
        self.remove_stale_mount_points()
    }

    /// Mount point directories of containers that do not run (a monitor
    /// cannot remove its own: it is a mount point in its namespace).
    fn remove_stale_mount_points(&self) -> Result<()> {
        let Ok(dir) = std::fs::read_dir(self.ctx.paths.rootfs_dir()) else {
            return Ok(());
        };
        let entries: Vec<std::fs::DirEntry> = dir.flatten().collect();
        if entries.is_empty() {
            return Ok(());
        }
        let active: std::collections::HashSet<String> = self
            .ctx
            .db
            .liveness_in(&[
                State::Running,
                State::Paused,
                State::Restarting,
                State::Creating,
            ])?
            .into_iter()
            .map(|r| r.id)
            .collect();
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            // `<id>.idmap` holds a --userns auto container's idmapped layers.
            let id = name.strip_suffix(".idmap").unwrap_or(&name).to_owned();
            let running = active.contains(&id);
            // A locked container may have a temporary mount (cp of a stopped one).
            if !running && let Some(_lock) = self.ctx.try_lock(&id)? {
                cleanup::remove_mount_point(&e.path(), name.ends_with(".idmap"))?;
            }
        }
        Ok(())
    }

    pub(crate) fn repair_one(&self, rec: &ContainerRecord) -> Result<()> {
        let orphaned = match rec.state {
            State::Creating | State::Removing => rec.owner.is_none_or(|o| !o.is_alive()),
            s if s.has_monitor() => rec.monitor.is_none_or(|m| !m.is_alive()),
            _ => false,
        };
        if !orphaned {
            return Ok(());
        }
        // Someone else holds the lock: they are on it.
        let Some(_lock) = self.ctx.try_lock(&rec.id)? else {
            return Ok(());
        };
        let Some(rec) = self.ctx.db.container(&rec.id)? else {
            return Ok(());
        };
        match rec.state {
            State::Creating => cleanup::remove_container(&self.ctx, &rec, true),
            State::Removing => cleanup::remove_container(&self.ctx, &rec, false),
            s if s.has_monitor() && rec.monitor.is_none_or(|m| !m.is_alive()) => {
                cleanup::release_run(&self.ctx, &rec)?;
                cleanup::remove_sockets(&self.ctx, &rec.id);
                let rec = self.ctx.db.modify(&rec.id, |r| {
                    r.state = State::Exited;
                    r.exit_code = Some(LOST_EXIT_CODE);
                    r.finished_at = Some(crate::time::now_ns());
                    r.pid = None;
                    r.monitor = None;
                    r.error = Some(
                        "the container's monitor was gone (killed, or the machine restarted)"
                            .into(),
                    );
                    Ok(r.clone())
                })?;
                self.ctx
                    .event(&rec, "die", &[("exitCode", LOST_EXIT_CODE.to_string())]);
                if rec.config.auto_remove {
                    cleanup::remove_container(&self.ctx, &rec, true)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}
