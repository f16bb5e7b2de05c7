//! Backend-specific behaviour checked on fake trees: what is written where.

mod common;

use brig_cgroups::{
    AnyManager, CgroupManager, CgroupMonitor, CgroupPath, ErrorKind, Layout, OwnCgroups,
};
use common::{Child, FakeTree, read};
use oci_spec::runtime::LinuxResources;

fn resources(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

fn manager(mounts: &brig_cgroups::Mounts, path: &str) -> AnyManager {
    AnyManager::from_mounts(mounts, &CgroupPath::parse(path).unwrap(), None).unwrap()
}

#[test]
fn v1_writes_land_in_each_controllers_hierarchy() {
    let (tree, mounts) = FakeTree::v1();
    let mut m = manager(&mounts, "/brig/c1");
    assert_eq!(m.layout(), Layout::V1);
    m.create().unwrap();
    m.set_resources(&resources(
        r#"{"memory":{"limit":33554432},"cpu":{"shares":512,"quota":25000,"period":100000,"cpus":"1"},
            "pids":{"limit":10},"devices":[{"allow":false,"access":"rwm"}]}"#,
    ))
    .unwrap();
    let r = tree.root();
    assert_eq!(
        read(r.join("memory/brig/c1/memory.limit_in_bytes")),
        "33554432"
    );
    assert_eq!(read(r.join("cpu/brig/c1/cpu.shares")), "512");
    assert_eq!(read(r.join("cpu/brig/c1/cpu.cfs_quota_us")), "25000");
    assert_eq!(read(r.join("cpu/brig/c1/cpu.cfs_period_us")), "100000");
    assert_eq!(read(r.join("cpuset/brig/c1/cpuset.cpus")), "1");
    assert_eq!(read(r.join("pids/brig/c1/pids.max")), "10");
    // The fake file keeps only the last line written: the last default device.
    assert_eq!(read(r.join("devices/brig/c1/devices.deny")), "a");
    assert_eq!(read(r.join("devices/brig/c1/devices.allow")), "c 136:* rwm");
    m.remove().unwrap();
    assert!(!r.join("memory/brig/c1").exists());
    assert!(
        r.join("memory/brig").is_dir(),
        "the default /brig parent stays, as Docker's /docker"
    );
}

#[test]
fn v1_create_gives_new_cpusets_the_parents_cpus_and_nodes() {
    let (tree, mounts) = FakeTree::v1();
    let mut m = manager(&mounts, "/a/b");
    m.create().unwrap();
    for dir in ["cpuset/a", "cpuset/a/b"] {
        assert_eq!(read(tree.root().join(dir).join("cpuset.cpus")), "0-1");
        assert_eq!(read(tree.root().join(dir).join("cpuset.mems")), "0");
    }
    m.remove().unwrap();
}

#[test]
fn v1_add_task_joins_every_hierarchy_including_named_ones() {
    let (tree, mounts) = FakeTree::v1();
    let mut m = manager(&mounts, "/c1");
    m.create().unwrap();
    let child = Child::spawn("sleep 60");
    m.add_task(child.pid()).unwrap();
    for h in ["memory", "freezer", "systemd"] {
        assert_eq!(
            read(tree.root().join(h).join("c1/cgroup.procs")),
            child.pid().to_string()
        );
    }
    m.remove().unwrap();
}

#[test]
fn unified_is_refused_on_v1_before_anything_is_written() {
    let (tree, mounts) = FakeTree::v1();
    let mut m = manager(&mounts, "/c1");
    m.create().unwrap();
    let err = m
        .set_resources(&resources(
            r#"{"pids":{"limit":3},"unified":{"memory.high":"1"}}"#,
        ))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotSupported);
    assert!(err.to_string().contains("linux.resources.unified"), "{err}");
    assert!(!tree.root().join("pids/c1/pids.max").exists());
    m.remove().unwrap();
}

#[test]
fn v2_create_enables_the_controllers_in_the_parents() {
    let (tree, mounts) = FakeTree::v2();
    let mut m = manager(&mounts, "/brig/c1");
    assert_eq!(m.layout(), Layout::V2);
    m.create().unwrap();
    assert_eq!(
        read(tree.root().join("cgroup.subtree_control")),
        "+cpu +cpuset +memory +io +pids +hugetlb"
    );
    m.remove().unwrap();
}

