//! `LinuxResources` -> cgroup v1 file writes.
//!
//! Ignored on purpose, as in runc: `memory.kernel` (kernel memory limits
//! are gone from current kernels) and `memory.useHierarchy` (always on).
//! `unified` is refused: v1 has no such files.

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use crate::controller::Controller;
use crate::devices;
use crate::error::{CgroupError, Result};
use crate::plan::{FileWrite, Probe, cpuset_writes, rdma_writes};

/// Plans the v1 writes for `resources` on the cgroup `probe` looks at.
pub fn plan_v1(resources: &LinuxResources, probe: &dyn Probe) -> Result<Vec<FileWrite>> {
    if resources.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        return Err(CgroupError::not_supported(
            "linux.resources.unified",
            "it sets cgroup v2 files, and this container's controllers are on cgroup v1",
        ));
    }
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
        let value = if pids.limit() < 0 {
            "max".to_owned()
        } else {
            pids.limit().to_string()
        };
        writes.push(FileWrite::new(
            Controller::Pids,
            "pids.max",
            value,
            "linux.resources.pids.limit",
        ));
    }
    if let Some(block_io) = resources.block_io() {
        blkio_writes(block_io, probe, &mut writes)?;
    }
    for (i, limit) in resources.hugepage_limits().iter().flatten().enumerate() {
        let field = format!("linux.resources.hugepageLimits[{i}].limit");
        let size = limit.page_size();
        writes.push(FileWrite::new(
            Controller::Hugetlb,
            format!("hugetlb.{size}.limit_in_bytes"),
            limit.limit().to_string(),
            &field,
        ));
        let rsvd = format!("hugetlb.{size}.rsvd.limit_in_bytes");
        if probe.exists(Controller::Hugetlb, &rsvd) {
            writes.push(FileWrite::new(
                Controller::Hugetlb,
                rsvd,
                limit.limit().to_string(),
                field,
            ));
        }
    }
    if let Some(network) = resources.network() {
        if let Some(class_id) = network.class_id() {
            writes.push(FileWrite::new(
                Controller::NetCls,
                "net_cls.classid",
                class_id.to_string(),
                "linux.resources.network.classID",
            ));
        }
        for (i, prio) in network.priorities().iter().flatten().enumerate() {
            let field = format!("linux.resources.network.priorities[{i}]");
            writes.push(FileWrite::new(
                Controller::NetPrio,
                "net_prio.ifpriomap",
                format!("{} {}", prio.name(), prio.priority()),
                field,
            ));
        }
    }
    writes.extend(rdma_writes(resources));
    if let Some(rules) = resources.devices() {
        for (file, line) in devices::v1_writes(&devices::effective_rules(rules)?) {
            writes.push(FileWrite::new(
                Controller::Devices,
                file,
                line,
                "linux.resources.devices",
            ));
        }
    }
    Ok(writes)
}

fn require(probe: &dyn Probe, controller: Controller, file: &str, field: &str) -> Result<()> {
    if probe.exists(controller, file) {
        return Ok(());
    }
    Err(CgroupError::not_supported(
        field.to_owned(),
        format!("this kernel has no {file} (cgroup v1)"),
    ))
}

fn memory_writes(
    memory: &LinuxMemory,
    probe: &dyn Probe,
    writes: &mut Vec<FileWrite>,
) -> Result<()> {
    let m = Controller::Memory;
    let limit = memory.limit().filter(|&l| l != 0);
    let swap = memory.swap().filter(|&s| s != 0);
    let limit_write = limit.map(|l| {
        FileWrite::new(
            m,
            "memory.limit_in_bytes",
            l.to_string(),
            "linux.resources.memory.limit",
        )
    });
    let swap_write = match swap {
        Some(s) if probe.exists(m, "memory.memsw.limit_in_bytes") => Some(FileWrite::new(
            m,
            "memory.memsw.limit_in_bytes",
            s.to_string(),
            "linux.resources.memory.swap",
        )),
        // Without swap accounting, "unlimited swap" is what we have anyway.
        Some(-1) | None => None,
        Some(_) => {
            return Err(CgroupError::not_supported(
                "linux.resources.memory.swap",
                "swap accounting is off in this kernel (no memory.memsw.limit_in_bytes)",
            ));
        }
    };
    // memsw must stay >= the memory limit at every step: raise swap first
    // when it grows past the current limit, as runc does.
    let current_limit = probe
        .read(m, "memory.limit_in_bytes")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    let swap_first = swap.is_some_and(|s| s == -1 || (s as u64) > current_limit);
    if swap_first {
        writes.extend(swap_write.clone());
        writes.extend(limit_write);
    } else {
        writes.extend(limit_write);
        writes.extend(swap_write);
    }
    if let Some(reservation) = memory.reservation().filter(|&r| r != 0) {
        writes.push(FileWrite::new(
            m,
            "memory.soft_limit_in_bytes",
            reservation.to_string(),
            "linux.resources.memory.reservation",
        ));
    }
    if let Some(tcp) = memory.kernel_tcp().filter(|&t| t != 0) {
        let field = "linux.resources.memory.kernelTCP";
        require(probe, m, "memory.kmem.tcp.limit_in_bytes", field)?;
        writes.push(FileWrite::new(
            m,
            "memory.kmem.tcp.limit_in_bytes",
            tcp.to_string(),
            field,
        ));
    }
    if let Some(swappiness) = memory.swappiness() {
        writes.push(FileWrite::new(
            m,
            "memory.swappiness",
            swappiness.to_string(),
            "linux.resources.memory.swappiness",
        ));
    }
    if let Some(disable) = memory.disable_oom_killer() {
        let value = if disable { "1" } else { "0" };
        writes.push(FileWrite::new(
            m,
            "memory.oom_control",
            value,
            "linux.resources.memory.disableOOMKiller",
        ));
    }
    Ok(())
}

