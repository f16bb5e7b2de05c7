//! `ps` (with Docker's filters), `top`, `stats`, `port`.

use std::collections::BTreeMap;

use brig_cgroups::{AnyManager, CgroupMonitor};

use crate::cleanup::{cgroups_path, uses_volume};
use crate::config::PortBinding;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::record::{ContainerRecord, State};

/// What `ps` lists.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// `-a`: stopped containers too.
    pub all: bool,
    /// `--filter KEY=VALUE` (same key: any matches; different keys: all).
    pub filters: Vec<String>,
    /// `-n N`: the N most recent.
    pub last: Option<usize>,
}

const FILTER_KEYS: &[&str] = &[
    "id", "name", "label", "status", "exited", "ancestor", "health", "volume", "before", "since",
];

/// Parses `--filter` values.
pub fn parse_filters(filters: &[String]) -> Result<BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in filters {
        let (k, v) = f.split_once('=').ok_or_else(|| {
            Error::invalid("--filter", f, "expected KEY=VALUE, e.g. status=running")
        })?;
        if !FILTER_KEYS.contains(&k) {
            return Err(Error::invalid(
                "--filter",
                f,
                format!("unknown key {k:?} (one of {})", FILTER_KEYS.join(", ")),
            ));
        }
        out.entry(k.to_owned()).or_default().push(v.to_owned());
    }
    Ok(out)
}

fn matches_one(rec: &ContainerRecord, key: &str, value: &str, all: &[ContainerRecord]) -> bool {
    match key {
        "id" => rec.id.starts_with(value),
        "name" => rec.name.contains(value.trim_start_matches('/')),
        "label" => match value.split_once('=') {
            Some((k, v)) => rec.config.labels.get(k).is_some_and(|x| x == v),
            None => rec.config.labels.contains_key(value),
        },
        "status" => rec.state.as_str() == value,
        "exited" => {
            rec.state == State::Exited
                && rec.exit_code.map(|c| c.to_string()).as_deref() == Some(value)
        }
        "ancestor" => {
            rec.image == value
                || rec.image_id == value
                || rec
                    .image_id
                    .trim_start_matches("sha256:")
                    .starts_with(value)
                || rec.image.split(':').next() == Some(value)
        }
        "health" => match &rec.health {
            Some(h) => h.status.as_str() == value,
            None => value == "none",
        },
        "volume" => {
            uses_volume(rec, value) || rec.config.mounts.iter().any(|m| m.target() == value)
        }
        "before" | "since" => {
            let pivot = all
                .iter()
                .find(|c| c.id.starts_with(value) || c.name == value);
            pivot.is_some_and(|p| {
                if key == "before" {
                    rec.created_at < p.created_at
                } else {
                    rec.created_at > p.created_at
                }
            })
        }
        _ => false,
    }
}

/// One `top` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopRow {
    pub uid: u32,
    pub pid: i32,
    pub ppid: i32,
    pub time: String,
    pub command: String,
}

/// One `stats` sample.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSample {
    /// CPU time used by the container (ns).
    pub cpu_ns: u64,
    /// All CPUs' time of the machine (ns), for the percentage.
    pub system_ns: u64,
    pub online_cpus: u32,
    pub memory_usage: u64,
    pub memory_limit: u64,
    pub pids: u64,
    pub block_read: u64,
    pub block_write: u64,
}

impl StatsSample {
    /// CPU use between two samples, in percent of one CPU (Docker's).
    pub fn cpu_percent(&self, previous: &StatsSample) -> f64 {
        let cpu = self.cpu_ns.saturating_sub(previous.cpu_ns) as f64;
        let system = self.system_ns.saturating_sub(previous.system_ns) as f64;
        if system <= 0.0 {
            return 0.0;
        }
        cpu / system * f64::from(self.online_cpus.max(1)) * 100.0
    }
}

