//! `linux`: namespaces, cgroup resources and devices, masked and
//! read-only paths, sysctls and seccomp.

use oci_spec::runtime::{
    Linux, LinuxBuilder, LinuxCpuBuilder, LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup,
    LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxIdMappingBuilder, LinuxMemoryBuilder,
    LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType, LinuxPidsBuilder, LinuxResources,
    LinuxResourcesBuilder,
};

use super::SpecInput;
use crate::config::{NetworkMode, SeccompChoice};
use crate::error::{Error, Result};
use crate::seccomp;

/// Processes a container may have unless `--pids-limit` says otherwise
/// (Podman's default): a fork bomb stays inside.
pub const DEFAULT_PIDS_LIMIT: i64 = 2048;
/// The CFS period `--cpus` is expressed in (100 ms, as Docker).
const CPU_PERIOD: u64 = 100_000;

/// Docker's masked paths (reads return nothing, writes fail).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
];

/// Docker's read-only paths.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

fn err(what: &str) -> impl Fn(oci_spec::OciSpecError) -> Error + '_ {
    move |e| Error::Spec(format!("{what}: {e}"))
}

fn namespace(typ: LinuxNamespaceType) -> Result<LinuxNamespace> {
    LinuxNamespaceBuilder::default()
        .typ(typ)
        .build()
        .map_err(err("namespace"))
}

fn namespaces(input: &SpecInput<'_>) -> Result<Vec<LinuxNamespace>> {
    let mut kinds = vec![
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Cgroup,
    ];
    if input.config.network != NetworkMode::Host {
        kinds.push(LinuxNamespaceType::Network);
    }
    if input.userns.is_some() {
        kinds.push(LinuxNamespaceType::User);
    }
    kinds.into_iter().map(namespace).collect()
}

