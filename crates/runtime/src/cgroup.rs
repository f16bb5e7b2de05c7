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
