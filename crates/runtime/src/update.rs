//! `update`: new limits for a living container, from runc's flags or a
//! resources JSON file. Everything is checked against the container's
//! merged configuration before the first cgroup write; the new values are
//! then kept in the container's record, so a later `update` builds on them.

use std::path::{Path, PathBuf};

use brig_cgroups::{CgroupError, CgroupManager};
use oci_spec::runtime::LinuxResources;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::state::{Status, Store};

/// runc's `update` flags, as typed (parsed here so errors name the flag).
#[derive(Debug, Clone, Default)]
pub struct ResourceFlags {
    pub memory: Option<String>,
    pub memory_reservation: Option<String>,
    pub memory_swap: Option<String>,
    /// Accepted for compatibility and ignored (kernel memory limits are
    /// obsolete since Linux 5.4), as runc does.
    pub kernel_memory: Option<String>,
    pub kernel_memory_tcp: Option<String>,
    pub cpu_quota: Option<String>,
    pub cpu_period: Option<String>,
    pub cpu_shares: Option<String>,
    pub cpu_rt_period: Option<String>,
    pub cpu_rt_runtime: Option<String>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<String>,
    pub blkio_weight: Option<String>,
}

/// Where the new values came from: errors name the flag or the file's field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flags,
    /// `--resources FILE` (`-` for standard input).
    File(PathBuf),
}

/// Which `update` flag sets which `linux.resources` field.
const FLAG_FIELDS: [(&str, &str); 16] = [
    ("--memory", "linux.resources.memory.limit"),
    ("--memory-reservation", "linux.resources.memory.reservation"),
    ("--memory-swap", "linux.resources.memory.swap"),
    ("--kernel-memory", "linux.resources.memory.kernel"),
    ("--kernel-memory-tcp", "linux.resources.memory.kernelTCP"),
    ("--cpu-quota", "linux.resources.cpu.quota"),
    ("--cpu-period", "linux.resources.cpu.period"),
    (
        "--cpu-quota/--cpu-period",
        "linux.resources.cpu.quota/period",
    ),
    ("--cpu-shares", "linux.resources.cpu.shares"),
    ("--cpu-rt-period", "linux.resources.cpu.realtimePeriod"),
    ("--cpu-rt-runtime", "linux.resources.cpu.realtimeRuntime"),
    (
        "--cpu-rt-runtime/--cpu-rt-period",
        "linux.resources.cpu.realtimeRuntime/realtimePeriod",
    ),
    ("--cpuset-cpus", "linux.resources.cpu.cpus"),
    ("--cpuset-mems", "linux.resources.cpu.mems"),
    ("--pids-limit", "linux.resources.pids.limit"),
    ("--blkio-weight", "linux.resources.blockIO.weight"),
];

fn flag_of(field: &str) -> Option<&'static str> {
    FLAG_FIELDS
        .iter()
        .find(|(_, f)| *f == field)
        .map(|(flag, _)| *flag)
}

fn bad_flag(flag: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidFlag {
        flag,
        reason: reason.into(),
    }
}

/// Parses a size like docker's `RAMInBytes` (what runc uses): digits with an
/// optional fraction, an optional space, then an optional binary unit
/// `k`/`m`/`g`/`t`/`p` (any case) with optional `i` and `b` (`32m`,
/// `1.5GiB`, `512kb`, `4096`). `-1` means unlimited.
pub fn parse_bytes(flag: &'static str, text: &str) -> Result<i64> {
    let text = text.trim();
    if text == "-1" {
        return Ok(-1);
    }
    let bad = || {
        bad_flag(
            flag,
            format!(
                "{text:?} is not a size (use bytes, e.g. 33554432, or 32m, 1g; -1 for unlimited)"
            ),
        )
    };
    let digits_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let number_ok = !number.is_empty()
        && number
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    if !number_ok || number.matches('.').count() > 1 {
        return Err(bad());
    }
    let mut unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_lowercase();
    if unit.ends_with('b') {
        unit.pop();
    }
    if unit.ends_with('i') && unit.len() == 2 {
        unit.pop();
    }
    let shift = match unit.as_str() {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(bad()),
    };
    let value: f64 = number.parse().map_err(|_| bad())?;
    let bytes = value * (1u64 << shift) as f64;
    if bytes >= i64::MAX as f64 {
        return Err(bad_flag(flag, format!("{text:?} is too large")));
    }
    Ok(bytes as i64)
}

