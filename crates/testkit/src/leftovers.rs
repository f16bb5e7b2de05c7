//! What a container, or a failed attempt at one, can leave on the host:
//! state directories, mounts, cgroups and processes.
//!
//! Every check is scoped to one test's id and bundle path, so tests running
//! in parallel do not see each other's containers.

use std::fs;
use std::path::{Path, PathBuf};

use crate::bundle::Bundle;
use crate::runtime::Runtime;

/// Lines of our /proc/self/mountinfo that mention `path`.
pub fn mounts_mentioning(path: &Path) -> Vec<String> {
    let needle = path.display().to_string();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains(&needle))
        .map(str::to_owned)
        .collect()
}

/// Processes (other than us) whose command line, working directory or root
/// mentions `marker` (a container id or a bundle path), as "pid: what".
pub fn processes_mentioning(marker: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    let Ok(proc_dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in proc_dir.filter_map(Result::ok) {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
            continue;
        }
        let dir = entry.path();
        let cmdline = fs::read(dir.join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let cwd = link(&dir.join("cwd"));
        let root = link(&dir.join("root"));
        if [&cmdline, &cwd, &root].iter().any(|s| s.contains(marker)) {
            found.push(format!("{pid}: cmdline={cmdline:?} cwd={cwd} root={root}"));
        }
    }
    found
}

fn link(path: &Path) -> String {
    fs::read_link(path)
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// Cgroup directories named after `id` (at most three levels below each
/// hierarchy under /sys/fs/cgroup).
pub fn cgroups_named(id: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(hierarchies) = fs::read_dir("/sys/fs/cgroup") else {
        return found;
    };
    for hierarchy in hierarchies.filter_map(Result::ok) {
        find_dirs_containing(&hierarchy.path(), id, 3, &mut found);
    }
    found
}

fn find_dirs_containing(dir: &Path, name: &str, depth: u32, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = entry.path();
        if entry.file_name().to_string_lossy().contains(name) {
            found.push(path);
        } else if depth > 1 {
            find_dirs_containing(&path, name, depth - 1, found);
        }
    }
}

/// Everything `id` (created from `bundle`) left behind; empty when clean.
pub fn leftovers(rt: &Runtime, id: &str, bundle: &Bundle) -> Vec<String> {
    let mut left = Vec::new();
    if rt.root_entries().iter().any(|e| e == id) {
        left.push(format!("state directory {}", rt.root().join(id).display()));
    }
    left.extend(
        mounts_mentioning(bundle.path())
            .into_iter()
            .map(|m| format!("mount {m}")),
    );
    left.extend(
        cgroups_named(id)
            .into_iter()
            .map(|c| format!("cgroup {}", c.display())),
    );
    let bundle_path = bundle.path().display().to_string();
    for marker in [id, bundle_path.as_str()] {
        left.extend(
            processes_mentioning(marker)
                .into_iter()
                .map(|p| format!("process {p}")),
        );
    }
    left.sort();
    left.dedup();
    left
}

/// Panics, listing them, when `id` left anything behind.
#[track_caller]
pub fn assert_nothing_left(rt: &Runtime, id: &str, bundle: &Bundle) {
    // A runtime may still be tearing down for a moment after it exited.
    let mut left = leftovers(rt, id, bundle);
    for _ in 0..50 {
        if left.is_empty() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        left = leftovers(rt, id, bundle);
    }
    panic!(
        "{} left behind by {id}:\n  {}",
        rt.kind().name(),
        left.join("\n  ")
    );
}
