//! Root-only tests on this machine's real cgroups (hybrid: v1 controllers
//! plus a cgroup2 mount holding hugetlb). Every cgroup is named
//! `brig-test-<pid>-<n>` and removed by a guard, also when a check fails.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use brig_cgroups::{
    AnyManager, CgroupManager, CgroupMonitor, CgroupPath, Controller, DEFAULT_ROOT, FreezerState,
    Layout, Mounts, OomWait, V2Manager,
};
use common::contract::{self, Fixture};
use common::{Child, read, unique_name};
use oci_spec::runtime::LinuxResources;

fn resources(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

fn root() -> &'static Path {
    Path::new(DEFAULT_ROOT)
}

/// A created cgroup that is removed (in every hierarchy) when dropped.
struct Guard {
    manager: AnyManager,
}

impl Guard {
    fn new(json_resources: Option<&str>) -> Self {
        let path = format!("/{}", unique_name());
        let manager = AnyManager::for_container_at(root(), Some(&path), "unused", false).unwrap();
        // Guard first: a failing create or set_resources is cleaned up too.
        let mut guard = Self { manager };
        guard.manager.create().unwrap();
        if let Some(json) = json_resources {
            guard.manager.set_resources(&resources(json)).unwrap();
        }
        guard
    }

    fn dir(&self, key: &str) -> PathBuf {
        self.manager
            .paths()
            .into_iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("no {key:?} hierarchy"))
            .1
    }

    /// Starts `script` in the cgroup (moved in while it waits), then lets it go.
    fn run(&self, script: &str) -> Child {
        let mut child = Child::spawn(script);
        self.manager.add_task(child.pid()).unwrap();
        child.go();
        child
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.manager.remove();
        for (_, dir) in self.manager.paths() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

struct RealAny;
impl Fixture for RealAny {
    type M = AnyManager;
    fn manager(&self, path: &str) -> AnyManager {
        AnyManager::for_container_at(root(), Some(path), "unused", false).unwrap()
    }
    fn dirs(&self, path: &str) -> Vec<PathBuf> {
        self.manager(path)
            .paths()
            .into_iter()
            .map(|(_, d)| d)
            .collect()
    }
}

/// The real cgroup2 mount of this machine, driven by the pure v2 backend.
struct RealUnified(brig_cgroups::UnifiedMount);
impl Fixture for RealUnified {
    type M = V2Manager;
    fn manager(&self, path: &str) -> V2Manager {
        V2Manager::new(&self.0, &CgroupPath::parse(path).unwrap(), None).unwrap()
    }
    fn dirs(&self, path: &str) -> Vec<PathBuf> {
        vec![self.manager(path).dir().to_path_buf()]
    }
    fn limits_memory_and_pids(&self) -> bool {
        false
    }
}

fn unified_mount() -> brig_cgroups::UnifiedMount {
    Mounts::detect(root())
        .unwrap()
        .unified
        .expect("this machine has a cgroup2 mount")
}

#[test]
fn this_machine_is_detected_as_hybrid() {
    require_root!("this_machine_is_detected_as_hybrid");
    let mounts = Mounts::detect(root()).unwrap();
    assert_eq!(mounts.layout(), Some(Layout::Hybrid));
    assert_eq!(
        mounts.v1_mount_of(Controller::Memory).unwrap().mount_point,
        root().join("memory")
    );
    let unified = mounts.unified.unwrap();
    assert_eq!(unified.mount_point, root().join("unified"));
    assert!(unified.controllers.contains(&Controller::Hugetlb));
    assert!(
        mounts
            .v1
            .iter()
            .any(|m| m.name.as_deref() == Some("systemd"))
    );
}

#[test]
fn the_hybrid_manager_passes_the_contract_on_this_machine() {
    require_root!("the_hybrid_manager_passes_the_contract_on_this_machine");
    contract::run(&RealAny);
}

#[test]
fn the_v2_backend_passes_the_contract_on_the_real_cgroup2_mount() {
    require_root!("the_v2_backend_passes_the_contract_on_the_real_cgroup2_mount");
    contract::run(&RealUnified(unified_mount()));
}

#[test]
fn limits_are_written_to_the_real_files() {
    require_root!("limits_are_written_to_the_real_files");
    let g = Guard::new(Some(
        r#"{"memory":{"limit":67108864,"reservation":33554432,"swap":134217728,"swappiness":10},
            "cpu":{"shares":512,"quota":25000,"period":100000,"cpus":"0","mems":"0"},
            "pids":{"limit":50},"blockIO":{"weight":300},
            "hugepageLimits":[{"pageSize":"2MB","limit":4194304}],
            "devices":[{"allow":false,"access":"rwm"}]}"#,
    ));
    let (memory, cpu, cpuset, pids) = (
        g.dir("memory"),
        g.dir("cpu"),
        g.dir("cpuset"),
        g.dir("pids"),
    );
    assert_eq!(read(memory.join("memory.limit_in_bytes")), "67108864");
    assert_eq!(read(memory.join("memory.soft_limit_in_bytes")), "33554432");
    assert_eq!(
        read(memory.join("memory.memsw.limit_in_bytes")),
        "134217728"
    );
    assert_eq!(read(memory.join("memory.swappiness")), "10");
    assert_eq!(read(cpu.join("cpu.shares")), "512");
    assert_eq!(read(cpu.join("cpu.cfs_quota_us")), "25000");
    assert_eq!(read(cpu.join("cpu.cfs_period_us")), "100000");
    assert_eq!(read(cpuset.join("cpuset.cpus")), "0");
    assert_eq!(read(cpuset.join("cpuset.mems")), "0");
    assert_eq!(read(pids.join("pids.max")), "50");
    assert_eq!(read(g.dir("blkio").join("blkio.bfq.weight")), "300");
    assert_eq!(read(g.dir("").join("hugetlb.2MB.max")), "4194304");
    let devices = read(g.dir("devices").join("devices.list"));
    assert!(devices.lines().any(|l| l == "c 1:3 rwm"), "{devices}");
    assert!(
        !devices.contains("a *:*"),
        "deny-all must replace the default allow-all: {devices}"
    );
    // `update`: lower a limit; only the given fields change.
    g.manager
        .set_resources(&resources(
            r#"{"memory":{"limit":33554432},"pids":{"limit":10}}"#,
        ))
        .unwrap();
    assert_eq!(read(memory.join("memory.limit_in_bytes")), "33554432");
    assert_eq!(read(pids.join("pids.max")), "10");
    assert_eq!(read(cpu.join("cpu.shares")), "512");
}

