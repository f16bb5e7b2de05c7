//! The behaviour every backend must show, run against fake trees (all three
//! backends) and the real hierarchies of this machine (root only).

use std::path::PathBuf;
use std::time::Duration;

use brig_cgroups::{CgroupManager, CgroupMonitor, ErrorKind, FreezerState};
use oci_spec::runtime::LinuxResources;

use super::{Child, unique_name};

/// Makes managers of one backend on one tree.
pub trait Fixture {
    type M: CgroupManager + CgroupMonitor;
    /// A manager for the cgroup at the absolute cgroupsPath `path` (not created).
    fn manager(&self, path: &str) -> Self::M;
    /// The directories the cgroup `path` has in every hierarchy.
    fn dirs(&self, path: &str) -> Vec<PathBuf>;
    /// Can memory and pids limits be set here?
    fn limits_memory_and_pids(&self) -> bool {
        true
    }
}

/// Removes whatever a failed check left, so a failure leaks nothing.
struct Cleanup<'a, F: Fixture> {
    fixture: &'a F,
    paths: Vec<String>,
}

impl<F: Fixture> Drop for Cleanup<'_, F> {
    fn drop(&mut self) {
        for path in self.paths.iter().rev() {
            let _ = self.fixture.manager(path).remove();
            for dir in self.fixture.dirs(path) {
                let _ = std::fs::remove_dir(&dir);
            }
        }
    }
}

/// Runs every check of the contract.
pub fn run<F: Fixture>(f: &F) {
    create_makes_dirs_everywhere_and_remove_takes_them_away(f);
    removing_a_missing_cgroup_succeeds(f);
    a_task_is_listed_and_killed_by_remove(f);
    limits_show_in_stats(f);
    freeze_and_thaw_round_trip(f);
    created_parents_go_only_when_empty(f);
    refused_resources_change_nothing(f);
    monitor_reports_a_missing_cgroup(f);
}

fn all_exist<F: Fixture>(f: &F, path: &str) -> bool {
    f.dirs(path).iter().all(|d| d.is_dir())
}

fn none_exist<F: Fixture>(f: &F, path: &str) -> bool {
    f.dirs(path).iter().all(|d| !d.exists())
}

fn create_makes_dirs_everywhere_and_remove_takes_them_away<F: Fixture>(f: &F) {
    let path = format!("/{}", unique_name());
    let _cleanup = Cleanup {
        fixture: f,
        paths: vec![path.clone()],
    };
    let mut m = f.manager(&path);
    m.create().unwrap();
    m.create().unwrap();
    assert!(
        all_exist(f, &path),
        "create must make {path} in every hierarchy: {:?}",
        f.dirs(&path)
    );
    assert_eq!(m.pids().unwrap(), Vec::<i32>::new());
    m.remove().unwrap();
    assert!(none_exist(f, &path), "remove left a directory of {path}");
}

fn removing_a_missing_cgroup_succeeds<F: Fixture>(f: &F) {
    let path = format!("/{}", unique_name());
    f.manager(&path).remove().unwrap();
}

fn a_task_is_listed_and_killed_by_remove<F: Fixture>(f: &F) {
    let path = format!("/{}", unique_name());
    let _cleanup = Cleanup {
        fixture: f,
        paths: vec![path.clone()],
    };
    let mut m = f.manager(&path);
    m.create().unwrap();
    let child = Child::spawn("sleep 60");
    m.add_task(child.pid()).unwrap();
    assert_eq!(m.pids().unwrap(), vec![child.pid()]);
    m.remove().unwrap();
    let (status, _, _) = child.finish(Duration::from_secs(5));
    assert!(!status.success(), "remove must kill what is left");
    assert!(none_exist(f, &path));
}

fn limits_show_in_stats<F: Fixture>(f: &F) {
    if !f.limits_memory_and_pids() {
        return;
    }
    let path = format!("/{}", unique_name());
    let _cleanup = Cleanup {
        fixture: f,
        paths: vec![path.clone()],
    };
    let mut m = f.manager(&path);
    m.create().unwrap();
    let res: LinuxResources =
        serde_json::from_str(r#"{"memory":{"limit":67108864},"pids":{"limit":50}}"#).unwrap();
    m.set_resources(&res).unwrap();
    let stats = m.stats().unwrap();
    assert_eq!(stats.memory.usage.limit, 67_108_864);
    assert_eq!(stats.pids.limit, 50);
    m.remove().unwrap();
}

fn freeze_and_thaw_round_trip<F: Fixture>(f: &F) {
    let path = format!("/{}", unique_name());
    let _cleanup = Cleanup {
        fixture: f,
        paths: vec![path.clone()],
    };
    let mut m = f.manager(&path);
    m.create().unwrap();
    m.freeze(FreezerState::Frozen).unwrap();
    assert_eq!(m.freezer_state().unwrap(), FreezerState::Frozen);
    m.freeze(FreezerState::Thawed).unwrap();
    assert_eq!(m.freezer_state().unwrap(), FreezerState::Thawed);
    m.remove().unwrap();
}

fn created_parents_go_only_when_empty<F: Fixture>(f: &F) {
    let parent = format!("/{}", unique_name());
    let (a, b) = (format!("{parent}/a"), format!("{parent}/b"));
    let _cleanup = Cleanup {
        fixture: f,
        paths: vec![parent.clone(), a.clone(), b.clone()],
    };
    let mut ma = f.manager(&a);
    ma.create().unwrap(); // makes the parent too
    let mut mb = f.manager(&b);
    mb.create().unwrap(); // the parent already exists
    mb.remove().unwrap();
    assert!(none_exist(f, &b));
    assert!(
        all_exist(f, &parent),
        "a parent still holding {a} must stay"
    );
    ma.remove().unwrap();
    assert!(none_exist(f, &a));
    assert!(
        none_exist(f, &parent),
        "the parent created for {a} and now empty must go"
    );
}

fn refused_resources_change_nothing<F: Fixture>(f: &F) {
    if !f.limits_memory_and_pids() {
        return;
    }
    let path = format!("/{}", unique_name());
    let _cleanup = Cleanup {
        fixture: f,
        paths: vec![path.clone()],
    };
    let mut m = f.manager(&path);
    m.create().unwrap();
    let ok: LinuxResources = serde_json::from_str(r#"{"pids":{"limit":20}}"#).unwrap();
    m.set_resources(&ok).unwrap();
    // Valid pids, but a field no backend can honour (a controller that is not there).
    let bad: LinuxResources =
        serde_json::from_str(r#"{"pids":{"limit":30},"rdma":{"mlx5_0":{"hcaHandles":1}}}"#)
            .unwrap();
    let err = m.set_resources(&bad).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotSupported, "{err}");
    assert!(err.to_string().contains("rdma"), "{err}");
    assert_eq!(
        m.stats().unwrap().pids.limit,
        20,
        "a refused update must not write anything"
    );
    m.remove().unwrap();
}

fn monitor_reports_a_missing_cgroup<F: Fixture>(f: &F) {
    let m = f.manager(&format!("/{}", unique_name()));
    assert_eq!(m.stats().unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(m.pids().unwrap(), Vec::<i32>::new());
}
