//! Enforcing device rules on cgroup v2: load the generated program and
//! attach it to the container's cgroup, replacing what we attached before.
//!
//! The new program is attached (with `BPF_F_ALLOW_MULTI`) before the old
//! ones are detached, so the cgroup is never without a device policy; for
//! that instant both apply, which can only deny more.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use brig_sys::bpf;
use oci_spec::runtime::LinuxDeviceCgroup;

use crate::devices::{self, DeviceRule, ebpf};
use crate::error::{CgroupError, Result};
use crate::fsutil;

/// Checks the spec's rules (plus the defaults) for a v2 cgroup at `dir`,
/// before anything is written.
pub(crate) fn checked_rules(dir: &Path, spec: &[LinuxDeviceCgroup]) -> Result<Vec<DeviceRule>> {
    let rules = devices::effective_rules(spec)?;
    if rules.len() > ebpf::MAX_RULES {
        return Err(CgroupError::invalid(
            "linux.resources.devices",
            format!("more than {} rules", ebpf::MAX_RULES),
        ));
    }
    let existing = dir.ancestors().find(|p| p.exists()).unwrap_or(dir);
    if !fsutil::is_cgroupfs(existing) {
        return Err(CgroupError::not_supported(
            "linux.resources.devices",
            format!(
                "{} is not on a cgroup2 filesystem, so no device program can be attached",
                dir.display()
            ),
        ));
    }
    Ok(rules)
}

fn open_dir(dir: &Path) -> Result<OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| CgroupError::io("open", dir, e.into()))
}

/// Loads the program for `rules` and makes it the only device program of `dir`.
pub(crate) fn attach(dir: &Path, rules: &[DeviceRule]) -> Result<()> {
    let insns = ebpf::program(rules);
    let prog = bpf::prog_load(
        bpf::PROG_TYPE_CGROUP_DEVICE,
        bpf::ATTACH_CGROUP_DEVICE,
        &insns,
        ebpf::LICENSE,
    )
    .map_err(|e| CgroupError::BpfLoad {
        path: dir.to_path_buf(),
        source: e.error,
        log: e.verifier_log,
    })?;
    let cgroup = open_dir(dir)?;
    let bpf_err = |action: &'static str| {
        move |source: std::io::Error| CgroupError::Bpf {
            action,
            path: dir.to_path_buf(),
            source,
        }
    };
    let old =
        bpf::prog_query(cgroup.as_fd(), bpf::ATTACH_CGROUP_DEVICE).map_err(bpf_err("list"))?;
    bpf::prog_attach(
        cgroup.as_fd(),
        prog.as_fd(),
        bpf::ATTACH_CGROUP_DEVICE,
        bpf::F_ALLOW_MULTI,
    )
    .map_err(bpf_err("attach"))?;
    for id in old {
        let old_prog = bpf::prog_get_fd_by_id(id).map_err(bpf_err("open the previous"))?;
        bpf::prog_detach(cgroup.as_fd(), old_prog.as_fd(), bpf::ATTACH_CGROUP_DEVICE)
            .map_err(bpf_err("detach the previous"))?;
    }
    Ok(())
}

/// The ids of the device programs attached directly to `dir` (for tests and diagnostics).
pub fn attached_programs(dir: &Path) -> Result<Vec<u32>> {
    let cgroup = open_dir(dir)?;
    bpf::prog_query(cgroup.as_fd(), bpf::ATTACH_CGROUP_DEVICE).map_err(|source| CgroupError::Bpf {
        action: "list",
        path: dir.to_path_buf(),
        source,
    })
}