fn cpu_writes(cpu: &LinuxCpu, probe: &dyn Probe, writes: &mut Vec<FileWrite>) -> Result<()> {
    let c = Controller::Cpu;
    if let Some(shares) = cpu.shares().filter(|&s| s != 0) {
        writes.push(FileWrite::new(
            c,
            "cpu.shares",
            shares.to_string(),
            "linux.resources.cpu.shares",
        ));
    }
    if let Some(period) = cpu.period() {
        writes.push(FileWrite::new(
            c,
            "cpu.cfs_period_us",
            period.to_string(),
            "linux.resources.cpu.period",
        ));
    }
    if let Some(quota) = cpu.quota().filter(|&q| q != 0) {
        writes.push(FileWrite::new(
            c,
            "cpu.cfs_quota_us",
            quota.to_string(),
            "linux.resources.cpu.quota",
        ));
    }
    if let Some(burst) = cpu.burst() {
        let field = "linux.resources.cpu.burst";
        require(probe, c, "cpu.cfs_burst_us", field)?;
        writes.push(FileWrite::new(
            c,
            "cpu.cfs_burst_us",
            burst.to_string(),
            field,
        ));
    }
    // The period goes first so a new runtime is checked against it.
    if let Some(period) = cpu.realtime_period() {
        let field = "linux.resources.cpu.realtimePeriod";
        require(probe, c, "cpu.rt_period_us", field)?;
        writes.push(FileWrite::new(
            c,
            "cpu.rt_period_us",
            period.to_string(),
            field,
        ));
    }
    if let Some(runtime) = cpu.realtime_runtime() {
        let field = "linux.resources.cpu.realtimeRuntime";
        require(probe, c, "cpu.rt_runtime_us", field)?;
        writes.push(FileWrite::new(
            c,
            "cpu.rt_runtime_us",
            runtime.to_string(),
            field,
        ));
    }
    if let Some(idle) = cpu.idle() {
        let field = "linux.resources.cpu.idle";
        require(probe, c, "cpu.idle", field)?;
        writes.push(FileWrite::new(c, "cpu.idle", idle.to_string(), field));
    }
    cpuset_writes(cpu, writes);
    Ok(())
}

/// `blkio.weight` where CFQ existed, `blkio.bfq.weight` with BFQ.
fn weight_file(probe: &dyn Probe, base: &str, field: &str) -> Result<String> {
    let cfq = format!("blkio.{base}");
    let bfq = format!("blkio.bfq.{base}");
    if probe.exists(Controller::Blkio, &cfq) {
        return Ok(cfq);
    }
    if probe.exists(Controller::Blkio, &bfq) {
        return Ok(bfq);
    }
    Err(CgroupError::not_supported(
        field.to_owned(),
        format!("this kernel has neither {cfq} nor {bfq} (no CFQ or BFQ I/O scheduler)"),
    ))
}

fn blkio_writes(
    block_io: &LinuxBlockIo,
    probe: &dyn Probe,
    writes: &mut Vec<FileWrite>,
) -> Result<()> {
    let b = Controller::Blkio;
    let base = "linux.resources.blockIO";
    if let Some(weight) = block_io.weight().filter(|&w| w != 0) {
        let field = format!("{base}.weight");
        writes.push(FileWrite::new(
            b,
            weight_file(probe, "weight", &field)?,
            weight.to_string(),
            field,
        ));
    }
    if let Some(leaf) = block_io.leaf_weight().filter(|&w| w != 0) {
        let field = format!("{base}.leafWeight");
        require(probe, b, "blkio.leaf_weight", &field)?;
        writes.push(FileWrite::new(
            b,
            "blkio.leaf_weight",
            leaf.to_string(),
            field,
        ));
    }
    for (i, dev) in block_io.weight_device().iter().flatten().enumerate() {
        let field = format!("{base}.weightDevice[{i}]");
        if let Some(weight) = dev.weight() {
            let file = weight_file(probe, "weight_device", &field)?;
            writes.push(FileWrite::new(
                b,
                file,
                format!("{}:{} {weight}", dev.major(), dev.minor()),
                &field,
            ));
        }
        if let Some(leaf) = dev.leaf_weight() {
            require(probe, b, "blkio.leaf_weight_device", &field)?;
            writes.push(FileWrite::new(
                b,
                "blkio.leaf_weight_device",
                format!("{}:{} {leaf}", dev.major(), dev.minor()),
                &field,
            ));
        }
    }
    let throttles = [
        (
            "throttleReadBpsDevice",
            "blkio.throttle.read_bps_device",
            block_io.throttle_read_bps_device(),
        ),
        (
            "throttleWriteBpsDevice",
            "blkio.throttle.write_bps_device",
            block_io.throttle_write_bps_device(),
        ),
        (
            "throttleReadIOPSDevice",
            "blkio.throttle.read_iops_device",
            block_io.throttle_read_iops_device(),
        ),
        (
            "throttleWriteIOPSDevice",
            "blkio.throttle.write_iops_device",
            block_io.throttle_write_iops_device(),
        ),
    ];
    for (name, file, list) in throttles {
        for (i, dev) in list.iter().flatten().enumerate() {
            let value = format!("{}:{} {}", dev.major(), dev.minor(), dev.rate());
            writes.push(FileWrite::new(
                b,
                file,
                value,
                format!("{base}.{name}[{i}]"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "plan_v1_tests.rs"]
mod tests;
