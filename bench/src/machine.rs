//! What the benchmark ran on: CPU, cores, kernel, cgroup layout.

use std::fs;
use std::path::Path;

/// One line per fact, for the report header.
pub fn describe() -> Vec<String> {
    vec![
        format!("CPU: {}", cpu_model()),
        format!(
            "cores: {}",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        ),
        format!(
            "kernel: {}",
            fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
        ),
        format!("cgroups: {}", cgroup_layout()),
    ]
}

fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// "v2", "v1" or "hybrid (...)", from what is mounted under /sys/fs/cgroup.
pub fn cgroup_layout() -> String {
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let fstype_at = |point: &str| {
        mounts.lines().find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            (left.split(' ').nth(4)? == point)
                .then(|| right.split(' ').next().unwrap_or_default().to_owned())
        })
    };
    if fstype_at("/sys/fs/cgroup").as_deref() == Some("cgroup2") {
        return "v2 (unified at /sys/fs/cgroup)".into();
    }
    let v1: Vec<String> = fs::read_dir("/sys/fs/cgroup")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let mut v1: Vec<String> = v1
        .into_iter()
        .filter(|n| n != "unified" && fstype_at(&format!("/sys/fs/cgroup/{n}")).is_some())
        .collect();
    v1.sort();
    if Path::new("/sys/fs/cgroup/unified").exists()
        && fstype_at("/sys/fs/cgroup/unified").as_deref() == Some("cgroup2")
    {
        format!(
            "hybrid: v1 controllers ({}) + cgroup2 at /sys/fs/cgroup/unified",
            v1.join(",")
        )
    } else {
        format!("v1 ({})", v1.join(","))
    }
}