fn parse_int<T: std::str::FromStr>(flag: &'static str, text: &str, what: &str) -> Result<T> {
    text.trim()
        .parse()
        .map_err(|_| bad_flag(flag, format!("{text:?} is not {what}")))
}

/// The `linux.resources` the flags ask for. Like runc, 0 (and an absent
/// flag) leaves a value unchanged; `--kernel-memory*` are ignored.
pub fn resources_from_flags(flags: &ResourceFlags) -> Result<LinuxResources> {
    let mut json = serde_json::Map::new();
    let mut set = |section: &str, key: &str, value: Value| {
        let entry = json
            .entry(section.to_owned())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Value::Object(map) = entry {
            map.insert(key.to_owned(), value);
        }
    };
    let bytes = [
        ("--memory", &flags.memory, "limit"),
        (
            "--memory-reservation",
            &flags.memory_reservation,
            "reservation",
        ),
        ("--memory-swap", &flags.memory_swap, "swap"),
    ];
    for (flag, text, key) in bytes {
        if let Some(text) = text {
            let value = parse_bytes(flag, text)?;
            check_not_negative(flag, value)?;
            if value != 0 {
                set("memory", key, value.into());
            }
        }
    }
    for (flag, text) in [
        ("--kernel-memory", &flags.kernel_memory),
        ("--kernel-memory-tcp", &flags.kernel_memory_tcp),
    ] {
        if let Some(text) = text {
            parse_bytes(flag, text)?;
        }
    }
    let unsigned = [
        ("--cpu-period", &flags.cpu_period, "period"),
        ("--cpu-rt-period", &flags.cpu_rt_period, "realtimePeriod"),
        ("--cpu-shares", &flags.cpu_shares, "shares"),
    ];
    for (flag, text, key) in unsigned {
        if let Some(text) = text {
            let value: u64 = parse_int(flag, text, "a whole number of at least 0")?;
            if value == 0 && flag != "--cpu-shares" {
                return Err(bad_flag(flag, "the period is zero"));
            }
            if value != 0 {
                set("cpu", key, value.into());
            }
        }
    }
    for (flag, text, key) in [
        ("--cpu-quota", &flags.cpu_quota, "quota"),
        ("--cpu-rt-runtime", &flags.cpu_rt_runtime, "realtimeRuntime"),
    ] {
        if let Some(text) = text {
            let value: i64 = parse_int(flag, text, "a whole number (-1 for unlimited)")?;
            check_not_negative(flag, value)?;
            if value != 0 {
                set("cpu", key, value.into());
            }
        }
    }
    for (text, key) in [(&flags.cpuset_cpus, "cpus"), (&flags.cpuset_mems, "mems")] {
        if let Some(text) = text.as_ref().filter(|t| !t.is_empty()) {
            set("cpu", key, text.trim().into());
        }
    }
    if let Some(text) = &flags.pids_limit {
        let value: i64 = parse_int("--pids-limit", text, "a whole number (-1 for unlimited)")?;
        check_not_negative("--pids-limit", value)?;
        if value != 0 {
            set("pids", "limit", value.into());
        }
    }
    if let Some(text) = &flags.blkio_weight {
        let value: u16 = parse_int("--blkio-weight", text, "a weight from 10 to 1000")?;
        if value != 0 {
            set("blockIO", "weight", value.into());
        }
    }
    serde_json::from_value(Value::Object(json))
        .map_err(|e| Error::sys("building resources from flags", std::io::Error::other(e)))
}

fn check_not_negative(flag: &'static str, value: i64) -> Result<()> {
    if value < -1 {
        return Err(bad_flag(
            flag,
            format!("{value} is negative (use -1 for unlimited)"),
        ));
    }
    Ok(())
}

/// Parses a resources file (runc's `update --resources` format: a
/// `linux.resources` object); errors name the file and the field.
pub fn resources_from_json(data: &[u8], file: &Path) -> Result<LinuxResources> {
    crate::json_path::from_slice(data).map_err(|e| Error::Config {
        file: file.to_path_buf(),
        field: match e.path.as_str() {
            "" => "linux.resources".to_owned(),
            path => format!("linux.resources.{path}"),
        },
        reason: e.reason,
    })
}

