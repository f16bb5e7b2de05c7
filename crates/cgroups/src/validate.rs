//! Checking `linux.resources` before anything is created.
//!
//! [`validate`] is pure apart from reading what this machine has (online
//! CPUs and memory nodes, huge page sizes); [`validate_for`] takes that as a
//! [`Machine`] so tests can fix it. Layout-specific refusals (e.g. `unified`
//! on v1) come from `set_resources`, before it writes anything.

use std::collections::BTreeSet;
use std::path::Path;

use oci_spec::runtime::{
    LinuxCpu, LinuxDeviceCgroup, LinuxDeviceType, LinuxMemory, LinuxResources,
};

use crate::error::{CgroupError, Result};
use crate::unified::check_unified_key;

/// What this machine offers that resource values must fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// Online CPUs.
    pub cpus: BTreeSet<u32>,
    /// Online memory (NUMA) nodes.
    pub mems: BTreeSet<u32>,
    /// Huge page sizes as cgroup files name them (`2MB`, `1GB`).
    pub hugepage_sizes: Vec<String>,
}

impl Machine {
    /// Reads this machine's CPUs, nodes and huge page sizes from `/sys`.
    pub fn detect() -> Self {
        Self::detect_at(Path::new("/sys"))
    }

    /// Like [`Machine::detect`] with another sysfs root. Missing files give
    /// CPU 0 / node 0 / no huge pages rather than an error.
    pub fn detect_at(sys: &Path) -> Self {
        let list = |file: &str| {
            std::fs::read_to_string(sys.join(file))
                .ok()
                .and_then(|text| parse_list(text.trim()).ok())
                .unwrap_or_else(|| BTreeSet::from([0]))
        };
        let mut hugepage_sizes: Vec<String> = std::fs::read_dir(sys.join("kernel/mm/hugepages"))
            .into_iter()
            .flatten()
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                let kib: u64 = name
                    .strip_prefix("hugepages-")?
                    .strip_suffix("kB")?
                    .parse()
                    .ok()?;
                Some(hugepage_size_name(kib * 1024))
            })
            .collect();
        hugepage_sizes.sort();
        Self {
            cpus: list("devices/system/cpu/online"),
            mems: list("devices/system/node/online"),
            hugepage_sizes,
        }
    }
}

/// The name cgroup files use for a huge page size in bytes (`2MB`, `1GB`, `64KB`).
pub fn hugepage_size_name(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut size = bytes;
    let mut unit = 0;
    while size >= 1024 && size.is_multiple_of(1024) && unit + 1 < UNITS.len() {
        size /= 1024;
        unit += 1;
    }
    format!("{size}{}", UNITS[unit])
}

/// Parses a kernel CPU/node list such as `0-3,8,10-11`.
pub fn parse_list(text: &str) -> Result<BTreeSet<u32>, String> {
    let mut set = BTreeSet::new();
    if text.is_empty() {
        return Ok(set);
    }
    for part in text.split(',') {
        let number = |s: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("{part:?} is not a number or range"))
        };
        match part.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (number(lo)?, number(hi)?);
                if lo > hi {
                    return Err(format!("range {part:?} runs backwards"));
                }
                if hi - lo > 65_536 {
                    return Err(format!("range {part:?} is implausibly large"));
                }
                set.extend(lo..=hi);
            }
            None => {
                set.insert(number(part)?);
            }
        }
    }
    Ok(set)
}

/// Checks `resources` against this machine; see [`validate_for`].
pub fn validate(resources: &LinuxResources) -> Result<()> {
    validate_for(resources, &Machine::detect())
}

/// Checks every value of `resources` and names the first bad field:
/// negative values (other than -1 for "unlimited"), a zero or out-of-range
/// CPU period, CPU shares or block I/O weights out of the kernel's range,
/// cpusets naming CPUs/nodes `machine` does not have, unknown huge page
/// sizes, unknown `unified` keys and device rules with a bad type or access.
pub fn validate_for(resources: &LinuxResources, machine: &Machine) -> Result<()> {
    if let Some(memory) = resources.memory() {
        validate_memory(memory)?;
    }
    if let Some(cpu) = resources.cpu() {
        validate_cpu(cpu, machine)?;
    }
    if let Some(block_io) = resources.block_io() {
        crate::validate_io::validate_block_io(block_io)?;
    }
    for (i, limit) in resources.hugepage_limits().iter().flatten().enumerate() {
        let field = format!("linux.resources.hugepageLimits[{i}]");
        if !machine.hugepage_sizes.contains(limit.page_size()) {
            return Err(CgroupError::invalid(
                format!("{field}.pageSize"),
                format!(
                    "{:?} is not a huge page size of this machine (it has {:?})",
                    limit.page_size(),
                    machine.hugepage_sizes
                ),
            ));
        }
        at_least_minus_one(&format!("{field}.limit"), limit.limit())?;
    }
    let devices = resources.devices().as_deref().unwrap_or_default();
    let room = crate::devices::ebpf::MAX_RULES - crate::devices::default_allowed_devices().len();
    if devices.len() > room {
        return Err(CgroupError::invalid(
            "linux.resources.devices",
            format!("{} rules are more than the {room} supported", devices.len()),
        ));
    }
    for (i, rule) in devices.iter().enumerate() {
        validate_device_rule(&format!("linux.resources.devices[{i}]"), rule)?;
    }
    for key in resources.unified().iter().flat_map(|u| u.keys()) {
        check_unified_key(key)?;
    }
    crate::validate_io::validate_network_and_rdma(resources)?;
    Ok(())
}

