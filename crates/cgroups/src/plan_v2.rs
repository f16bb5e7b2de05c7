//! `LinuxResources` -> cgroup v2 file writes.
//!
//! Conversions follow runc: shares -> `cpu.weight` (see
//! [`crate::convert::shares_to_weight`]), memory+swap -> `memory.swap.max`,
//! blkio weight -> `io.weight` (or `io.bfq.weight` unconverted), -1 ->
//! `max`. Ignored on purpose, as in runc: `memory.kernel`,
//! `memory.kernelTCP`, `memory.swappiness`, `memory.disableOOMKiller` and
//! `memory.useHierarchy`, which v2 does not have. Refused: realtime CPU
//! fields, `blockIO.leafWeight` and `network` (no v2 files exist for them).
//! Devices are not file writes on v2 (see [`crate::devices::ebpf`]).

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use crate::controller::Controller;
use crate::convert;
use crate::error::{CgroupError, Result};
use crate::plan::{FileWrite, Probe, cpuset_writes, rdma_writes, v2_limit};
use crate::unified::{check_unified_key, unified_field};

/// Plans the v2 writes for `resources` on the cgroup `probe` looks at.
pub fn plan_v2(resources: &LinuxResources, probe: &dyn Probe) -> Result<Vec<FileWrite>> {
    let mut writes = Vec::new();
    if let Some(memory) = resources.memory() {
        memory_writes(memory, probe, &mut writes)?;
    }
    if let Some(cpu) = resources.cpu() {
        cpu_writes(cpu, probe, &mut writes)?;
    }
    if let Some(pids) = resources.pids()
        && pids.limit() != 0
    {
        writes.push(FileWrite::new(
            Controller::Pids,
            "pids.max",
            v2_limit(pids.limit()),
            "linux.resources.pids.limit",
        ));
    }
    if let Some(block_io) = resources.block_io() {
        io_writes(block_io, probe, &mut writes)?;
    }
    for (i, limit) in resources.hugepage_limits().iter().flatten().enumerate() {
        let field = format!("linux.resources.hugepageLimits[{i}].limit");
        let size = limit.page_size();
        writes.push(FileWrite::new(
            Controller::Hugetlb,
            format!("hugetlb.{size}.max"),
            v2_limit(limit.limit()),
            &field,
        ));
        let rsvd = format!("hugetlb.{size}.rsvd.max");
        if probe.exists(Controller::Hugetlb, &rsvd) {
            writes.push(FileWrite::new(
                Controller::Hugetlb,
                rsvd,
                v2_limit(limit.limit()),
                field,
            ));
        }
    }
    if resources
        .network()
        .as_ref()
        .is_some_and(|n| n.class_id().is_some() || n.priorities().is_some())
    {
        return Err(CgroupError::not_supported(
            "linux.resources.network",
            "cgroup v2 has no net_cls/net_prio controllers (use eBPF or nftables on the cgroup instead)",
        ));
    }
    writes.extend(rdma_writes(resources));
    unified_writes(resources, &mut writes)?;
    Ok(writes)
}

fn memory_writes(
    memory: &LinuxMemory,
    probe: &dyn Probe,
    writes: &mut Vec<FileWrite>,
) -> Result<()> {
    let m = Controller::Memory;
    if let Some(swap) = memory.swap() {
        let field = "linux.resources.memory.swap";
        let v2_swap = convert::memory_swap_to_v2(swap, memory.limit().unwrap_or(0))
            .map_err(|reason| CgroupError::invalid(field, reason))?;
        if v2_swap != 0 || swap != 0 {
            let value = v2_limit(v2_swap);
            if probe.exists(m, "memory.swap.max") {
                writes.push(FileWrite::new(m, "memory.swap.max", value, field));
            } else if value != "max" && value != "0" {
                return Err(CgroupError::not_supported(
                    field,
                    "swap accounting is off in this kernel (no memory.swap.max)",
                ));
            }
        }
    }
    if let Some(limit) = memory.limit().filter(|&l| l != 0) {
        writes.push(FileWrite::new(
            m,
            "memory.max",
            v2_limit(limit),
            "linux.resources.memory.limit",
        ));
    }
    if let Some(reservation) = memory.reservation().filter(|&r| r != 0) {
        writes.push(FileWrite::new(
            m,
            "memory.low",
            v2_limit(reservation),
            "linux.resources.memory.reservation",
        ));
    }
    Ok(())
}

