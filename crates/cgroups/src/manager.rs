//! The two small traits every backend implements: [`CgroupManager`] changes
//! the cgroup, [`CgroupMonitor`] reads it.

use oci_spec::runtime::LinuxResources;

use crate::error::Result;
use crate::freezer::FreezerState;
use crate::oom::OomWatcher;
use crate::stats::Stats;

/// Creating, limiting, freezing and removing one container's cgroup.
pub trait CgroupManager {
    /// Creates the cgroup directories in every hierarchy (and enables the v2
    /// controllers in the parents). Idempotent. Call it before the process
    /// exists, so it can be cloned straight into the cgroup.
    fn create(&mut self) -> Result<()>;

    /// Moves process `pid` (all its threads) into the cgroup in every hierarchy.
    fn add_task(&self, pid: i32) -> Result<()>;

    /// Applies `resources`: fields that are `None` are left as they are, so
    /// the same call serves `create` and `update`. Everything that can be
    /// refused (layout, kernel features) is refused before the first write.
    fn set_resources(&self, resources: &LinuxResources) -> Result<()>;

    /// Freezes (`pause`) or thaws (`resume`) every process, waiting until the
    /// kernel confirms.
    fn freeze(&self, state: FreezerState) -> Result<()>;

    /// SIGKILLs what is left in the cgroup (`cgroup.kill` where the kernel
    /// has it), waits until it is empty, removes the cgroup in every
    /// hierarchy, then the parents `create` made if they are empty.
    /// Removing a cgroup that does not exist succeeds.
    fn remove(&self) -> Result<()>;
}

/// Reading one container's cgroup.
pub trait CgroupMonitor {
    /// The processes in the cgroup and in cgroups below it, sorted, each once.
    fn pids(&self) -> Result<Vec<i32>>;

    /// Usage counters, in the shape of runc's `events --stats`.
    fn stats(&self) -> Result<Stats>;

    /// Whether the cgroup is frozen.
    fn freezer_state(&self) -> Result<FreezerState>;

    /// How many processes the kernel's OOM killer killed in the cgroup.
    fn oom_kill_count(&self) -> Result<u64>;

    /// A watcher that wakes up on OOM events in the cgroup.
    fn oom_watcher(&self) -> Result<OomWatcher>;
}