#[test]
fn v2_writes_converted_values() {
    let (tree, mounts) = FakeTree::v2();
    let mut m = manager(&mounts, "/c1");
    m.create().unwrap();
    m.set_resources(&resources(
        r#"{"memory":{"limit":33554432,"reservation":1048576},"cpu":{"shares":2048,"quota":50000,"period":100000},
            "pids":{"limit":-1},"blockIO":{"weight":500},"unified":{"memory.high":"30000000"}}"#,
    ))
    .unwrap();
    let d = tree.root().join("c1");
    assert_eq!(read(d.join("memory.max")), "33554432");
    assert_eq!(read(d.join("memory.low")), "1048576");
    assert_eq!(read(d.join("memory.high")), "30000000");
    assert_eq!(
        read(d.join("cpu.weight")),
        brig_cgroups::convert::shares_to_weight(2048).to_string()
    );
    assert_eq!(read(d.join("cpu.max")), "50000 100000");
    assert_eq!(read(d.join("pids.max")), "max");
    assert_eq!(read(d.join("io.weight")), "default 4950");
    m.remove().unwrap();
}

#[test]
fn v2_device_rules_need_a_real_cgroup2_and_are_refused_before_writing() {
    let (tree, mounts) = FakeTree::v2();
    let mut m = manager(&mounts, "/c1");
    m.create().unwrap();
    let err = m
        .set_resources(&resources(
            r#"{"pids":{"limit":5},"devices":[{"allow":false,"access":"rwm"}]}"#,
        ))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotSupported);
    assert!(err.to_string().contains("linux.resources.devices"), "{err}");
    assert!(!tree.root().join("c1/pids.max").exists());
    m.remove().unwrap();
}

#[test]
fn v2_refuses_a_controller_the_hierarchy_lacks() {
    let (_tree, mut mounts) = FakeTree::v2();
    mounts
        .unified
        .as_mut()
        .unwrap()
        .controllers
        .retain(|c| *c != brig_cgroups::Controller::Memory);
    let mut m = manager(&mounts, "/c1");
    m.create().unwrap();
    let err = m
        .set_resources(&resources(r#"{"memory":{"limit":1048576}}"#))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("memory controller is not available"),
        "{err}"
    );
    m.remove().unwrap();
}

#[test]
fn hybrid_routes_each_controller_where_it_is() {
    let (tree, mounts) = FakeTree::hybrid();
    let mut m = manager(&mounts, "/c1");
    assert_eq!(m.layout(), Layout::Hybrid);
    m.create().unwrap();
    m.set_resources(&resources(
        r#"{"memory":{"limit":16777216},"hugepageLimits":[{"pageSize":"2MB","limit":4194304}],
            "unified":{"hugetlb.1GB.max":"0"}}"#,
    ))
    .unwrap();
    let r = tree.root();
    assert_eq!(read(r.join("memory/c1/memory.limit_in_bytes")), "16777216");
    assert_eq!(read(r.join("unified/c1/hugetlb.2MB.max")), "4194304");
    assert_eq!(read(r.join("unified/c1/hugetlb.1GB.max")), "0");
    assert!(!r.join("unified/c1/memory.max").exists());
    assert_eq!(read(r.join("unified/cgroup.subtree_control")), "+hugetlb");
    m.remove().unwrap();
    assert!(!r.join("unified/c1").exists() && !r.join("memory/c1").exists());
}

