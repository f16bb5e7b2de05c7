//! Reading [`Stats`] from cgroup v1 files. Absent files (controller not
//! mounted, feature not in this kernel) leave their fields at zero.

use std::path::Path;

use crate::error::Result;
use crate::fsutil::{read_flat_keyed, read_optional, read_u64};
use crate::stats::{Hugetlb, MemoryEntry, Stats, hugepage_sizes_in, parse_blkio_v1};

/// USER_HZ: the unit of cpuacct.stat.
const NANOS_PER_TICK: u64 = 1_000_000_000 / 100;

fn numbers(text: Option<String>) -> Vec<u64> {
    text.map(|t| {
        t.split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect()
    })
    .unwrap_or_default()
}

/// CPU usage from cpuacct, throttling from cpu.
pub(crate) fn cpu(
    cpu_dir: Option<&Path>,
    cpuacct_dir: Option<&Path>,
    stats: &mut Stats,
) -> Result<()> {
    if let Some(dir) = cpuacct_dir {
        let usage = &mut stats.cpu.usage;
        usage.total = read_u64(&dir.join("cpuacct.usage"))?.unwrap_or(0);
        usage.percpu = numbers(read_optional(&dir.join("cpuacct.usage_percpu"))?);
        usage.percpu_user = numbers(read_optional(&dir.join("cpuacct.usage_percpu_user"))?);
        usage.percpu_kernel = numbers(read_optional(&dir.join("cpuacct.usage_percpu_sys"))?);
        match (
            read_u64(&dir.join("cpuacct.usage_user"))?,
            read_u64(&dir.join("cpuacct.usage_sys"))?,
        ) {
            (Some(user), Some(sys)) => (usage.user, usage.kernel) = (user, sys),
            _ => {
                let ticks = read_flat_keyed(&dir.join("cpuacct.stat"))?;
                usage.user = ticks.get("user").copied().unwrap_or(0) * NANOS_PER_TICK;
                usage.kernel = ticks.get("system").copied().unwrap_or(0) * NANOS_PER_TICK;
            }
        }
    }
    if let Some(dir) = cpu_dir {
        let stat = read_flat_keyed(&dir.join("cpu.stat"))?;
        let throttling = &mut stats.cpu.throttling;
        throttling.periods = stat.get("nr_periods").copied().unwrap_or(0);
        throttling.throttled_periods = stat.get("nr_throttled").copied().unwrap_or(0);
        throttling.throttled_time = stat.get("throttled_time").copied().unwrap_or(0);
    }
    Ok(())
}

fn memory_entry(dir: &Path, prefix: &str) -> Result<MemoryEntry> {
    let file = |name: &str| dir.join(format!("{prefix}{name}"));
    Ok(MemoryEntry {
        limit: read_u64(&file("limit_in_bytes"))?.unwrap_or(0),
        usage: read_u64(&file("usage_in_bytes"))?.unwrap_or(0),
        max: read_u64(&file("max_usage_in_bytes"))?.unwrap_or(0),
        failcnt: read_u64(&file("failcnt"))?.unwrap_or(0),
    })
}

/// Memory counters and `memory.stat`.
pub(crate) fn memory(dir: &Path, stats: &mut Stats) -> Result<()> {
    let memory = &mut stats.memory;
    memory.raw = read_flat_keyed(&dir.join("memory.stat"))?
        .into_iter()
        .collect();
    memory.cache = memory
        .raw
        .get("total_cache")
        .or_else(|| memory.raw.get("cache"))
        .copied()
        .unwrap_or(0);
    memory.usage = memory_entry(dir, "memory.")?;
    memory.swap = memory_entry(dir, "memory.memsw.")?;
    memory.kernel = memory_entry(dir, "memory.kmem.")?;
    memory.kernel_tcp = memory_entry(dir, "memory.kmem.tcp.")?;
    Ok(())
}

/// Block I/O: the CFQ files, else BFQ's, else the throttle layer's.
pub(crate) fn blkio(dir: &Path, stats: &mut Stats) -> Result<()> {
    for prefix in ["blkio.", "blkio.bfq.", "blkio.throttle."] {
        let bytes = read_optional(&dir.join(format!("{prefix}io_service_bytes_recursive")))?;
        let ios = read_optional(&dir.join(format!("{prefix}io_serviced_recursive")))?;
        if bytes.is_some() || ios.is_some() {
            stats.blkio.io_service_bytes_recursive = parse_blkio_v1(&bytes.unwrap_or_default());
            stats.blkio.io_serviced_recursive = parse_blkio_v1(&ios.unwrap_or_default());
            break;
        }
    }
    Ok(())
}

/// Huge page counters for each size the cgroup has files for.
pub(crate) fn hugetlb(dir: &Path, stats: &mut Stats) -> Result<()> {
    for size in hugepage_sizes_in(dir) {
        let file = |name: &str| dir.join(format!("hugetlb.{size}.{name}"));
        let entry = Hugetlb {
            usage: read_u64(&file("usage_in_bytes"))?.unwrap_or(0),
            max: read_u64(&file("max_usage_in_bytes"))?.unwrap_or(0),
            failcnt: read_u64(&file("failcnt"))?.unwrap_or(0),
        };
        stats.hugetlb.insert(size, entry);
    }
    Ok(())
}

/// pids.current and pids.max (same files on v1 and v2); unlimited is 0.
pub(crate) fn pids(dir: &Path, stats: &mut Stats) -> Result<()> {
    stats.pids.current = read_u64(&dir.join("pids.current"))?.unwrap_or(0);
    stats.pids.limit = read_u64(&dir.join("pids.max"))?
        .filter(|&l| l != u64::MAX)
        .unwrap_or(0);
    Ok(())
}
