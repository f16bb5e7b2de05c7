//! The cgroup v1 backend: one directory per mounted hierarchy.

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use crate::controller::{Controller, required_controllers};
use crate::error::{CgroupError, Result};
use crate::freezer::{self, FreezerState};
use crate::fsutil;
use crate::layout::V1Mount;
use crate::lifecycle;
use crate::manager::{CgroupManager, CgroupMonitor};
use crate::oom::{OomWatcher, read_oom_kills};
use crate::path::{CgroupPath, OwnCgroups};
use crate::plan::{DirProbe, FileWrite, apply_writes, check_before_update, missing_controller};
use crate::plan_v1::plan_v1;
use crate::stats::Stats;
use crate::stats_v1;

/// The container's directory in one v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct V1Dir {
    /// The hierarchy's controllers (empty for a named hierarchy).
    pub controllers: Vec<Controller>,
    /// `name=` of a named hierarchy (e.g. `systemd`).
    pub name: Option<String>,
    /// Where the hierarchy is mounted.
    pub mount_point: PathBuf,
    /// The container's cgroup directory in it.
    pub dir: PathBuf,
    /// How many trailing levels of `dir` `create` made (0 before `create`).
    #[serde(default)]
    pub created: usize,
    /// Under the shared `/brig` parent, which stays: nothing above `dir`
    /// is removed, whoever made it (see [`CgroupPath::under_shared_parent`]).
    #[serde(default)]
    pub keeps_parents: bool,
}

/// A container's cgroup on cgroup v1 hierarchies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct V1Manager {
    dirs: Vec<V1Dir>,
}

impl V1Manager {
    /// Places `path` in each of `mounts`; `own` is needed for relative paths.
    pub fn new(mounts: &[V1Mount], path: &CgroupPath, own: Option<&OwnCgroups>) -> Result<Self> {
        let dirs = mounts
            .iter()
            .map(|m| {
                let own_path =
                    own.and_then(|o| o.v1_path(m.proc_names().iter().map(String::as_str)));
                Ok(V1Dir {
                    controllers: m.controllers.clone(),
                    name: m.name.clone(),
                    mount_point: m.mount_point.clone(),
                    dir: path.dir_in(&m.mount_point, &m.mount_root, own_path)?,
                    created: 0,
                    keeps_parents: path.under_shared_parent(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { dirs })
    }

    /// The container's directory in every hierarchy.
    pub fn dirs(&self) -> &[V1Dir] {
        &self.dirs
    }

    /// The container's directory in the hierarchy of `controller`.
    pub fn dir_of(&self, controller: Controller) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|d| d.controllers.contains(&controller))
            .map(|d| d.dir.as_path())
    }

    fn require(&self, controller: Controller, what: &str) -> Result<&Path> {
        self.dir_of(controller)
            .ok_or_else(|| missing_controller(controller, what))
    }

    /// Everything `set_resources` would write, or why it refuses; writes nothing.
    pub(crate) fn plan(&self, resources: &LinuxResources) -> Result<Vec<FileWrite>> {
        for (controller, field) in required_controllers(resources) {
            self.require(controller, field)?;
        }
        let usage = match self.dir_of(Controller::Memory) {
            Some(dir) => fsutil::read_u64(&dir.join("memory.usage_in_bytes"))?,
            None => None,
        };
        check_before_update(resources, usage)?;
        plan_v1(resources, &DirProbe(|c| self.dir_of(c)))
    }

    pub(crate) fn apply(&self, writes: &[FileWrite]) -> Result<()> {
        apply_writes(writes, |c| self.dir_of(c))
    }

    /// Removes the (empty) cgroup in every hierarchy, then created parents.
    pub(crate) fn remove_dirs(&self) -> Result<()> {
        for d in &self.dirs {
            fsutil::rmdir_tree(&d.dir)?;
        }
        for d in &self.dirs {
            lifecycle::remove_created_parents(&d.dir, d.created);
        }
        Ok(())
    }

    /// The common case of `remove`, a container whose processes are gone
    /// and which made no cgroups of its own: no process in any hierarchy
    /// and every rmdir succeeds. False (having removed what it could) when
    /// anything else is the case, for the careful path to finish.
    fn remove_if_plainly_empty(&self) -> Result<bool> {
        for d in &self.dirs {
            let procs = fsutil::read_optional(&d.dir.join("cgroup.procs"))?;
            if procs.is_some_and(|p| !p.trim().is_empty()) {
                return Ok(false);
            }
        }
        for d in &self.dirs {
            match std::fs::remove_dir(&d.dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(_) => return Ok(false),
            }
        }
        for d in &self.dirs {
            lifecycle::remove_created_parents(&d.dir, d.created);
        }
        Ok(true)
    }

    pub(crate) fn ensure_exists(&self) -> Result<()> {
        match self.dirs.iter().find(|d| d.dir.is_dir()) {
            Some(_) => Ok(()),
            None => {
                let dir = self.dirs.first().map(|d| d.dir.clone()).unwrap_or_default();
                Err(CgroupError::io(
                    "read",
                    dir,
                    std::io::ErrorKind::NotFound.into(),
                ))
            }
        }
    }
}

/// A new cpuset cgroup starts with no CPUs and no memory nodes, and no task
/// may join it like that: copy both from the parent.
fn init_cpuset(dir: &Path) -> Result<()> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let own = fsutil::read_optional(&dir.join(file))?.unwrap_or_default();
        if !own.trim().is_empty() {
            continue;
        }
        if let Some(value) =
            fsutil::read_optional(&parent.join(file))?.filter(|v| !v.trim().is_empty())
        {
            fsutil::write_file(&dir.join(file), value.trim(), "a new cpuset cgroup")?;
        }
    }
    Ok(())
}

