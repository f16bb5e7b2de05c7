//! Helpers of the cgroup tests: where a container's cgroup is on the host,
//! bundles limited through `linux.resources`, and `events` run in the
//! background.
#![allow(dead_code)] // each test binary uses a different subset

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use brig_testkit::{Bundle, Runtime};
use serde_json::{Value, json};

use crate::common::wait_until;

/// True on a pure cgroup v2 host.
pub fn pure_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// The container's cgroup directory for `controller` (v1 name), with
/// `linux.cgroupsPath` set to `/<id>` by [`own_cgroup`].
pub fn cgroup_dir(id: &str, controller: &str) -> PathBuf {
    if pure_v2() {
        PathBuf::from(format!("/sys/fs/cgroup/{id}"))
    } else {
        PathBuf::from(format!("/sys/fs/cgroup/{controller}/{id}"))
    }
}

/// Reads `v1_file` (or `v2_file` on pure v2) of the container's cgroup, trimmed.
pub fn read_cgroup(id: &str, controller: &str, v1_file: &str, v2_file: &str) -> String {
    let file = if pure_v2() { v2_file } else { v1_file };
    let path = cgroup_dir(id, controller).join(file);
    fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .trim()
        .to_owned()
}

/// A value of a flat-keyed cgroup file (`memory.events`, `pids.events`, `cpu.stat`).
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

/// Puts the container's cgroup at `/<id>` in every hierarchy (so nothing
/// lands below the test runner's own cgroup) and sets `resources`.
pub fn own_cgroup(bundle: &mut Bundle, id: &str, resources: Value) {
    let linux = &mut bundle.config_mut()["linux"];
    linux["cgroupsPath"] = json!(format!("/{id}"));
    let current = &mut linux["resources"];
    if let (Some(current), Some(new)) = (current.as_object_mut(), resources.as_object()) {
        for (key, value) in new {
            current.insert(key.clone(), value.clone());
        }
    }
}

/// Waits for a file written as `echo X > f.tmp; mv f.tmp f` and returns its content.
pub fn wait_for_value(path: &Path, timeout: Duration) -> Option<String> {
    let mut value = None;
    wait_until(timeout, || {
        value = fs::read_to_string(path).ok().filter(|v| v.ends_with('\n'));
        value.is_some()
    });
    value.map(|v| v.trim().to_owned())
}

/// `<runtime> events ARGS... ID` running in the background, its stdout in a
/// file; killed when dropped.
pub struct Events {
    child: Child,
    out: PathBuf,
}

impl Events {
    pub fn spawn(rt: &Runtime, id: &str, args: &[&str]) -> Events {
        let out = rt.work_dir().join(format!("events-{id}.out"));
        let file = fs::File::create(&out).expect("creating the events output file");
        let child = Command::new(rt.binary())
            .arg("--root")
            .arg(rt.root())
            .arg("events")
            .args(args)
            .arg(id)
            .stdout(file)
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the events command");
        Events { child, out }
    }

    /// The JSON lines printed so far.
    pub fn lines(&self) -> Vec<Value> {
        fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits until a line of `type` was printed.
    pub fn wait_for(&self, kind: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.lines().iter().any(|l| l["type"] == kind))
    }

    /// Waits up to `timeout` for the command to exit by itself.
    pub fn exited_within(&mut self, timeout: Duration) -> bool {
        wait_until(timeout, || matches!(self.child.try_wait(), Ok(Some(_))))
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Deletes container `id` (`--force`) and then removes every cgroup
/// directory named after it that is left, innermost first, when dropped:
/// a runtime that leaves cgroups behind fails its test, not the host.
pub struct CgroupGuard<'a> {
    rt: &'a Runtime,
    id: String,
}

impl<'a> CgroupGuard<'a> {
    pub fn new(rt: &'a Runtime, id: &str) -> Self {
        CgroupGuard {
            rt,
            id: id.to_owned(),
        }
    }
}

impl Drop for CgroupGuard<'_> {
    fn drop(&mut self) {
        let _ = self.rt.delete_force(&self.id);
        for dir in brig_testkit::leftovers::cgroups_named(&self.id) {
            remove_cgroup_tree(&dir);
        }
    }
}

fn remove_cgroup_tree(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.filter_map(Result::ok) {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&entry.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}