#[test]
fn hybrid_refuses_unified_keys_of_v1_bound_controllers() {
    let (_tree, mounts) = FakeTree::hybrid();
    let mut m = manager(&mounts, "/c1");
    m.create().unwrap();
    let err = m
        .set_resources(&resources(r#"{"unified":{"memory.high":"1"}}"#))
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(r#"linux.resources.unified["memory.high"]"#)
            && text.contains("bound to cgroup v1"),
        "{text}"
    );
    m.remove().unwrap();
}

#[test]
fn relative_paths_are_placed_under_the_runtimes_own_cgroup() {
    let (tree, mounts) = FakeTree::hybrid();
    let own = OwnCgroups::parse(
        "1:cpu:/\n2:cpuacct:/\n3:cpuset:/\n4:memory:/system.slice/engine\n5:devices:/\n\
         6:freezer:/\n7:blkio:/\n8:pids:/\n9:name=systemd:/sys\n0::/u\n",
    );
    let m =
        AnyManager::from_mounts(&mounts, &CgroupPath::parse("c1").unwrap(), Some(&own)).unwrap();
    let paths = m.paths();
    let find = |key: &str| paths.iter().find(|(k, _)| k == key).unwrap().1.clone();
    assert_eq!(
        find("memory"),
        tree.root().join("memory/system.slice/engine/c1")
    );
    assert_eq!(find("name=systemd"), tree.root().join("systemd/sys/c1"));
    assert_eq!(find(""), tree.root().join("unified/u/c1"));
    let err = AnyManager::from_mounts(
        &mounts,
        &CgroupPath::parse("c1").unwrap(),
        Some(&OwnCgroups::parse("0::/\n")),
    );
    assert!(
        err.is_err(),
        "a hierarchy without our own cgroup cannot place a relative path"
    );
}

#[test]
fn the_manager_survives_a_round_trip_through_json_with_what_create_made() {
    let (tree, mounts) = FakeTree::v1();
    let mut m = manager(&mounts, "/u/a");
    m.create().unwrap();
    let saved = serde_json::to_string(&m).unwrap();
    let back: AnyManager = serde_json::from_str(&saved).unwrap();
    assert_eq!(back, m);
    back.remove().unwrap();
    assert!(
        !tree.root().join("memory/u").exists(),
        "the parent create made must go once empty"
    );
}

#[test]
fn the_shared_brig_parent_stays_after_its_last_container() {
    let (tree, mounts) = FakeTree::v2();
    let path = |id| CgroupPath::for_container(None, id).unwrap();
    let mut c1 = AnyManager::from_mounts(&mounts, &path("c1"), None).unwrap();
    let mut c2 = AnyManager::from_mounts(&mounts, &path("c2"), None).unwrap();
    c1.create().unwrap();
    c2.create().unwrap();
    c1.remove().unwrap();
    assert!(tree.root().join("brig/c2").is_dir());
    c2.remove().unwrap();
    let left: Vec<_> = std::fs::read_dir(tree.root().join("brig"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .collect();
    assert!(left.is_empty(), "only the empty parent stays: {left:?}");
}

#[test]
fn stats_come_from_the_v1_files() {
    let (tree, mounts) = FakeTree::v1();
    let mut m = manager(&mounts, "/c1");
    m.create().unwrap();
    let r = tree.root();
    let write = |p: &str, v: &str| std::fs::write(r.join(p), v).unwrap();
    write("cpuacct/c1/cpuacct.usage", "3000\n");
    write("cpuacct/c1/cpuacct.usage_percpu", "1000 2000 \n");
    write("cpuacct/c1/cpuacct.stat", "user 2\nsystem 1\n");
    write(
        "cpu/c1/cpu.stat",
        "nr_periods 10\nnr_throttled 4\nthrottled_time 900\n",
    );
    write("memory/c1/memory.usage_in_bytes", "4096\n");
    write("memory/c1/memory.limit_in_bytes", "8192\n");
    write("memory/c1/memory.failcnt", "2\n");
    write(
        "memory/c1/memory.stat",
        "cache 100\ntotal_cache 120\nrss 5\n",
    );
    write(
        "memory/c1/memory.oom_control",
        "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
    );
    write("pids/c1/pids.current", "2\n");
    write("pids/c1/pids.max", "max\n");
    write(
        "blkio/c1/blkio.throttle.io_service_bytes_recursive",
        "8:0 Read 512\n8:0 Write 0\nTotal 512\n",
    );
    let s = m.stats().unwrap();
    assert_eq!(s.cpu.usage.total, 3000);
    assert_eq!(s.cpu.usage.percpu, vec![1000, 2000]);
    assert_eq!(
        (s.cpu.usage.user, s.cpu.usage.kernel),
        (20_000_000, 10_000_000)
    );
    assert_eq!(s.cpu.throttling.throttled_periods, 4);
    assert_eq!(
        (
            s.memory.usage.usage,
            s.memory.usage.limit,
            s.memory.usage.failcnt
        ),
        (4096, 8192, 2)
    );
    assert_eq!(s.memory.cache, 120);
    assert_eq!(s.memory.raw["rss"], 5);
    assert_eq!((s.pids.current, s.pids.limit), (2, 0));
    assert_eq!(s.blkio.io_service_bytes_recursive[0].value, 512);
    assert_eq!(m.oom_kill_count().unwrap(), 3);
    m.remove().unwrap();
}

#[test]
fn stats_come_from_the_v2_files() {
    let (tree, mounts) = FakeTree::v2();
    let mut m = manager(&mounts, "/c1");
    m.create().unwrap();
    let d = tree.root().join("c1");
    let write = |p: &str, v: &str| std::fs::write(d.join(p), v).unwrap();
    write(
        "cpu.stat",
        "usage_usec 7\nuser_usec 5\nsystem_usec 2\nnr_periods 3\nnr_throttled 1\nthrottled_usec 4\n",
    );
    write("memory.current", "4096\n");
    write("memory.max", "max\n");
    write("memory.stat", "file 300\nanon 10\n");
    write("memory.events", "low 0\nhigh 0\nmax 6\noom 1\noom_kill 1\n");
    write("io.stat", "8:0 rbytes=10 wbytes=20 rios=1 wios=2\n");
    write("hugetlb.2MB.current", "2097152\n");
    write("hugetlb.2MB.events", "max 1\n");
    let s = m.stats().unwrap();
    assert_eq!(
        (s.cpu.usage.total, s.cpu.usage.user, s.cpu.usage.kernel),
        (7000, 5000, 2000)
    );
    assert_eq!(s.cpu.throttling.throttled_time, 4000);
    assert_eq!(
        (
            s.memory.usage.usage,
            s.memory.usage.limit,
            s.memory.usage.failcnt
        ),
        (4096, u64::MAX, 6)
    );
    assert_eq!(s.memory.cache, 300);
    assert_eq!(s.memory.swap.usage, 4096, "swap is reported as memory+swap");
    assert_eq!(s.blkio.io_serviced_recursive.len(), 2);
    assert_eq!(s.hugetlb["2MB"].usage, 2_097_152);
    assert_eq!(s.hugetlb["2MB"].failcnt, 1);
    assert_eq!(m.oom_kill_count().unwrap(), 1);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["memory"]["usage"]["failcnt"], 6);
    assert_eq!(json["hugetlb"]["2MB"]["usage"], 2_097_152);
    m.remove().unwrap();
}

/// A plain directory tree has no kernel-made files: add each v1 `tasks`.
fn fake_tasks_files(m: &AnyManager) -> usize {
    let v1: Vec<_> = m
        .paths()
        .into_iter()
        .filter(|(key, _)| !key.is_empty())
        .collect();
    for (_, dir) in &v1 {
        std::fs::write(dir.join("tasks"), "").unwrap();
    }
    v1.len()
}

#[test]
fn entry_offers_clone_into_on_cgroup2_and_tasks_files_on_v1() {
    for (layout, (_tree, mounts)) in [
        ("v2", FakeTree::v2()),
        ("hybrid", FakeTree::hybrid()),
        ("v1", FakeTree::v1()),
    ] {
        let mut m = manager(&mounts, "/c1");
        m.create().unwrap();
        let v1_dirs = fake_tasks_files(&m);
        let entry = m.entry().unwrap();
        assert_eq!(entry.clone_into().is_some(), layout != "v1", "{layout}");
        assert_eq!(
            entry.tasks().len(),
            v1_dirs,
            "{layout}: one tasks file per v1 hierarchy"
        );
        assert_eq!(v1_dirs > 0, layout != "v2", "{layout}");
        drop(entry);
        for (key, dir) in m.paths() {
            if !key.is_empty() {
                std::fs::remove_file(dir.join("tasks")).unwrap();
            }
        }
        m.remove().unwrap();
    }
}

#[test]
fn the_systemd_driver_reports_not_supported_and_bad_paths_are_invalid() {
    let err = AnyManager::for_container(Some("system.slice:brig:c1"), "c1", true).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotSupported);
    assert!(err.to_string().contains("--systemd-cgroup"), "{err}");
    let err = AnyManager::for_container(Some("/a/b"), "c1", true).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    let err = AnyManager::for_container(Some("/a/../b"), "c1", false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.to_string().contains("'..'"), "{err}");
}

#[test]
fn the_v2_oom_watcher_reports_new_kills_from_memory_events() {
    let (tree, mounts) = FakeTree::v2();
    let mut m = manager(&mounts, "/c1");
    m.create().unwrap();
    let events = tree.root().join("c1/memory.events");
    std::fs::write(&events, "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n").unwrap();
    let mut watcher = m.oom_watcher().unwrap();
    let quiet = watcher
        .wait(Some(std::time::Duration::from_millis(20)))
        .unwrap();
    assert_eq!(quiet, brig_cgroups::OomWait::NoEvent);
    // Only "max" moves: not an OOM.
    std::fs::write(&events, "low 0\nhigh 0\nmax 4\noom 0\noom_kill 0\n").unwrap();
    assert_eq!(
        watcher
            .wait(Some(std::time::Duration::from_secs(5)))
            .unwrap(),
        brig_cgroups::OomWait::NoEvent
    );
    std::fs::write(&events, "low 0\nhigh 0\nmax 5\noom 1\noom_kill 2\n").unwrap();
    assert_eq!(
        watcher
            .wait(Some(std::time::Duration::from_secs(5)))
            .unwrap(),
        brig_cgroups::OomWait::Oom { kills: 2 }
    );
    assert_eq!(watcher.oom_kill_count().unwrap(), 2);
    m.remove().unwrap();
}
