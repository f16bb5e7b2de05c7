//! The cgroup v2 backend: one directory in the unified hierarchy.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use crate::controller::{Controller, required_controllers};
use crate::error::{CgroupError, Result};
use crate::freezer::{self, FreezerState};
use crate::fsutil;
use crate::layout::{UnifiedMount, read_v2_controllers};
use crate::lifecycle;
use crate::manager::{CgroupManager, CgroupMonitor};
use crate::oom::{OomWatcher, read_oom_kills};
use crate::path::{CgroupPath, OwnCgroups};
use crate::plan::{DirProbe, FileWrite, apply_writes, check_before_update};
use crate::plan_v2::plan_v2;
use crate::stats::Stats;
use crate::stats_v1;
use crate::stats_v2;
use crate::v2_devices;

/// What `set_resources` will do on v2: file writes, then the device program.
#[derive(Debug)]
pub(crate) struct V2Plan {
    pub(crate) writes: Vec<FileWrite>,
    pub(crate) device_rules: Option<Vec<crate::devices::DeviceRule>>,
}

/// A container's cgroup in a cgroup2 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct V2Manager {
    mount_point: PathBuf,
    dir: PathBuf,
    /// How many trailing levels of `dir` `create` made (0 before `create`).
    #[serde(default)]
    created: usize,
    /// Under the shared `/brig` parent, which stays: nothing above `dir`
    /// is removed, whoever made it (see [`CgroupPath::under_shared_parent`]).
    #[serde(default)]
    keeps_parents: bool,
    /// Controllers the hierarchy offers at its root (empty: unknown).
    #[serde(default)]
    available: Vec<Controller>,
}

impl V2Manager {
    /// Places `path` in the unified hierarchy; `own` is needed for relative paths.
    pub fn new(
        unified: &UnifiedMount,
        path: &CgroupPath,
        own: Option<&OwnCgroups>,
    ) -> Result<Self> {
        let own_path = own.and_then(|o| o.unified.as_deref());
        let dir = path.dir_in(&unified.mount_point, &unified.mount_root, own_path)?;
        Ok(Self {
            mount_point: unified.mount_point.clone(),
            dir,
            created: 0,
            keeps_parents: path.under_shared_parent(),
            available: unified.controllers.clone(),
        })
    }

    /// The container's cgroup directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// An `O_PATH` descriptor of the cgroup directory, for
    /// `clone3(CLONE_INTO_CGROUP)`. Call after `create`.
    pub fn open_dir(&self) -> Result<OwnedFd> {
        use rustix::fs::{Mode, OFlags};
        rustix::fs::open(
            &self.dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| CgroupError::io("open", &self.dir, e.into()))
    }

    /// Controllers enabled for the container's cgroup; `None` when the
    /// directory has no `cgroup.controllers` (a fake tree).
    pub fn enabled_controllers(&self) -> Result<Option<Vec<Controller>>> {
        let file = self.dir.join("cgroup.controllers");
        if !file.exists() {
            return Ok(None);
        }
        read_v2_controllers(&file).map(Some)
    }

    /// Enables every available controller in `cgroup.subtree_control` of
    /// each ancestor, from the mount point down to the cgroup's parent.
    /// Refusals (e.g. an ancestor holding processes) are left for
    /// `set_resources` to report against the field that needs the controller.
    fn enable_controllers(&self) -> Result<()> {
        let Ok(below) = self.dir.strip_prefix(&self.mount_point) else {
            return Ok(());
        };
        let mut ancestor = self.mount_point.clone();
        for part in below.iter() {
            let available =
                fsutil::read_optional(&ancestor.join("cgroup.controllers"))?.unwrap_or_default();
            let enabled = fsutil::read_optional(&ancestor.join("cgroup.subtree_control"))?
                .unwrap_or_default();
            let missing: Vec<String> = available
                .split_whitespace()
                .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
                .map(|c| format!("+{c}"))
                .collect();
            if !missing.is_empty() {
                let control = ancestor.join("cgroup.subtree_control");
                if fsutil::write_file(&control, &missing.join(" "), "enabling controllers").is_err()
                {
                    for one in &missing {
                        let _ = fsutil::write_file(&control, one, "enabling controllers");
                    }
                }
            }
            ancestor.push(part);
        }
        Ok(())
    }