impl Engine {
    /// `brig ps`: newest first.
    pub fn list(&self, opts: &ListOptions) -> Result<Vec<ContainerRecord>> {
        let filters = parse_filters(&opts.filters)?;
        let all = self.ctx.db.containers()?;
        let mut out: Vec<ContainerRecord> = all
            .iter()
            .filter(|r| {
                opts.all
                    || opts.last.is_some()
                    || matches!(r.state, State::Running | State::Paused | State::Restarting)
                    || filters.contains_key("status")
                    || filters.contains_key("exited")
            })
            .filter(|r| {
                filters
                    .iter()
                    .all(|(k, values)| values.iter().any(|v| matches_one(r, k, v, &all)))
            })
            .cloned()
            .collect();
        if let Some(n) = opts.last {
            out.truncate(n);
        }
        Ok(out)
    }

    fn running(&self, reference: &str) -> Result<ContainerRecord> {
        let rec = self.find(reference)?;
        if !matches!(rec.state, State::Running | State::Paused) {
            return Err(Error::wrong_state(&rec.id, rec.state, "it is not running"));
        }
        Ok(rec)
    }

    /// `brig top`: the container's processes.
    pub fn top(&self, reference: &str) -> Result<Vec<TopRow>> {
        let rec = self.running(reference)?;
        let cg = AnyManager::for_container(Some(&cgroups_path(&rec.id)), &rec.id, false)?;
        let ticks = rustix::param::clock_ticks_per_second().max(1);
        let mut rows = Vec::new();
        for pid in cg.pids()? {
            let Some((ppid, comm)) = crate::proc::ppid_and_comm(pid) else {
                continue;
            };
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let uid = status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|u| u.parse().ok())
                .unwrap_or(0);
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let command = if cmdline.is_empty() {
                format!("[{comm}]")
            } else {
                String::from_utf8_lossy(&cmdline)
                    .trim_end_matches('\0')
                    .replace('\0', " ")
            };
            let cpu_ticks = crate::proc::cpu_ticks(pid).unwrap_or(0);
            let secs = cpu_ticks / ticks;
            rows.push(TopRow {
                uid,
                pid,
                ppid,
                time: format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60),
                command,
            });
        }
        Ok(rows)
    }

    /// One `stats` sample of a running container.
    pub fn stats(&self, reference: &str) -> Result<StatsSample> {
        let rec = self.running(reference)?;
        let cg = AnyManager::for_container(Some(&cgroups_path(&rec.id)), &rec.id, false)?;
        let s = cg.stats()?;
        let (read, write) = s
            .blkio
            .io_service_bytes_recursive
            .iter()
            .fold((0, 0), |(r, w), e| {
                match e.op.to_ascii_lowercase().as_str() {
                    "read" => (r + e.value, w),
                    "write" => (r, w + e.value),
                    _ => (r, w),
                }
            });
        let online = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        Ok(StatsSample {
            cpu_ns: s.cpu.usage.total,
            system_ns: system_cpu_ns(),
            online_cpus: online,
            memory_usage: s.memory.usage.usage,
            memory_limit: s.memory.usage.limit.min(host_memory()),
            pids: s.pids.current,
            block_read: read,
            block_write: write,
        })
    }

    /// `brig port`: the published ports (recorded; networking comes with issue 8).
    pub fn ports(&self, reference: &str) -> Result<Vec<PortBinding>> {
        let rec = self.find(reference)?;
        crate::network::published_ports(&self.ctx, &rec)
    }
}

/// All CPU time of the machine in ns (`/proc/stat`, as Docker computes it).
fn system_cpu_ns() -> u64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks = rustix::param::clock_ticks_per_second().max(1);
    text.lines()
        .find(|l| l.starts_with("cpu "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(7)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum::<u64>()
        })
        .map_or(0, |t| t * 1_000_000_000 / ticks)
}

fn host_memory() -> u64 {
    let info = rustix::system::sysinfo();
    u64::from(info.mem_unit).max(1) * info.totalram as u64
}
