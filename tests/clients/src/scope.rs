//! A cgroup parent of the test's own: Podman puts conmon and the containers
//! under `--cgroup-parent`, containerd puts a namespace's containers under
//! `/<namespace>`. On drop, whatever is left there is thawed, killed and
//! removed in every hierarchy.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// A unique top-level cgroup name, cleaned up on drop.
#[derive(Debug)]
pub struct CgroupScope {
    name: String,
}

impl CgroupScope {
    /// A fresh name, `brigtest-<tag>-<pid>-<n>`; nothing is created yet.
    pub fn new(tag: &str) -> CgroupScope {
        CgroupScope {
            name: brig_testkit::unique_id(tag),
        }
    }

    /// The name (a containerd namespace, a path component).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/<name>`, for `--cgroup-parent`.
    pub fn path(&self) -> String {
        format!("/{}", self.name)
    }

    /// Every directory of the scope in every hierarchy, deepest first.
    pub fn directories(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for top in hierarchy_roots() {
            collect_dirs(&top.join(&self.name), &mut found);
        }
        found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        found
    }

    /// Directories of the scope whose name contains `needle` (a container id).
    pub fn directories_named(&self, needle: &str) -> Vec<PathBuf> {
        self.directories()
            .into_iter()
            .filter(|d| {
                d.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(needle))
            })
            .collect()
    }

    /// Processes still in the scope.
    pub fn pids(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self
            .directories()
            .iter()
            .flat_map(|d| read_pids(&d.join("cgroup.procs")))
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }
}

impl Drop for CgroupScope {
    fn drop(&mut self) {
        let dirs = self.directories();
        if dirs.is_empty() {
            return;
        }
        // A frozen process does not die of SIGKILL until it is thawed.
        for dir in &dirs {
            let _ = fs::write(dir.join("freezer.state"), "THAWED");
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pids = self.pids();
            if pids.is_empty() || Instant::now() >= deadline {
                break;
            }
            pids.into_iter().for_each(crate::sandbox::kill);
            std::thread::sleep(Duration::from_millis(20));
        }
        for dir in self.directories() {
            if let Err(e) = fs::remove_dir(&dir) {
                eprintln!("warning: cannot remove cgroup {}: {e}", dir.display());
            }
        }
    }
}

/// The mount point of every hierarchy (v1 controllers, named ones, v2).
fn hierarchy_roots() -> Vec<PathBuf> {
    let root = Path::new(CGROUP_ROOT);
    if root.join("cgroup.procs").exists() {
        // Pure cgroup v2: one hierarchy at the root.
        return vec![root.to_owned()];
    }
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    out.push(dir.to_owned());
    for entry in entries.filter_map(Result::ok) {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect_dirs(&entry.path(), out);
        }
    }
}

fn read_pids(path: &Path) -> Vec<i32> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}