fn device_rule(
    allow: bool,
    kind: Option<char>,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> Result<LinuxDeviceCgroup> {
    let mut b = LinuxDeviceCgroupBuilder::default()
        .allow(allow)
        .access(access);
    if let Some(k) = kind {
        b = b.typ(if k == 'b' {
            LinuxDeviceType::B
        } else {
            LinuxDeviceType::C
        });
    }
    if let Some(m) = major {
        b = b.major(m);
    }
    if let Some(m) = minor {
        b = b.minor(m);
    }
    b.build().map_err(err("device rule"))
}

/// Docker's device cgroup: deny all, allow the standard nodes, `mknod` of
/// any, the ptys, `/dev/net/tun`; then the `--device`s.
fn device_rules(input: &SpecInput<'_>) -> Result<Vec<LinuxDeviceCgroup>> {
    if input.config.security.privileged {
        return Ok(vec![device_rule(true, None, None, None, "rwm")?]);
    }
    let mut rules = vec![
        device_rule(false, None, None, None, "rwm")?,
        device_rule(true, Some('c'), None, None, "m")?,
        device_rule(true, Some('b'), None, None, "m")?,
    ];
    for (major, minor) in [
        (1, 3),
        (1, 5),
        (1, 7),
        (1, 8),
        (1, 9),
        (5, 0),
        (5, 1),
        (5, 2),
        (10, 200),
    ] {
        rules.push(device_rule(
            true,
            Some('c'),
            Some(major),
            Some(minor),
            "rwm",
        )?);
    }
    rules.push(device_rule(true, Some('c'), Some(136), None, "rwm")?);
    for d in &input.config.devices {
        rules.push(device_rule(
            true,
            Some(d.kind),
            Some(d.major),
            Some(d.minor),
            &d.permissions,
        )?);
    }
    Ok(rules)
}

fn devices(input: &SpecInput<'_>) -> Result<Vec<LinuxDevice>> {
    let list = if input.config.security.privileged {
        &input.host.host_devices
    } else {
        &input.config.devices
    };
    list.iter()
        .map(|d| {
            LinuxDeviceBuilder::default()
                .path(&d.container_path)
                .typ(if d.kind == 'b' {
                    LinuxDeviceType::B
                } else {
                    LinuxDeviceType::C
                })
                .major(d.major)
                .minor(d.minor)
                .file_mode(d.mode & 0o7777)
                .uid(d.uid)
                .gid(d.gid)
                .build()
                .map_err(err("device"))
        })
        .collect()
}

fn resources(input: &SpecInput<'_>) -> Result<LinuxResources> {
    let r = &input.config.resources;
    let mut memory = LinuxMemoryBuilder::default();
    if let Some(m) = r.memory {
        memory = memory.limit(m);
    }
    if let Some(s) = r.memory_swap {
        memory = memory.swap(s);
    }
    if let Some(res) = r.memory_reservation {
        memory = memory.reservation(res);
    }
    if r.oom_kill_disable {
        memory = memory.disable_oom_killer(true);
    }
    let mut cpu = LinuxCpuBuilder::default();
    if let Some(n) = r.nano_cpus {
        cpu = cpu
            .quota((n as i128 * CPU_PERIOD as i128 / 1_000_000_000) as i64)
            .period(CPU_PERIOD);
    }
    if let Some(s) = r.cpu_shares {
        cpu = cpu.shares(s);
    }
    if let Some(set) = &r.cpuset_cpus {
        cpu = cpu.cpus(set);
    }
    let pids = match r.pids_limit {
        Some(0) => -1,
        Some(n) => n,
        None => DEFAULT_PIDS_LIMIT,
    };
    LinuxResourcesBuilder::default()
        .devices(device_rules(input)?)
        .memory(memory.build().map_err(err("memory"))?)
        .cpu(cpu.build().map_err(err("cpu"))?)
        .pids(
            LinuxPidsBuilder::default()
                .limit(pids)
                .build()
                .map_err(err("pids"))?,
        )
        .build()
        .map_err(err("resources"))
}

fn seccomp_profile(
    input: &SpecInput<'_>,
    bounding: &[String],
) -> Result<Option<oci_spec::runtime::LinuxSeccomp>> {
    let sec = &input.config.security;
    let text = match &sec.seccomp {
        _ if sec.privileged => return Ok(None),
        SeccompChoice::Unconfined => return Ok(None),
        SeccompChoice::Default => seccomp::DEFAULT_PROFILE,
        SeccompChoice::Custom(text) => text.as_str(),
    };
    let target = seccomp::Target {
        bounding,
        arch: input.host.arch,
        kernel: input.host.kernel,
    };
    seccomp::resolve(text, &target).map(Some)
}

/// The `linux` object.
pub fn linux(input: &SpecInput<'_>, bounding: &[String]) -> Result<Linux> {
    let sec = &input.config.security;
    let unmasked = sec.privileged || sec.unmask_system_paths;
    let mut masked: Vec<String> = MASKED_PATHS.iter().map(|s| (*s).to_owned()).collect();
    masked.extend(input.host.thermal_throttle_paths.iter().cloned());
    let mut b = LinuxBuilder::default()
        .namespaces(namespaces(input)?)
        .resources(resources(input)?)
        .devices(devices(input)?)
        .cgroups_path(format!("/brig/{}", input.id))
        .masked_paths(if unmasked { Vec::new() } else { masked })
        .readonly_paths(if unmasked {
            Vec::new()
        } else {
            READONLY_PATHS.iter().map(|s| (*s).to_owned()).collect()
        })
        .sysctl(
            input
                .config
                .sysctls
                .clone()
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        );
    if let Some(profile) = seccomp_profile(input, bounding)? {
        b = b.seccomp(profile);
    }
    if let Some((start, size)) = input.userns {
        let map = LinuxIdMappingBuilder::default()
            .container_id(0u32)
            .host_id(start)
            .size(size)
            .build()
            .map_err(err("id mapping"))?;
        b = b.uid_mappings(vec![map]).gid_mappings(vec![map]);
    }
    b.build().map_err(err("linux"))
}
