//! Shared pieces of resource planning: a plan is the ordered list of cgroup
//! file writes for a `LinuxResources`, computed before any write so that
//! every refusal happens with nothing changed.

use std::path::Path;

use oci_spec::runtime::{LinuxCpu, LinuxResources};

use crate::controller::Controller;
use crate::error::{CgroupError, Result};
use crate::fsutil;

/// One write of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileWrite {
    /// The controller whose directory holds the file.
    pub controller: Controller,
    /// File name inside the cgroup directory.
    pub file: String,
    /// What to write.
    pub value: String,
    /// The spec field the value comes from (for errors).
    pub field: String,
}

impl FileWrite {
    pub(crate) fn new(
        controller: Controller,
        file: impl Into<String>,
        value: impl Into<String>,
        field: impl Into<String>,
    ) -> Self {
        Self {
            controller,
            file: file.into(),
            value: value.into(),
            field: field.into(),
        }
    }
}

/// What planning may look at in the target cgroup: which files exist (kernel
/// features differ) and a few current values (write ordering).
pub trait Probe {
    /// Does the cgroup have this file?
    fn exists(&self, controller: Controller, file: &str) -> bool;
    /// The file's current content, trimmed; `None` when absent or unreadable.
    fn read(&self, controller: Controller, file: &str) -> Option<String>;
}

/// A probe over real directories: `dir_of` gives the cgroup directory of a controller.
pub(crate) struct DirProbe<F>(pub F);

impl<'a, F: Fn(Controller) -> Option<&'a Path>> Probe for DirProbe<F> {
    fn exists(&self, controller: Controller, file: &str) -> bool {
        (self.0)(controller).is_some_and(|dir| dir.join(file).exists())
    }

    fn read(&self, controller: Controller, file: &str) -> Option<String> {
        let dir = (self.0)(controller)?;
        std::fs::read_to_string(dir.join(file))
            .ok()
            .map(|s| s.trim().to_owned())
    }
}

/// Executes `writes` in order; `dir_of` maps each controller to its cgroup
/// directory. A controller without a directory is an error naming the field.
pub(crate) fn apply_writes<'a>(
    writes: &[FileWrite],
    dir_of: impl Fn(Controller) -> Option<&'a Path>,
) -> Result<()> {
    for w in writes {
        let dir = dir_of(w.controller).ok_or_else(|| missing_controller(w.controller, &w.field))?;
        fsutil::write_file(&dir.join(&w.file), &w.value, &w.field)?;
    }
    Ok(())
}

pub(crate) fn missing_controller(controller: Controller, field: &str) -> CgroupError {
    CgroupError::not_supported(
        field.to_owned(),
        format!(
            "the {} controller is not available on this machine",
            controller.v1_name()
        ),
    )
}

/// A copy of `resources` keeping only what the controllers accepted by
/// `keep` handle (devices count as the `Devices` controller; `unified` is
/// dropped and handled by the caller).
pub(crate) fn restrict(
    resources: &LinuxResources,
    keep: impl Fn(Controller) -> bool,
) -> LinuxResources {
    let mut out = LinuxResources::default();
    if keep(Controller::Memory) {
        out.set_memory(*resources.memory());
    }
    if let Some(cpu) = resources.cpu() {
        let mut part = LinuxCpu::default();
        if keep(Controller::Cpu) {
            part = cpu.clone();
            part.set_cpus(None);
            part.set_mems(None);
        }
        if keep(Controller::Cpuset) {
            part.set_cpus(cpu.cpus().clone());
            part.set_mems(cpu.mems().clone());
        }
        if part != LinuxCpu::default() {
            out.set_cpu(Some(part));
        }
    }
    if keep(Controller::Pids) {
        out.set_pids(*resources.pids());
    }
    if keep(Controller::Blkio) {
        out.set_block_io(resources.block_io().clone());
    }
    if keep(Controller::Hugetlb) {
        out.set_hugepage_limits(resources.hugepage_limits().clone());
    }
    if keep(Controller::Devices) {
        out.set_devices(resources.devices().clone());
    }
    if let Some(network) = resources.network() {
        let mut part = network.clone();
        if !keep(Controller::NetCls) {
            part.set_class_id(None);
        }
        if !keep(Controller::NetPrio) {
            part.set_priorities(None);
        }
        if part.class_id().is_some() || part.priorities().is_some() {
            out.set_network(Some(part));
        }
    }
    if keep(Controller::Rdma) {
        out.set_rdma(resources.rdma().clone());
    }
    out
}