    /// Everything `set_resources` would do, or why it refuses; changes nothing.
    pub(crate) fn plan(&self, resources: &LinuxResources) -> Result<V2Plan> {
        self.check_controllers(resources)?;
        let usage = fsutil::read_u64(&self.dir.join("memory.current"))?;
        check_before_update(resources, usage)?;
        let device_rules = match resources.devices() {
            Some(spec) => Some(v2_devices::checked_rules(&self.dir, spec)?),
            None => None,
        };
        let writes = plan_v2(resources, &DirProbe(|_| Some(self.dir.as_path())))?;
        Ok(V2Plan {
            writes,
            device_rules,
        })
    }

    pub(crate) fn apply(&self, plan: &V2Plan) -> Result<()> {
        apply_writes(&plan.writes, |_| Some(self.dir.as_path()))?;
        if let Some(rules) = &plan.device_rules {
            v2_devices::attach(&self.dir, rules)?;
        }
        Ok(())
    }

    /// Removes the (empty) cgroup, then the parents `create` made.
    pub(crate) fn remove_dirs(&self) -> Result<()> {
        fsutil::rmdir_tree(&self.dir)?;
        lifecycle::remove_created_parents(&self.dir, self.created);
        Ok(())
    }

    /// Refuses resources whose controller this hierarchy lacks, or that is
    /// not enabled for this cgroup.
    fn check_controllers(&self, resources: &LinuxResources) -> Result<()> {
        let enabled = self.enabled_controllers()?;
        for (controller, field) in required_controllers(resources) {
            let Some(name) = controller.v2_name() else {
                continue;
            };
            let has = |list: &[Controller]| list.iter().any(|c| c.v2_name() == Some(name));
            if !self.available.is_empty() && !has(&self.available) {
                let mount = self.mount_point.display();
                return Err(CgroupError::not_supported(
                    field,
                    format!(
                        "the {name} controller is not available in the cgroup2 hierarchy at {mount}"
                    ),
                ));
            }
            if enabled.as_deref().is_some_and(|list| !has(list)) {
                let dir = self.dir.display();
                return Err(CgroupError::not_supported(
                    field,
                    format!(
                        "the {name} controller is not enabled for {dir} (see cgroup.controllers there)"
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl CgroupManager for V2Manager {
    fn create(&mut self) -> Result<()> {
        let made = fsutil::mkdir_all(&self.dir, &self.mount_point)?;
        if !self.keeps_parents {
            self.created = self.created.max(made.len());
        }
        self.enable_controllers()
    }

    fn add_task(&self, pid: i32) -> Result<()> {
        fsutil::write_file(
            &self.dir.join("cgroup.procs"),
            &pid.to_string(),
            &format!("process {pid}"),
        )
    }

    fn set_resources(&self, resources: &LinuxResources) -> Result<()> {
        let plan = self.plan(resources)?;
        self.apply(&plan)
    }

    fn freeze(&self, state: FreezerState) -> Result<()> {
        freezer::set_v2(&self.dir, state)
    }

    fn remove(&self) -> Result<()> {
        let pids = self.pids()?;
        lifecycle::refuse_self(&pids, &self.dir)?;
        if !pids.is_empty() {
            let kill = self.dir.join("cgroup.kill");
            if !(kill.exists() && fsutil::write_file(&kill, "1", "delete").is_ok()) {
                let _ = freezer::set_v2(&self.dir, FreezerState::Frozen);
                lifecycle::kill_all(&self.pids()?);
                freezer::set_v2(&self.dir, FreezerState::Thawed)?;
            }
            // Nothing can join a cgroup that was empty: wait only after killing.
            lifecycle::wait_until_empty(&self.dir, || self.pids())?;
        }
        self.remove_dirs()
    }
}

impl CgroupMonitor for V2Manager {
    fn pids(&self) -> Result<Vec<i32>> {
        let mut pids = fsutil::read_pids_recursive(&self.dir)?;
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    fn stats(&self) -> Result<Stats> {
        if !self.dir.is_dir() {
            return Err(CgroupError::io(
                "read",
                &self.dir,
                std::io::ErrorKind::NotFound.into(),
            ));
        }
        let mut stats = Stats::default();
        stats_v2::cpu(&self.dir, &mut stats)?;
        stats_v2::memory(&self.dir, &mut stats)?;
        stats_v1::pids(&self.dir, &mut stats)?;
        stats_v2::io(&self.dir, &mut stats)?;
        stats_v2::hugetlb(&self.dir, &mut stats)?;
        Ok(stats)
    }

    fn freezer_state(&self) -> Result<FreezerState> {
        freezer::get_v2(&self.dir)
    }

    fn oom_kill_count(&self) -> Result<u64> {
        read_oom_kills(&self.dir.join("memory.events"))
    }

    fn oom_watcher(&self) -> Result<OomWatcher> {
        OomWatcher::v2(&self.dir)
    }
}