#[test]
fn a_frozen_busy_child_makes_no_progress_until_thawed() {
    require_root!("a_frozen_busy_child_makes_no_progress_until_thawed");
    let g = Guard::new(None);
    let child = g.run("while :; do :; done");
    std::thread::sleep(Duration::from_millis(100));
    g.manager.freeze(FreezerState::Frozen).unwrap();
    assert_eq!(g.manager.freezer_state().unwrap(), FreezerState::Frozen);
    let before = child.cpu_ticks();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(child.cpu_ticks(), before, "a frozen process must not run");
    g.manager.freeze(FreezerState::Thawed).unwrap();
    assert_eq!(g.manager.freezer_state().unwrap(), FreezerState::Thawed);
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.cpu_ticks() > before, "a thawed process runs again");
}

#[test]
fn a_frozen_busy_child_on_the_real_cgroup2_makes_no_progress() {
    require_root!("a_frozen_busy_child_on_the_real_cgroup2_makes_no_progress");
    let fixture = RealUnified(unified_mount());
    let path = format!("/{}", unique_name());
    let mut m = fixture.manager(&path);
    m.create().unwrap();
    let mut child = Child::spawn("while :; do :; done");
    m.add_task(child.pid()).unwrap();
    child.go();
    std::thread::sleep(Duration::from_millis(100));
    let frozen = m.freeze(FreezerState::Frozen);
    let before = child.cpu_ticks();
    std::thread::sleep(Duration::from_millis(300));
    let after = child.cpu_ticks();
    let state = m.freezer_state();
    m.freeze(FreezerState::Thawed).unwrap();
    m.remove().unwrap();
    frozen.unwrap();
    assert_eq!(state.unwrap(), FreezerState::Frozen);
    assert_eq!(after, before, "a frozen process must not run");
    assert!(!m.dir().exists());
}

