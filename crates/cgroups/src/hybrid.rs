//! The hybrid backend: v1 hierarchies for the controllers bound to v1, and
//! the cgroup2 mount for everything else (on this kind of machine: hugetlb
//! only). The container gets a directory in both, every resource goes to
//! wherever its controller actually is, and devices / freezer use v2's
//! built-in mechanisms only when v1 lacks those controllers.

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use crate::controller::{Controller, required_controllers};
use crate::error::{CgroupError, Result};
use crate::freezer::FreezerState;
use crate::lifecycle;
use crate::manager::{CgroupManager, CgroupMonitor};
use crate::oom::OomWatcher;
use crate::plan::{missing_controller, restrict};
use crate::stats::Stats;
use crate::unified::{check_unified_key, unified_field};
use crate::v1::V1Manager;
use crate::v2::V2Manager;

/// A container's cgroup on a hybrid machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HybridManager {
    v1: V1Manager,
    v2: V2Manager,
    /// Controllers the cgroup2 mount offers (none of them is bound to v1).
    v2_controllers: Vec<Controller>,
}

impl HybridManager {
    /// Combines the two halves; `v2_controllers` is the unified root's `cgroup.controllers`.
    pub fn new(v1: V1Manager, v2: V2Manager, v2_controllers: Vec<Controller>) -> Self {
        Self {
            v1,
            v2,
            v2_controllers,
        }
    }

    /// The v1 half.
    pub fn v1(&self) -> &V1Manager {
        &self.v1
    }

    /// The cgroup2 half.
    pub fn v2(&self) -> &V2Manager {
        &self.v2
    }

    fn on_v1(&self, c: Controller) -> bool {
        self.v1.dir_of(c).is_some()
    }

    /// Is `c` handled by the cgroup2 half? Devices and freezer are built into
    /// v2, so they are whenever v1 lacks them.
    fn on_v2(&self, c: Controller) -> bool {
        !self.on_v1(c)
            && (matches!(c, Controller::Devices | Controller::Freezer)
                || self.v2_controllers.contains(&c))
    }

    fn check_unified(&self, resources: &LinuxResources) -> Result<()> {
        for key in resources.unified().iter().flat_map(|u| u.keys()) {
            let name = check_unified_key(key)?;
            if name == "cgroup" {
                continue;
            }
            let controller = Controller::from_v2_name(name);
            if let Some(c) = controller.filter(|&c| self.on_v1(c)) {
                return Err(CgroupError::not_supported(
                    unified_field(key),
                    format!(
                        "the {} controller is bound to cgroup v1 on this machine; use the regular linux.resources field",
                        c.v1_name()
                    ),
                ));
            }
            if !controller.is_some_and(|c| self.on_v2(c)) {
                return Err(CgroupError::not_supported(
                    unified_field(key),
                    format!("the {name} controller is not available here"),
                ));
            }
        }
        Ok(())
    }
}

impl CgroupManager for HybridManager {
    fn create(&mut self) -> Result<()> {
        self.v1.create()?;
        self.v2.create()
    }

    fn add_task(&self, pid: i32) -> Result<()> {
        self.v1.add_task(pid)?;
        self.v2.add_task(pid)
    }

    fn set_resources(&self, resources: &LinuxResources) -> Result<()> {
        for (controller, field) in required_controllers(resources) {
            if !self.on_v1(controller) && !self.on_v2(controller) {
                return Err(missing_controller(controller, field));
            }
        }
        self.check_unified(resources)?;
        let v1_part = restrict(resources, |c| self.on_v1(c));
        let mut v2_part = restrict(resources, |c| self.on_v2(c));
        v2_part.set_unified(resources.unified().clone());
        // Plan both halves first: a refusal from either changes nothing.
        let v1_writes = self.v1.plan(&v1_part)?;
        let v2_plan = self.v2.plan(&v2_part)?;
        self.v1.apply(&v1_writes)?;
        self.v2.apply(&v2_plan)
    }

    fn freeze(&self, state: FreezerState) -> Result<()> {
        if self.on_v1(Controller::Freezer) {
            self.v1.freeze(state)
        } else {
            self.v2.freeze(state)
        }
    }

    fn remove(&self) -> Result<()> {
        let pids = self.pids()?;
        lifecycle::refuse_self(&pids, self.v2.dir())?;
        if !pids.is_empty() {
            let _ = self.freeze(FreezerState::Frozen);
            lifecycle::kill_all(&self.pids()?);
            self.freeze(FreezerState::Thawed)?;
        }
        lifecycle::wait_until_empty(self.v2.dir(), || self.pids())?;
        self.v1.remove_dirs()?;
        self.v2.remove_dirs()
    }
}

impl CgroupMonitor for HybridManager {
    fn pids(&self) -> Result<Vec<i32>> {
        let mut pids = self.v1.pids()?;
        pids.extend(self.v2.pids()?);
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    fn stats(&self) -> Result<Stats> {
        let mut stats = self.v1.stats()?;
        let v2 = self.v2.stats()?;
        if self.on_v2(Controller::Cpu) {
            stats.cpu = v2.cpu;
        }
        if self.on_v2(Controller::Memory) {
            stats.memory = v2.memory;
        }
        if self.on_v2(Controller::Pids) {
            stats.pids = v2.pids;
        }
        if self.on_v2(Controller::Blkio) {
            stats.blkio = v2.blkio;
        }
        if self.on_v2(Controller::Hugetlb) {
            stats.hugetlb = v2.hugetlb;
        }
        Ok(stats)
    }

    fn freezer_state(&self) -> Result<FreezerState> {
        if self.on_v1(Controller::Freezer) {
            self.v1.freezer_state()
        } else {
            self.v2.freezer_state()
        }
    }

    fn oom_kill_count(&self) -> Result<u64> {
        if self.on_v1(Controller::Memory) {
            self.v1.oom_kill_count()
        } else {
            self.v2.oom_kill_count()
        }
    }

    fn oom_watcher(&self) -> Result<OomWatcher> {
        if self.on_v1(Controller::Memory) {
            self.v1.oom_watcher()
        } else {
            self.v2.oom_watcher()
        }
    }
}