impl CgroupManager for V1Manager {
    fn create(&mut self) -> Result<()> {
        for d in &mut self.dirs {
            let made = fsutil::mkdir_all(&d.dir, &d.mount_point)?;
            if d.controllers.contains(&Controller::Cpuset) {
                // The leaf too: a leftover empty cpuset from a failed attempt
                // would refuse every task.
                for level in made.iter().chain(std::iter::once(&d.dir)) {
                    init_cpuset(level)?;
                }
            }
            if !d.keeps_parents {
                d.created = d.created.max(made.len());
            }
        }
        Ok(())
    }

    fn add_task(&self, pid: i32) -> Result<()> {
        for d in &self.dirs {
            fsutil::write_file(
                &d.dir.join("cgroup.procs"),
                &pid.to_string(),
                &format!("process {pid}"),
            )?;
        }
        Ok(())
    }

    fn set_resources(&self, resources: &LinuxResources) -> Result<()> {
        let writes = self.plan(resources)?;
        self.apply(&writes)
    }

    fn freeze(&self, state: FreezerState) -> Result<()> {
        freezer::set_v1(self.require(Controller::Freezer, "pause/resume")?, state)
    }

    fn remove(&self) -> Result<()> {
        if self.remove_if_plainly_empty()? {
            return Ok(());
        }
        let pids = self.pids()?;
        if let Some(first) = self.dirs.first() {
            lifecycle::refuse_self(&pids, &first.dir)?;
        }
        if !pids.is_empty() {
            // Frozen, nothing can fork away between listing and killing.
            let freezer = self.dir_of(Controller::Freezer).filter(|d| d.is_dir());
            if let Some(dir) = freezer {
                let _ = freezer::set_v1(dir, FreezerState::Frozen);
            }
            lifecycle::kill_all(&self.pids()?);
            if let Some(dir) = freezer {
                freezer::set_v1(dir, FreezerState::Thawed)?;
            }
            // Nothing can join a cgroup that was empty: wait only after killing.
            let first = self.dirs.first().map(|d| d.dir.clone()).unwrap_or_default();
            lifecycle::wait_until_empty(&first, || self.pids())?;
        }
        self.remove_dirs()
    }
}

impl CgroupMonitor for V1Manager {
    fn pids(&self) -> Result<Vec<i32>> {
        let mut pids = Vec::new();
        for d in &self.dirs {
            pids.extend(fsutil::read_pids_recursive(&d.dir)?);
        }
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    fn stats(&self) -> Result<Stats> {
        self.ensure_exists()?;
        let mut stats = Stats::default();
        stats_v1::cpu(
            self.dir_of(Controller::Cpu),
            self.dir_of(Controller::Cpuacct),
            &mut stats,
        )?;
        if let Some(dir) = self.dir_of(Controller::Memory) {
            stats_v1::memory(dir, &mut stats)?;
        }
        if let Some(dir) = self.dir_of(Controller::Pids) {
            stats_v1::pids(dir, &mut stats)?;
        }
        if let Some(dir) = self.dir_of(Controller::Blkio) {
            stats_v1::blkio(dir, &mut stats)?;
        }
        if let Some(dir) = self.dir_of(Controller::Hugetlb) {
            stats_v1::hugetlb(dir, &mut stats)?;
        }
        Ok(stats)
    }

    fn freezer_state(&self) -> Result<FreezerState> {
        freezer::get_v1(self.require(Controller::Freezer, "the freezer state")?)
    }

    fn oom_kill_count(&self) -> Result<u64> {
        read_oom_kills(
            &self
                .require(Controller::Memory, "the OOM kill count")?
                .join("memory.oom_control"),
        )
    }

    fn oom_watcher(&self) -> Result<OomWatcher> {
        OomWatcher::v1(self.require(Controller::Memory, "OOM notification")?)
    }
}