fn at_least_minus_one(field: &str, value: i64) -> Result<()> {
    if value < -1 {
        return Err(CgroupError::invalid(
            field,
            format!("{value} is negative (use -1 for unlimited)"),
        ));
    }
    Ok(())
}

fn validate_memory(memory: &LinuxMemory) -> Result<()> {
    let fields = [
        ("limit", memory.limit()),
        ("reservation", memory.reservation()),
        ("swap", memory.swap()),
        ("kernel", memory.kernel()),
        ("kernelTCP", memory.kernel_tcp()),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            at_least_minus_one(&format!("linux.resources.memory.{name}"), value)?;
        }
    }
    if let Some(swappiness) = memory.swappiness()
        && swappiness > 100
    {
        return Err(CgroupError::invalid(
            "linux.resources.memory.swappiness",
            format!("{swappiness} is above 100"),
        ));
    }
    if let Some(swap) = memory.swap().filter(|&s| s > 0) {
        let limit = memory.limit().unwrap_or(0);
        if limit == 0 {
            return Err(CgroupError::invalid(
                "linux.resources.memory.swap",
                "a swap limit needs memory.limit as well",
            ));
        }
        if limit > 0 && swap < limit {
            return Err(CgroupError::invalid(
                "linux.resources.memory.swap",
                format!(
                    "{swap} is below memory.limit {limit}; swap is memory+swap and must be >= the limit"
                ),
            ));
        }
    }
    Ok(())
}

/// CFS bandwidth period bounds of the kernel (1 ms .. 1 s, in microseconds).
const PERIOD_RANGE: std::ops::RangeInclusive<u64> = 1_000..=1_000_000;

fn validate_cpu(cpu: &LinuxCpu, machine: &Machine) -> Result<()> {
    let field = |name: &str| format!("linux.resources.cpu.{name}");
    if let Some(shares) = cpu.shares()
        && shares != 0
        && !(crate::convert::SHARES_MIN..=crate::convert::SHARES_MAX).contains(&shares)
    {
        return Err(CgroupError::invalid(
            field("shares"),
            format!("{shares} is outside 2..=262144"),
        ));
    }
    if let Some(period) = cpu.period() {
        if period == 0 {
            return Err(CgroupError::invalid(field("period"), "the period is zero"));
        }
        if !PERIOD_RANGE.contains(&period) {
            return Err(CgroupError::invalid(
                field("period"),
                format!("{period} us is outside 1000..=1000000"),
            ));
        }
    }
    if let Some(quota) = cpu.quota() {
        at_least_minus_one(&field("quota"), quota)?;
        if (1..1000).contains(&quota) {
            return Err(CgroupError::invalid(
                field("quota"),
                format!("{quota} us is below the kernel's minimum of 1000"),
            ));
        }
    }
    if let Some(runtime) = cpu.realtime_runtime() {
        at_least_minus_one(&field("realtimeRuntime"), runtime)?;
    }
    if cpu.realtime_period() == Some(0) {
        return Err(CgroupError::invalid(
            field("realtimePeriod"),
            "the period is zero",
        ));
    }
    if let Some(idle) = cpu.idle()
        && idle != 0
        && idle != 1
    {
        return Err(CgroupError::invalid(
            field("idle"),
            format!("{idle} is neither 0 nor 1"),
        ));
    }
    if let Some(cpus) = cpu.cpus() {
        check_set(&field("cpus"), cpus, &machine.cpus, "CPU")?;
    }
    if let Some(mems) = cpu.mems() {
        check_set(&field("mems"), mems, &machine.mems, "memory node")?;
    }
    Ok(())
}

fn check_set(field: &str, text: &str, available: &BTreeSet<u32>, what: &str) -> Result<()> {
    let wanted = parse_list(text.trim()).map_err(|reason| CgroupError::invalid(field, reason))?;
    if let Some(missing) = wanted.iter().find(|n| !available.contains(n)) {
        return Err(CgroupError::invalid(
            field,
            format!(
                "{what} {missing} does not exist here (online: {})",
                format_list(available)
            ),
        ));
    }
    Ok(())
}

/// Formats a set back into kernel list syntax (`0-3,8`).
pub fn format_list(set: &BTreeSet<u32>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end = iter.next().unwrap_or(end);
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    out.join(",")
}

fn validate_device_rule(field: &str, rule: &LinuxDeviceCgroup) -> Result<()> {
    match rule.typ() {
        None | Some(LinuxDeviceType::A | LinuxDeviceType::B | LinuxDeviceType::C) => {}
        Some(other) => {
            return Err(CgroupError::invalid(
                format!("{field}.type"),
                format!(
                    "{:?} is not a device cgroup type (use \"a\", \"b\" or \"c\")",
                    other.as_str()
                ),
            ));
        }
    }
    for (name, number) in [("major", rule.major()), ("minor", rule.minor())] {
        if let Some(n) = number
            && !(-1..=i64::from(u32::MAX)).contains(&n)
        {
            return Err(CgroupError::invalid(
                format!("{field}.{name}"),
                format!("{n} is not a device number (or -1 for any)"),
            ));
        }
    }
    if let Some(access) = rule.access() {
        let bad = access.chars().find(|c| !matches!(c, 'r' | 'w' | 'm'));
        if access.is_empty() || bad.is_some() {
            return Err(CgroupError::invalid(
                format!("{field}.access"),
                format!("{access:?} is not a combination of r, w and m"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