fn cpu_writes(cpu: &LinuxCpu, probe: &dyn Probe, writes: &mut Vec<FileWrite>) -> Result<()> {
    let c = Controller::Cpu;
    if cpu.realtime_runtime().is_some_and(|r| r != 0) || cpu.realtime_period().is_some() {
        return Err(CgroupError::not_supported(
            "linux.resources.cpu.realtimeRuntime/realtimePeriod",
            "cgroup v2 has no realtime CPU bandwidth files",
        ));
    }
    if let Some(shares) = cpu.shares().filter(|&s| s != 0) {
        let weight = convert::shares_to_weight(shares);
        writes.push(FileWrite::new(
            c,
            "cpu.weight",
            weight.to_string(),
            "linux.resources.cpu.shares",
        ));
    }
    if let Some(idle) = cpu.idle() {
        let field = "linux.resources.cpu.idle";
        if !probe.exists(c, "cpu.idle") {
            return Err(CgroupError::not_supported(
                field,
                "this kernel has no cpu.idle",
            ));
        }
        writes.push(FileWrite::new(c, "cpu.idle", idle.to_string(), field));
    }
    let quota = cpu.quota().filter(|&q| q != 0);
    if quota.is_some() || cpu.period().is_some() {
        // cpu.max is "QUOTA [PERIOD]": keep the current quota when only the
        // period changes, and the current period when only the quota does.
        let quota = match quota {
            Some(q) if q > 0 => q.to_string(),
            Some(_) => "max".to_owned(),
            None => probe
                .read(c, "cpu.max")
                .and_then(|v| v.split_whitespace().next().map(str::to_owned))
                .unwrap_or_else(|| "max".to_owned()),
        };
        let value = match cpu.period() {
            Some(period) => format!("{quota} {period}"),
            None => quota,
        };
        writes.push(FileWrite::new(
            c,
            "cpu.max",
            value,
            "linux.resources.cpu.quota/period",
        ));
    }
    if let Some(burst) = cpu.burst() {
        let field = "linux.resources.cpu.burst";
        if !probe.exists(c, "cpu.max.burst") {
            return Err(CgroupError::not_supported(
                field,
                "this kernel has no cpu.max.burst",
            ));
        }
        writes.push(FileWrite::new(c, "cpu.max.burst", burst.to_string(), field));
    }
    cpuset_writes(cpu, writes);
    Ok(())
}

fn io_writes(
    block_io: &LinuxBlockIo,
    probe: &dyn Probe,
    writes: &mut Vec<FileWrite>,
) -> Result<()> {
    let b = Controller::Blkio;
    let base = "linux.resources.blockIO";
    if block_io.leaf_weight().is_some_and(|w| w != 0)
        || block_io
            .weight_device()
            .iter()
            .flatten()
            .any(|d| d.leaf_weight().is_some())
    {
        return Err(CgroupError::not_supported(
            format!("{base}.leafWeight"),
            "cgroup v2 has no leaf weights",
        ));
    }
    // BFQ takes the v1 range (1..=1000) as is; io.weight needs conversion.
    let bfq = probe.exists(b, "io.bfq.weight");
    let (file, convert_weight): (&str, fn(u16) -> u64) = if bfq {
        ("io.bfq.weight", u64::from)
    } else {
        ("io.weight", convert::blkio_weight_to_io_weight)
    };
    if let Some(weight) = block_io.weight().filter(|&w| w != 0) {
        writes.push(FileWrite::new(
            b,
            file,
            format!("default {}", convert_weight(weight)),
            format!("{base}.weight"),
        ));
    }
    for (i, dev) in block_io.weight_device().iter().flatten().enumerate() {
        if let Some(weight) = dev.weight() {
            let value = format!("{}:{} {}", dev.major(), dev.minor(), convert_weight(weight));
            writes.push(FileWrite::new(
                b,
                file,
                value,
                format!("{base}.weightDevice[{i}]"),
            ));
        }
    }
    let throttles = [
        (
            "throttleReadBpsDevice",
            "rbps",
            block_io.throttle_read_bps_device(),
        ),
        (
            "throttleWriteBpsDevice",
            "wbps",
            block_io.throttle_write_bps_device(),
        ),
        (
            "throttleReadIOPSDevice",
            "riops",
            block_io.throttle_read_iops_device(),
        ),
        (
            "throttleWriteIOPSDevice",
            "wiops",
            block_io.throttle_write_iops_device(),
        ),
    ];
    for (name, key, list) in throttles {
        for (i, dev) in list.iter().flatten().enumerate() {
            // 0 removes a v1 throttle; "max" is v2's way of saying the same.
            let rate = if dev.rate() == 0 {
                "max".to_owned()
            } else {
                dev.rate().to_string()
            };
            let value = format!("{}:{} {key}={rate}", dev.major(), dev.minor());
            writes.push(FileWrite::new(
                b,
                "io.max",
                value,
                format!("{base}.{name}[{i}]"),
            ));
        }
    }
    Ok(())
}

fn unified_writes(resources: &LinuxResources, writes: &mut Vec<FileWrite>) -> Result<()> {
    let mut entries: Vec<_> = resources.unified().iter().flatten().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    for (key, value) in entries {
        let controller = match check_unified_key(key)? {
            // Core files live in every cgroup: any controller's dir will do.
            "cgroup" => Controller::Pids,
            name => Controller::from_v2_name(name)
                .ok_or_else(|| CgroupError::invalid(unified_field(key), "unknown controller"))?,
        };
        writes.push(FileWrite::new(
            controller,
            key.clone(),
            value.clone(),
            unified_field(key),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "plan_v2_tests.rs"]
mod tests;