/// `-1` (or any negative) as the kernel's "unlimited" word for v2 files.
pub(crate) fn v2_limit(value: i64) -> String {
    if value < 0 {
        "max".to_owned()
    } else {
        value.to_string()
    }
}

/// The `rdma.max` lines (same syntax on v1 and v2).
/// `cpus` and `mems`: the same files on cgroup v1 and v2.
pub(crate) fn cpuset_writes(cpu: &LinuxCpu, writes: &mut Vec<FileWrite>) {
    if let Some(cpus) = cpu.cpus() {
        writes.push(FileWrite::new(
            Controller::Cpuset,
            "cpuset.cpus",
            cpus.trim(),
            "linux.resources.cpu.cpus",
        ));
    }
    if let Some(mems) = cpu.mems() {
        writes.push(FileWrite::new(
            Controller::Cpuset,
            "cpuset.mems",
            mems.trim(),
            "linux.resources.cpu.mems",
        ));
    }
}

pub(crate) fn rdma_writes(resources: &LinuxResources) -> Vec<FileWrite> {
    let mut devices: Vec<_> = resources.rdma().iter().flatten().collect();
    devices.sort_by(|a, b| a.0.cmp(b.0));
    devices
        .into_iter()
        .map(|(device, limit)| {
            let value = |v: Option<u32>| v.map_or_else(|| "max".to_owned(), |v| v.to_string());
            FileWrite::new(
                Controller::Rdma,
                "rdma.max",
                format!(
                    "{device} hca_handle={} hca_object={}",
                    value(limit.hca_handles()),
                    value(limit.hca_objects())
                ),
                format!("linux.resources.rdma[{device:?}]"),
            )
        })
        .collect()
}

/// Refuses a memory limit below current usage when `checkBeforeUpdate` asks.
pub(crate) fn check_before_update(resources: &LinuxResources, usage: Option<u64>) -> Result<()> {
    let Some(memory) = resources.memory() else {
        return Ok(());
    };
    let (Some(true), Some(limit), Some(usage)) =
        (memory.check_before_update(), memory.limit(), usage)
    else {
        return Ok(());
    };
    if limit > 0 && (limit as u64) < usage {
        return Err(CgroupError::invalid(
            "linux.resources.memory.limit",
            format!(
                "{limit} is below the current usage of {usage} bytes (checkBeforeUpdate is set)"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restrict_splits_cpu_and_cpuset() {
        let res: LinuxResources = serde_json::from_str(
            r#"{"cpu":{"shares":512,"cpus":"0"},"memory":{"limit":1},"devices":[]}"#,
        )
        .unwrap();
        let cpuset_only = restrict(&res, |c| c == Controller::Cpuset);
        assert_eq!(
            cpuset_only.cpu().as_ref().unwrap().cpus().as_deref(),
            Some("0")
        );
        assert_eq!(cpuset_only.cpu().as_ref().unwrap().shares(), None);
        assert!(cpuset_only.memory().is_none() && cpuset_only.devices().is_none());
        let cpu_only = restrict(&res, |c| c == Controller::Cpu);
        assert_eq!(cpu_only.cpu().as_ref().unwrap().shares(), Some(512));
        assert_eq!(cpu_only.cpu().as_ref().unwrap().cpus(), &None);
    }

    #[test]
    fn check_before_update_refuses_a_limit_below_usage() {
        let res: LinuxResources =
            serde_json::from_str(r#"{"memory":{"limit":1000,"checkBeforeUpdate":true}}"#).unwrap();
        let err = check_before_update(&res, Some(5000))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("memory.limit") && err.contains("5000"),
            "{err}"
        );
        assert!(check_before_update(&res, Some(10)).is_ok());
    }
}
