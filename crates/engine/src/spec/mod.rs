//! The OCI config of a container: a pure function of its
//! [`ContainerConfig`], the resolved user and a few host facts.
//!
//! Secure defaults (see the submodules): Podman's 11 capabilities, brig's
//! Docker-equivalent seccomp profile filtered by the container's bounding
//! set, Docker's masked and read-only paths, private PID, IPC, UTS, mount,
//! cgroup and (by default) network namespaces, a pids limit of 2048, and a
//! deny-by-default device cgroup. `no_new_privileges` is off unless asked,
//! as in Docker (setuid programs in images keep working).

mod linux;
mod mounts;
mod process;

use std::collections::HashMap;
use std::path::PathBuf;

use oci_spec::runtime::{RootBuilder, Spec};

pub use linux::{DEFAULT_PIDS_LIMIT, MASKED_PATHS, READONLY_PATHS};
pub use mounts::INIT_PATH;

use crate::caps;
use crate::config::{ContainerConfig, DeviceConfig};
use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::users::ResolvedUser;

/// What the host contributes to a container's config.
#[derive(Debug, Clone)]
pub struct HostFacts {
    /// `/proc/sys/kernel/cap_last_cap`.
    pub cap_last_cap: u32,
    /// libseccomp architecture name of the host.
    pub arch: &'static str,
    /// (major, minor) of the running kernel.
    pub kernel: (u32, u32),
    pub selinux_enabled: bool,
    /// The host's device nodes (`--privileged` gets them all).
    pub host_devices: Vec<DeviceConfig>,
    /// `/sys/devices/system/cpu/cpu*/thermal_throttle` (masked, as Docker).
    pub thermal_throttle_paths: Vec<String>,
    /// A static init for `--init` (tini-static).
    pub init_binary: Option<PathBuf>,
}

impl HostFacts {
    /// Facts that need no I/O to be plausible, for tests.
    pub fn plain() -> HostFacts {
        HostFacts {
            cap_last_cap: 40,
            arch: "SCMP_ARCH_X86_64",
            kernel: (6, 18),
            selinux_enabled: false,
            host_devices: Vec::new(),
            thermal_throttle_paths: Vec::new(),
            init_binary: None,
        }
    }
}

/// Everything the config is made from.
#[derive(Debug, Clone)]
pub struct SpecInput<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub config: &'a ContainerConfig,
    pub user: &'a ResolvedUser,
    pub host: &'a HostFacts,
    pub paths: &'a Paths,
    /// The container's host ID range (`--userns auto`): (first ID, count).
    pub userns: Option<(u32, u32)>,
}

/// Generates the container's OCI config (`config.json`).
pub fn generate(input: &SpecInput<'_>) -> Result<Spec> {
    let c = input.config;
    let sec = &c.security;
    let bounding: Vec<String> = caps::effective_set(
        sec.privileged,
        &sec.cap_add,
        &sec.cap_drop,
        input.host.cap_last_cap,
    )
    .into_iter()
    .collect();
    let root = RootBuilder::default()
        .path(input.paths.rootfs(input.id))
        .readonly(c.read_only)
        .build()
        .map_err(|e| Error::Spec(format!("root: {e}")))?;
    let mut annotations = HashMap::new();
    annotations.insert("io.brig.container.name".to_owned(), input.name.to_owned());
    let mut spec = Spec::default();
    spec.set_version("1.0.2".to_owned())
        .set_process(Some(process::process(input)?))
        .set_root(Some(root))
        .set_hostname(Some(c.hostname.clone()))
        .set_mounts(Some(mounts::mounts(input)?))
        .set_annotations(Some(annotations))
        .set_linux(Some(linux::linux(input, &bounding)?));
    Ok(spec)
}

#[cfg(test)]
mod tests;
