//! The container's cgroup: planned and validated before anything exists,
//! created by the parent before the clone (so the child runs no cgroup code
//! and a tiny memory limit only has to hold the container's own program).

use std::path::Path;

use brig_cgroups::{AnyManager, CgroupPath, Mounts, OwnCgroups};
use oci_spec::runtime::Spec;

use crate::error::{Error, Result};

/// What `create` needs: the host's cgroup mounts (shared with the rootfs
/// plan) and the container's manager, not yet created.
#[derive(Debug)]
pub struct CgroupPlan {
    pub mounts: Mounts,
    pub manager: AnyManager,
}

pub fn plan(spec: &Spec, id: &str, systemd: bool) -> Result<CgroupPlan> {
    let linux = spec.linux().as_ref();
    if let Some(resources) = linux.and_then(|l| l.resources().as_ref()) {
        brig_cgroups::validate(resources)?;
    }
    let raw_path = linux
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned());
    if systemd {
        let manager = AnyManager::for_container(raw_path.as_deref(), id, true)?;
        let mounts = Mounts::detect(Path::new(brig_cgroups::DEFAULT_ROOT))?;
        return Ok(CgroupPlan { mounts, manager });
    }
    let path = CgroupPath::for_container(raw_path.as_deref(), id)?;
    let mounts = Mounts::detect(Path::new(brig_cgroups::DEFAULT_ROOT))?;
    let own = match path {
        CgroupPath::Relative(_) => Some(OwnCgroups::read()?),
        CgroupPath::Absolute(_) => None,
    };
    let manager = AnyManager::from_mounts(&mounts, &path, own.as_ref())?;
    Ok(CgroupPlan { mounts, manager })
}

impl From<brig_cgroups::CgroupError> for Error {
    fn from(e: brig_cgroups::CgroupError) -> Self {
        Error::Cgroup(e)
    }
}

/// `linux.resources` with allow rules for the devices listed in
/// `linux.devices` appended, so the container can use what it was given.
pub fn resources_with_devices(spec: &Spec) -> Option<oci_spec::runtime::LinuxResources> {
    let linux = spec.linux().as_ref()?;
    let mut resources = linux.resources().clone()?;
    if let Some(nodes) = linux.devices() {
        let mut rules = resources.devices().clone().unwrap_or_default();
        rules.extend(brig_cgroups::devices::allow_rules_for_nodes(nodes));
        resources.set_devices(Some(rules));
    }
    Some(resources)
}

/// The kernel's OOM kill count in the container's cgroup before a start-up
/// step (`create` driving init, `start` releasing it), to tell afterwards
/// whether the OOM killer ended init rather than some other failure.
pub(crate) struct OomBaseline<'a> {
    cgroup: &'a brig_cgroups::AnyManager,
    kills: u64,
}

impl<'a> OomBaseline<'a> {
    /// `None` when the count cannot be read (no memory controller).
    pub(crate) fn take(cgroup: Option<&'a brig_cgroups::AnyManager>) -> Option<Self> {
        use brig_cgroups::CgroupMonitor;
        let cgroup = cgroup?;
        let kills = cgroup.oom_kill_count().ok()?;
        Some(OomBaseline { cgroup, kills })
    }

    /// A baseline taken earlier (`kills`), for `cgroup` as a later
    /// command loaded it.
    pub(crate) fn at(cgroup: &'a brig_cgroups::AnyManager, kills: u64) -> Self {
        OomBaseline { cgroup, kills }
    }

    /// The kill count when the baseline was taken.
    pub(crate) fn kills(&self) -> u64 {
        self.kills
    }

    /// Did the OOM killer act in the cgroup since the baseline was taken?
    pub(crate) fn killed(&self) -> bool {
        use brig_cgroups::CgroupMonitor;
        self.cgroup
            .oom_kill_count()
            .is_ok_and(|now| now > self.kills)
    }
}

/// The error for init killed by the OOM killer while `stage`, naming the
/// limit to raise.
pub(crate) fn oom_killed(stage: &'static str, spec: &Spec) -> Error {
    let limit = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.memory().as_ref())
        .and_then(|m| m.limit())
        .filter(|&l| l > 0);
    Error::OomKilled {
        stage,
        limit: match limit {
            Some(bytes) => format!("linux.resources.memory.limit is {bytes} bytes"),
            None => "the container has no memory limit of its own: a parent cgroup's limit applies"
                .to_owned(),
        },
    }
}

/// True when `init` has died (a zombie not yet reaped) while it was still
/// the runtime's copy, i.e. before it executed the container's program: its
/// command name is still ours. A reaped process tells nothing: false.
pub(crate) fn died_before_exec(init: &crate::proc::ProcessId) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", init.pid)) else {
        return false;
    };
    let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
        return false;
    };
    let comm = &stat[open + 1..close];
    let mut fields = stat[close + 1..].split_whitespace();
    let state = fields.next();
    // starttime is field 22 of the line, the 19th after the state (field 3).
    let start_time = fields.nth(18).and_then(|t| t.parse::<u64>().ok());
    let own = std::fs::read_to_string("/proc/self/comm").unwrap_or_default();
    matches!(state, Some("Z" | "X"))
        && start_time == Some(init.start_time)
        && comm == own.trim_end()
}
