//! update, pause, resume, events: the commands that act on a container's cgroup.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use brig_runtime::Store;
use brig_runtime::events::{Event, EventStream};
use brig_runtime::update::{self, Origin, ResourceFlags};

use crate::cli::UpdateArgs;

pub fn update(store: &Store, args: UpdateArgs) -> Result<i32> {
    if args.l3_cache_schema.is_some() || args.mem_bw_schema.is_some() {
        bail!("--l3-cache-schema/--mem-bw-schema: Intel RDT is not supported by brig-runtime");
    }
    let (resources, origin) = match &args.resources {
        Some(path) => {
            let data = read_resources(path)?;
            let resources = update::resources_from_json(&data, path)?;
            (resources, Origin::File(path.clone()))
        }
        None => (update::resources_from_flags(&flags(&args))?, Origin::Flags),
    };
    update::update(store, &args.id, &resources, &origin)?;
    Ok(0)
}

fn read_resources(path: &Path) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_end(&mut data)
            .context("--resources -: reading the resources from standard input")?;
    } else {
        data = std::fs::read(path)
            .with_context(|| format!("--resources: cannot read {}", path.display()))?;
    }
    Ok(data)
}

fn flags(args: &UpdateArgs) -> ResourceFlags {
    ResourceFlags {
        memory: args.memory.clone(),
        memory_reservation: args.memory_reservation.clone(),
        memory_swap: args.memory_swap.clone(),
        kernel_memory: args.kernel_memory.clone(),
        kernel_memory_tcp: args.kernel_memory_tcp.clone(),
        cpu_quota: args.cpu_quota.clone(),
        cpu_period: args.cpu_period.clone(),
        cpu_shares: args.cpu_shares.clone(),
        cpu_rt_period: args.cpu_rt_period.clone(),
        cpu_rt_runtime: args.cpu_rt_runtime.clone(),
        cpuset_cpus: args.cpuset_cpus.clone(),
        cpuset_mems: args.cpuset_mems.clone(),
        pids_limit: args.pids_limit.clone(),
        blkio_weight: args.blkio_weight.clone(),
    }
}

pub fn pause(store: &Store, id: &str) -> Result<i32> {
    brig_runtime::pause::pause(store, id)?;
    Ok(0)
}

pub fn resume(store: &Store, id: &str) -> Result<i32> {
    brig_runtime::pause::resume(store, id)?;
    Ok(0)
}

pub fn events(store: &Store, id: &str, once: bool, interval: &str) -> Result<i32> {
    let interval = parse_duration(interval).context("--interval")?;
    let mut out = std::io::stdout().lock();
    if once {
        let stats = brig_runtime::events::stats(store, id)?;
        writeln!(out, "{}", Event::Stats(Box::new(stats)).to_json(id))?;
        return Ok(0);
    }
    let mut stream = EventStream::open(store, id, interval)?;
    while let Some(event) = stream.next_event()? {
        writeln!(out, "{}", event.to_json(id))?;
        out.flush()?;
    }
    Ok(0)
}

/// Parses a Go duration (what runc's `--interval` takes): one or more
/// number+unit pairs such as `5s`, `1.5s`, `500ms`, `1m30s`; it must be positive.
fn parse_duration(text: &str) -> Result<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        bail!("an empty duration (use e.g. 5s or 500ms)");
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(number_end);
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let value: f64 = number
            .parse()
            .with_context(|| format!("{text:?} is not a duration (use e.g. 5s or 500ms)"))?;
        let seconds = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => bail!("{text:?}: unknown or missing unit {unit:?} (use ns, us, ms, s, m or h)"),
        };
        total += value * seconds;
        rest = tail;
    }
    if total <= 0.0 || !total.is_finite() {
        bail!("{text:?}: the interval must be greater than 0");
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let ms = |n| Duration::from_millis(n);
        assert_eq!(parse_duration("5s").unwrap(), ms(5000));
        assert_eq!(parse_duration("500ms").unwrap(), ms(500));
        assert_eq!(parse_duration("1m30s").unwrap(), ms(90_000));
        assert_eq!(parse_duration("1.5s").unwrap(), ms(1500));
        for bad in ["", "5", "0s", "-1s", "5x", "s", "1..2s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }
}