/// Sets the new limits of container `id` and records them.
pub fn update(store: &Store, id: &str, delta: &LinuxResources, origin: &Origin) -> Result<()> {
    let dir = store.open(id)?;
    let mut record = dir.load()?;
    let status = dir.status(&record);
    if matches!(status, Status::Stopped | Status::Creating) {
        return Err(Error::WrongState {
            id: id.to_string(),
            status: status.as_str(),
            action: "update (only a created, running or paused container has limits to change)",
        });
    }
    let cgroup = record.cgroup.as_ref().ok_or(Error::Unsupported(
        "update of a container without a cgroup (created by an older brig-runtime)",
    ))?;
    let current = record
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone());
    let merged = merge(current.as_ref(), delta)?;
    brig_cgroups::validate(&merged).map_err(|e| name_origin(e, origin))?;
    let mut apply = coupled(delta, &merged)?;
    if apply.devices().is_some() {
        let nodes = record
            .config
            .linux()
            .as_ref()
            .and_then(|l| l.devices().clone());
        let mut rules = apply.devices().clone().unwrap_or_default();
        rules.extend(brig_cgroups::devices::allow_rules_for_nodes(
            nodes.as_deref().unwrap_or_default(),
        ));
        apply.set_devices(Some(rules));
    }
    cgroup
        .set_resources(&apply)
        .map_err(|e| name_origin(e, origin))?;
    record
        .config
        .linux_mut()
        .get_or_insert_with(Default::default)
        .set_resources(Some(merged));
    dir.save(&record)
}

/// The container's resources with `delta` laid over them: objects merge
/// key by key, lists (device rules, per-device weights) are replaced.
pub fn merge(current: Option<&LinuxResources>, delta: &LinuxResources) -> Result<LinuxResources> {
    let mut base = to_json(current.cloned().unwrap_or_default())?;
    merge_json(&mut base, &to_json(delta.clone())?);
    from_json(base)
}

/// What to write: `delta`, except that the memory limit and swap go
/// together (memory+swap is relative to the limit: on v2 `memory.swap.max`
/// is computed from both, on v1 the order of writes depends on both).
pub fn coupled(delta: &LinuxResources, merged: &LinuxResources) -> Result<LinuxResources> {
    let mut apply = delta.clone();
    let touches = delta
        .memory()
        .as_ref()
        .is_some_and(|m| m.limit().is_some() || m.swap().is_some());
    if let (true, Some(all), Some(memory)) = (touches, merged.memory(), apply.memory_mut()) {
        memory.set_limit(all.limit());
        memory.set_swap(all.swap());
    }
    Ok(apply)
}

fn to_json(resources: LinuxResources) -> Result<Value> {
    serde_json::to_value(resources)
        .map_err(|e| Error::sys("encoding resources", std::io::Error::other(e)))
}

fn from_json(value: Value) -> Result<LinuxResources> {
    serde_json::from_value(value)
        .map_err(|e| Error::sys("decoding merged resources", std::io::Error::other(e)))
}

fn merge_json(base: &mut Value, delta: &Value) {
    match (base, delta) {
        (Value::Object(base), Value::Object(delta)) => {
            for (key, value) in delta {
                match base.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge_json(existing, value);
                    }
                    _ => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, delta) => *base = delta.clone(),
    }
}

/// Rewords a cgroup error so it names the flag (for flags) or the file
/// (for `--resources FILE`) the bad value came from.
fn name_origin(err: CgroupError, origin: &Origin) -> Error {
    let (field, reason) = match &err {
        CgroupError::InvalidResource { field, reason } => (field.clone(), reason.clone()),
        CgroupError::NotSupported { what, reason } => {
            (what.clone(), format!("not supported: {reason}"))
        }
        _ => return Error::Cgroup(err),
    };
    match origin {
        Origin::Flags => match flag_of(&field) {
            Some(flag) => bad_flag(flag, reason),
            None => Error::Cgroup(err),
        },
        Origin::File(file) => Error::Config {
            file: file.clone(),
            field,
            reason,
        },
    }
}

#[cfg(test)]
#[path = "update_tests.rs"]
mod tests;
