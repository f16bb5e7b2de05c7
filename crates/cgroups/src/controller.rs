//! The cgroup controllers brig knows, their names on v1 and v2, and which of
//! them a `LinuxResources` needs.

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

/// A cgroup controller. `Blkio` is called `io` on cgroup v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Controller {
    Cpu,
    Cpuacct,
    Cpuset,
    Memory,
    Devices,
    Freezer,
    Blkio,
    Pids,
    Hugetlb,
    NetCls,
    NetPrio,
    Rdma,
    Misc,
    PerfEvent,
}

impl Controller {
    /// Every controller, in a stable order.
    pub const ALL: [Controller; 14] = [
        Self::Cpu,
        Self::Cpuacct,
        Self::Cpuset,
        Self::Memory,
        Self::Devices,
        Self::Freezer,
        Self::Blkio,
        Self::Pids,
        Self::Hugetlb,
        Self::NetCls,
        Self::NetPrio,
        Self::Rdma,
        Self::Misc,
        Self::PerfEvent,
    ];

    /// The name in `/proc/cgroups` and in v1 mount options.
    pub fn v1_name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Cpuacct => "cpuacct",
            Self::Cpuset => "cpuset",
            Self::Memory => "memory",
            Self::Devices => "devices",
            Self::Freezer => "freezer",
            Self::Blkio => "blkio",
            Self::Pids => "pids",
            Self::Hugetlb => "hugetlb",
            Self::NetCls => "net_cls",
            Self::NetPrio => "net_prio",
            Self::Rdma => "rdma",
            Self::Misc => "misc",
            Self::PerfEvent => "perf_event",
        }
    }

    /// The name in a v2 `cgroup.controllers` file, for controllers that have
    /// one. Devices and freezer are built into v2 (eBPF, `cgroup.freeze`).
    pub fn v2_name(self) -> Option<&'static str> {
        Some(match self {
            Self::Cpu | Self::Cpuacct => "cpu",
            Self::Cpuset => "cpuset",
            Self::Memory => "memory",
            Self::Blkio => "io",
            Self::Pids => "pids",
            Self::Hugetlb => "hugetlb",
            Self::Rdma => "rdma",
            Self::Misc => "misc",
            Self::PerfEvent => "perf_event",
            Self::Devices | Self::Freezer | Self::NetCls | Self::NetPrio => return None,
        })
    }

    /// Parses a v1 controller name.
    pub fn from_v1_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.v1_name() == name)
    }

    /// Parses a v2 controller name (`io` gives `Blkio`, `cpu` gives `Cpu`).
    pub fn from_v2_name(name: &str) -> Option<Self> {
        match name {
            "cpu" => Some(Self::Cpu),
            "io" => Some(Self::Blkio),
            other => Self::ALL.into_iter().find(|c| c.v2_name() == Some(other)),
        }
    }
}

/// The controllers whose files `resources` asks to write, each with the
/// first spec field that needs it (for error messages). `unified` is not
/// included: its keys name their controllers themselves.
pub fn required_controllers(resources: &LinuxResources) -> Vec<(Controller, &'static str)> {
    let mut needed = Vec::new();
    if resources.memory().is_some() {
        needed.push((Controller::Memory, "linux.resources.memory"));
    }
    if let Some(cpu) = resources.cpu() {
        let scheduling = cpu.shares().is_some()
            || cpu.quota().is_some()
            || cpu.period().is_some()
            || cpu.burst().is_some()
            || cpu.idle().is_some()
            || cpu.realtime_runtime().is_some()
            || cpu.realtime_period().is_some();
        if scheduling {
            needed.push((Controller::Cpu, "linux.resources.cpu"));
        }
        if cpu.cpus().is_some() || cpu.mems().is_some() {
            needed.push((Controller::Cpuset, "linux.resources.cpu.cpus/mems"));
        }
    }
    if resources.pids().is_some() {
        needed.push((Controller::Pids, "linux.resources.pids"));
    }
    if resources.block_io().is_some() {
        needed.push((Controller::Blkio, "linux.resources.blockIO"));
    }
    if resources
        .hugepage_limits()
        .as_ref()
        .is_some_and(|l| !l.is_empty())
    {
        needed.push((Controller::Hugetlb, "linux.resources.hugepageLimits"));
    }
    if resources.devices().is_some() {
        needed.push((Controller::Devices, "linux.resources.devices"));
    }
    if let Some(network) = resources.network() {
        if network.class_id().is_some() {
            needed.push((Controller::NetCls, "linux.resources.network.classID"));
        }
        if network.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            needed.push((Controller::NetPrio, "linux.resources.network.priorities"));
        }
    }
    if resources.rdma().as_ref().is_some_and(|r| !r.is_empty()) {
        needed.push((Controller::Rdma, "linux.resources.rdma"));
    }
    needed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Controller::ALL {
            assert_eq!(Controller::from_v1_name(c.v1_name()), Some(c));
        }
        assert_eq!(Controller::from_v2_name("io"), Some(Controller::Blkio));
        assert_eq!(Controller::from_v2_name("cpu"), Some(Controller::Cpu));
        assert_eq!(Controller::from_v2_name("freezer"), None);
    }

    #[test]
    fn memory_and_pids_are_required_when_set() {
        let res: LinuxResources =
            serde_json::from_str(r#"{"memory":{"limit":1048576},"pids":{"limit":5}}"#).unwrap();
        let needed: Vec<_> = required_controllers(&res)
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        assert_eq!(needed, vec![Controller::Memory, Controller::Pids]);
    }

    #[test]
    fn cpuset_is_separate_from_cpu() {
        let res: LinuxResources = serde_json::from_str(r#"{"cpu":{"cpus":"0"}}"#).unwrap();
        let needed: Vec<_> = required_controllers(&res)
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        assert_eq!(needed, vec![Controller::Cpuset]);
    }
}
