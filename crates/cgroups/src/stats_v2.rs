//! Reading [`Stats`] from cgroup v2 files. Absent files (controller not
//! enabled) leave their fields at zero.

use std::path::Path;

use crate::error::Result;
use crate::fsutil::{read_flat_keyed, read_optional, read_u64};
use crate::stats::{Hugetlb, Stats, hugepage_sizes_in, parse_io_stat};

/// `cpu.stat` (always present on v2, even without the cpu controller).
pub(crate) fn cpu(dir: &Path, stats: &mut Stats) -> Result<()> {
    let stat = read_flat_keyed(&dir.join("cpu.stat"))?;
    let micros = |key: &str| stat.get(key).copied().unwrap_or(0) * 1000;
    stats.cpu.usage.total = micros("usage_usec");
    stats.cpu.usage.user = micros("user_usec");
    stats.cpu.usage.kernel = micros("system_usec");
    stats.cpu.throttling.periods = stat.get("nr_periods").copied().unwrap_or(0);
    stats.cpu.throttling.throttled_periods = stat.get("nr_throttled").copied().unwrap_or(0);
    stats.cpu.throttling.throttled_time = micros("throttled_usec");
    Ok(())
}

/// Memory counters; swap is reported as memory+swap like v1 (and runc).
pub(crate) fn memory(dir: &Path, stats: &mut Stats) -> Result<()> {
    let memory = &mut stats.memory;
    memory.raw = read_flat_keyed(&dir.join("memory.stat"))?
        .into_iter()
        .collect();
    memory.cache = memory.raw.get("file").copied().unwrap_or(0);
    let events = read_flat_keyed(&dir.join("memory.events"))?;
    memory.usage.usage = read_u64(&dir.join("memory.current"))?.unwrap_or(0);
    memory.usage.limit = read_u64(&dir.join("memory.max"))?.unwrap_or(u64::MAX);
    memory.usage.max = read_u64(&dir.join("memory.peak"))?.unwrap_or(0);
    memory.usage.failcnt = events.get("max").copied().unwrap_or(0);
    let swap_usage = read_u64(&dir.join("memory.swap.current"))?.unwrap_or(0);
    let swap_limit = read_u64(&dir.join("memory.swap.max"))?.unwrap_or(u64::MAX);
    let swap_events = read_flat_keyed(&dir.join("memory.swap.events"))?;
    memory.swap.usage = swap_usage + memory.usage.usage;
    memory.swap.limit = swap_limit.saturating_add(memory.usage.limit);
    memory.swap.max = read_u64(&dir.join("memory.swap.peak"))?.unwrap_or(0);
    memory.swap.failcnt = swap_events.get("max").copied().unwrap_or(0);
    Ok(())
}

/// `io.stat`.
pub(crate) fn io(dir: &Path, stats: &mut Stats) -> Result<()> {
    let (bytes, ios) = parse_io_stat(&read_optional(&dir.join("io.stat"))?.unwrap_or_default());
    stats.blkio.io_service_bytes_recursive = bytes;
    stats.blkio.io_serviced_recursive = ios;
    Ok(())
}

/// Huge page counters for each size the cgroup has files for.
pub(crate) fn hugetlb(dir: &Path, stats: &mut Stats) -> Result<()> {
    for size in hugepage_sizes_in(dir) {
        let file = |name: &str| dir.join(format!("hugetlb.{size}.{name}"));
        let events = read_flat_keyed(&file("events"))?;
        let entry = Hugetlb {
            usage: read_u64(&file("current"))?.unwrap_or(0),
            max: 0,
            failcnt: events.get("max").copied().unwrap_or(0),
        };
        stats.hugetlb.insert(size, entry);
    }
    Ok(())
}