#[test]
fn stats_of_a_busy_child_are_not_zero() {
    require_root!("stats_of_a_busy_child_are_not_zero");
    let g = Guard::new(Some(r#"{"memory":{"limit":67108864},"pids":{"limit":20}}"#));
    // Memory is charged where it is allocated: allocate after joining.
    let _child = g.run("x=$(head -c 4000000 /dev/zero | tr '\\0' a); while :; do :; done");
    std::thread::sleep(Duration::from_millis(300));
    let stats = g.manager.stats().unwrap();
    assert!(stats.cpu.usage.total > 0, "{stats:?}");
    assert!(
        stats.cpu.usage.user + stats.cpu.usage.kernel > 0,
        "{stats:?}"
    );
    assert!(!stats.cpu.usage.percpu.is_empty());
    assert!(stats.memory.usage.usage > 0, "{stats:?}");
    assert_eq!(stats.memory.usage.limit, 67_108_864);
    assert_eq!((stats.pids.current, stats.pids.limit), (1, 20));
    assert!(
        stats.hugetlb.contains_key("2MB"),
        "hugetlb comes from the cgroup2 half: {stats:?}"
    );
    let json = serde_json::to_value(&stats).unwrap();
    assert!(json["cpu"]["usage"]["total"].as_u64().unwrap() > 0);
}

#[test]
fn the_pids_limit_makes_fork_fail_in_the_child() {
    require_root!("the_pids_limit_makes_fork_fail_in_the_child");
    let g = Guard::new(Some(r#"{"pids":{"limit":4}}"#));
    // The sleepers must not hold our pipes open, or reading them waits 30 s.
    let child =
        g.run("for i in 1 2 3 4 5 6 7 8; do sleep 30 >/dev/null 2>&1 & done; echo all-forked");
    let (_, out, err) = child.finish(Duration::from_secs(10));
    assert!(
        !out.contains("all-forked"),
        "eight forks cannot fit in a limit of four: {out}"
    );
    assert!(
        err.to_lowercase().contains("fork"),
        "the shell reports the failed fork: {err}"
    );
    assert!(g.manager.stats().unwrap().pids.current <= 4);
}

#[test]
fn a_cpu_quota_of_a_quarter_core_bites() {
    require_root!("a_cpu_quota_of_a_quarter_core_bites");
    let g = Guard::new(Some(r#"{"cpu":{"quota":25000,"period":100000}}"#));
    let child = g.run("while :; do :; done");
    std::thread::sleep(Duration::from_millis(300));
    let (t0, c0) = (Instant::now(), child.cpu_ticks());
    std::thread::sleep(Duration::from_secs(1));
    let used = (child.cpu_ticks() - c0) as f64 / 100.0 / t0.elapsed().as_secs_f64();
    assert!(
        (0.15..=0.35).contains(&used),
        "used {:.0}% of a core, want about 25%",
        used * 100.0
    );
    assert!(g.manager.stats().unwrap().cpu.throttling.throttled_periods > 0);
}

#[test]
fn a_memory_hog_is_oom_killed_and_counted() {
    require_root!("a_memory_hog_is_oom_killed_and_counted");
    let g = Guard::new(Some(r#"{"memory":{"limit":33554432,"swap":33554432}}"#));
    let before = g.manager.oom_kill_count().unwrap();
    let mut watcher = g.manager.oom_watcher().unwrap();
    let child = g.run("x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived");
    let seen = watcher.wait(Some(Duration::from_secs(20))).unwrap();
    assert!(matches!(seen, OomWait::Oom { .. }), "{seen:?}");
    let (_, out, _) = child.finish(Duration::from_secs(20));
    assert!(!out.contains("survived"), "the hog must not finish");
    let start = Instant::now();
    while g.manager.oom_kill_count().unwrap() == before && start.elapsed() < Duration::from_secs(5)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        g.manager.oom_kill_count().unwrap() > before,
        "the kernel's oom_kill counter rises"
    );
    assert_eq!(g.manager.stats().unwrap().memory.usage.limit, 33_554_432);
}

/// Runs the device checks in a child of a cgroup whose device rules are the
/// default spec's (deny all, then the OCI default devices).
fn device_checks(add: impl Fn(i32)) -> String {
    let scratch = tempfile::tempdir().unwrap();
    let node = scratch.path().join("disk");
    let script = format!(
        "echo x > /dev/null && echo NULL_OK; head -c1 /dev/zero >/dev/null && echo ZERO_OK; \
         head -c1 /dev/mem >/dev/null 2>&1 || echo MEM_DENIED; \
         mknod {} b 8 0 2>/dev/null || echo MKNOD_DENIED",
        node.display()
    );
    let mut child = Child::spawn(&script);
    add(child.pid());
    child.go();
    let (_, out, _) = child.finish(Duration::from_secs(10));
    out
}

#[test]
fn v1_device_rules_allow_dev_null_and_refuse_dev_mem_and_disk_mknod() {
    require_root!("v1_device_rules_allow_dev_null_and_refuse_dev_mem_and_disk_mknod");
    let g = Guard::new(Some(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#));
    let out = device_checks(|pid| g.manager.add_task(pid).unwrap());
    for want in ["NULL_OK", "ZERO_OK", "MEM_DENIED", "MKNOD_DENIED"] {
        assert!(out.contains(want), "missing {want} in {out:?}");
    }
}

#[test]
fn the_v2_device_program_allows_dev_null_and_refuses_dev_mem_and_disk_mknod() {
    require_root!("the_v2_device_program_allows_dev_null_and_refuses_dev_mem_and_disk_mknod");
    let fixture = RealUnified(unified_mount());
    let mut m = fixture.manager(&format!("/{}", unique_name()));
    m.create().unwrap();
    let applied = m.set_resources(&resources(
        r#"{"devices":[{"allow":false,"access":"rwm"}]}"#,
    ));
    // Replacing the program must leave exactly one attached.
    let replaced = applied.as_ref().ok().map(|_| {
        m.set_resources(&resources(
            r#"{"devices":[{"allow":false,"access":"rwm"}]}"#,
        ))
        .unwrap();
        brig_cgroups::v2_devices::attached_programs(m.dir())
            .unwrap()
            .len()
    });
    let out = device_checks(|pid| m.add_task(pid).unwrap());
    m.remove().unwrap();
    applied.unwrap();
    assert_eq!(replaced, Some(1));
    for want in ["NULL_OK", "ZERO_OK", "MEM_DENIED", "MKNOD_DENIED"] {
        assert!(out.contains(want), "missing {want} in {out:?}");
    }
}

#[test]
fn remove_kills_a_forking_workload_and_leaves_no_directory() {
    require_root!("remove_kills_a_forking_workload_and_leaves_no_directory");
    let g = Guard::new(None);
    let child = g.run("while :; do sleep 30 >/dev/null 2>&1 & sleep 0.01; done");
    std::thread::sleep(Duration::from_millis(200));
    assert!(g.manager.pids().unwrap().len() > 2);
    g.manager.remove().unwrap();
    for (key, dir) in g.manager.paths() {
        assert!(
            !dir.exists(),
            "{key:?} hierarchy still has {}",
            dir.display()
        );
    }
    let (status, _, _) = child.finish(Duration::from_secs(5));
    assert!(!status.success());
}

#[test]
fn a_process_placed_in_a_1_mib_cgroup_can_exec_true() {
    require_root!("a_process_placed_in_a_1_mib_cgroup_can_exec_true");
    // What the runtime relies on: the parent creates, limits and places the
    // child; only the container's own process is charged to the 1 MiB.
    let g = Guard::new(Some(r#"{"memory":{"limit":1048576,"swap":1048576}}"#));
    let before = g.manager.oom_kill_count().unwrap();
    let child = g.run("exec /bin/true");
    let (status, _, err) = child.finish(Duration::from_secs(10));
    assert!(
        status.success(),
        "exec of true under 1 MiB failed: {status:?} {err}"
    );
    assert_eq!(g.manager.oom_kill_count().unwrap(), before);
}
