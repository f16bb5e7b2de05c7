//! Limits from `linux.resources` bite: memory (OOM kill, reported by
//! `events`), pids, CPU quota, devices; tiny memory limits; and nothing of
//! the container's cgroup is left after `delete`. Every container's cgroup
//! is at `/<id>` (`linux.cgroupsPath`), outside the test runner's own.

mod cgroup_util;
mod common;

use std::time::{Duration, Instant};

use brig_testkit::leftovers::{assert_nothing_left, cgroups_named};
use brig_testkit::{Bundle, RuntimeKind, known_gap, require_root};
use cgroup_util::*;
use common::*;
use serde_json::json;

const MIB: i64 = 1024 * 1024;

#[test]
fn memory_hog_is_oom_killed_and_events_reports_oom() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    let ctl = control_dir(&rt, &mut bundle);
    bundle.sh(
        "touch /ctl/ready; while [ ! -e /ctl/go ]; do sleep 0.02; done; \
         dd if=/dev/zero of=/dev/null bs=64M count=1; echo $? > /ctl/dd.tmp; mv /ctl/dd.tmp /ctl/dd; \
         exec sleep 1000",
    );
    let id = rt.new_id("oomhog");
    let _guard = CgroupGuard::new(&rt, &id);
    own_cgroup(&mut bundle, &id, json!({"memory": {"limit": 32 * MIB}}));
    rt.create(&id, &bundle).assert_ok();
    rt.start(&id).assert_ok();
    assert!(wait_for_file(&ctl.join("ready"), SOON));
    let limit = read_cgroup(&id, "memory", "memory.limit_in_bytes", "memory.max");
    assert_eq!(limit, (32 * MIB).to_string());

    let events = Events::spawn(&rt, &id, &["--interval", "1s"]);
    // Let `events` register before the hog runs.
    assert!(
        events.wait_for("stats", SOON),
        "no stats line: {:?}",
        events.lines()
    );
    std::fs::write(ctl.join("go"), "").expect("signalling the container");
    let dd = wait_for_value(&ctl.join("dd"), SOON);
    assert_eq!(
        dd.as_deref(),
        Some("137"),
        "dd with a 64 MiB buffer should be SIGKILLed"
    );
    assert!(
        events.wait_for("oom", SOON),
        "events printed no oom line: {:?}",
        events.lines()
    );
    let oom = events.lines().into_iter().find(|l| l["type"] == "oom");
    assert_eq!(oom.map(|l| l["id"].clone()), Some(json!(id)));
    // The container's init (sh) survived: only the hog was killed.
    assert_eq!(rt.state_of(&id).status, "running");
}

#[test]
fn events_ends_when_the_container_stops() {
    require_root!();
    let rt = runtime();
    known_gap!(
        rt,
        RuntimeKind::Runc,
        "runc 1.1 `events` keeps running until the container is deleted"
    );
    let (id, _, _) = start_sleeper(&rt, "evend", |_| {});
    let _guard = CgroupGuard::new(&rt, &id);
    let mut events = Events::spawn(&rt, &id, &["--interval", "100ms"]);
    assert!(events.wait_for("stats", SOON), "{:?}", events.lines());
    rt.kill(&id, "KILL").assert_ok();
    assert!(
        events.exited_within(SOON),
        "events still runs after the container stopped"
    );
}

#[test]
fn events_stats_prints_one_stats_line_in_runcs_shape() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    let ctl = control_dir(&rt, &mut bundle);
    // A builtin redirection, not `touch`: no child process may still count in pids.current.
    bundle.sh(": > /ctl/ready; exec sleep 1000");
    let id = rt.new_id("evstats");
    let _guard = CgroupGuard::new(&rt, &id);
    own_cgroup(
        &mut bundle,
        &id,
        json!({"memory": {"limit": 64 * MIB}, "pids": {"limit": 50}}),
    );
    rt.create(&id, &bundle).assert_ok();
    rt.start(&id).assert_ok();
    assert!(wait_for_file(&ctl.join("ready"), SOON));
    let out = rt.cmd(&["events", "--stats", &id]);
    out.assert_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stdout);
    let line: serde_json::Value = serde_json::from_str(lines[0]).expect("a JSON line");
    assert_eq!(line["type"], "stats");
    assert_eq!(line["id"], json!(id));
    let data = &line["data"];
    assert_eq!(data["memory"]["usage"]["limit"], json!(64 * MIB));
    assert!(data["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0);
    assert!(data["cpu"]["usage"]["total"].as_u64().unwrap_or(0) > 0);
    assert_eq!(data["pids"]["current"], 1);
    assert_eq!(data["pids"]["limit"], 50);
}

#[test]
fn fork_bomb_stops_at_the_pids_limit() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    let ctl = control_dir(&rt, &mut bundle);
    // A bomb that forks a binary tree of shells, bounded at 256 processes
    // so a runtime that ignores the limit cannot hurt the host. It runs in
    // the background: a shell exits when it cannot fork, init must not.
    bundle.sh(
        "b() { [ $1 -eq 0 ] && exec sleep 1000; b $(($1-1)) & b $(($1-1)); }; \
         b 8 2>>/ctl/err & : > /ctl/ready; exec sleep 1000",
    );
    let id = rt.new_id("forkbomb");
    let _guard = CgroupGuard::new(&rt, &id);
    own_cgroup(&mut bundle, &id, json!({"pids": {"limit": 16}}));
    rt.create(&id, &bundle).assert_ok();
    rt.start(&id).assert_ok();
    let err = ctl.join("err");
    let failed_fork = wait_until(Duration::from_secs(30), || {
        std::fs::read_to_string(&err).is_ok_and(|e| e.contains("fork"))
    });
    assert!(failed_fork, "no fork ever failed");
    std::thread::sleep(Duration::from_millis(300));
    let current: u64 = read_cgroup(&id, "pids", "pids.current", "pids.current")
        .parse()
        .unwrap_or(999);
    assert!(current <= 16, "pids.current is {current}");
    let events = read_cgroup(&id, "pids", "pids.events", "pids.events");
    assert!(keyed(&events, "max").unwrap_or(0) > 0, "{events}");
    let ps = rt.cmd(&["ps", "--format", "json", &id]);
    ps.assert_ok();
    let pids: Vec<i64> = serde_json::from_str(ps.stdout.trim()).expect("ps json");
    // Shells that cannot fork exit, so how many survive varies; never more than 16.
    let init = rt.state_of(&id).pid.expect("init pid");
    assert!(
        pids.len() <= 16 && pids.contains(&init),
        "{} processes: {pids:?}",
        pids.len()
    );
    // The host is unharmed: it still starts processes.
    let host = std::process::Command::new("true").status();
    assert!(host.is_ok_and(|s| s.success()));
}

/// Share of one CPU the container's cgroup used over `window`.
fn cpu_share(id: &str, window: Duration) -> f64 {
    let usage_ns = || -> u64 {
        if pure_v2() {
            let stat = read_cgroup(id, "cpu", "", "cpu.stat");
            keyed(&stat, "usage_usec").unwrap_or(0) * 1000
        } else {
            read_cgroup(id, "cpuacct", "cpuacct.usage", "")
                .parse()
                .unwrap_or(0)
        }
    };
    let (before, start) = (usage_ns(), Instant::now());
    std::thread::sleep(window);
    let used = usage_ns().saturating_sub(before);
    used as f64 / start.elapsed().as_nanos() as f64
}

#[test]
fn cpu_quota_of_a_quarter_cpu_gives_20_to_30_percent() {
    require_root!();
    let rt = runtime();
    let (id, _) = start_sleeper_in_own_cgroup(
        &rt,
        "cpuquota",
        "touch /ctl/ready; while :; do :; done",
        json!({"cpu": {"quota": 25000, "period": 100000}}),
    );
    let _guard = CgroupGuard::new(&rt, &id);
    // A loaded machine may starve the burner below its quota: retry, but
    // never accept more than the quota allows.
    let mut shares = Vec::new();
    for _ in 0..4 {
        let share = cpu_share(&id, Duration::from_secs(1));
        assert!(share <= 0.30, "the burner got {share:.3} of a CPU");
        shares.push(share);
        if share >= 0.20 {
            break;
        }
    }
    assert!(
        shares.iter().any(|&s| s >= 0.20),
        "the burner got {shares:?} of a CPU"
    );
    // On a busy machine the burner may get less than its quota for a while.
    let throttled = wait_until(SOON, || {
        let stat = read_cgroup(&id, "cpu", "cpu.stat", "cpu.stat");
        keyed(&stat, "nr_throttled").unwrap_or(0) > 0
    });
    let stat = read_cgroup(&id, "cpu", "cpu.stat", "cpu.stat");
    assert!(throttled, "never throttled: {stat}");
}

/// Creates and starts a container running `script` (which touches
/// /ctl/ready) with its cgroup at `/<id>` and `resources`.
fn start_sleeper_in_own_cgroup(
    rt: &brig_testkit::Runtime,
    tag: &str,
    script: &str,
    resources: serde_json::Value,
) -> (String, std::path::PathBuf) {
    let mut bundle = Bundle::busybox();
    let ctl = control_dir(rt, &mut bundle);
    bundle.sh(script);
    let id = rt.new_id(tag);
    own_cgroup(&mut bundle, &id, resources);
    rt.create(&id, &bundle).assert_ok();
    rt.start(&id).assert_ok();
    assert!(
        wait_for_file(&ctl.join("ready"), SOON),
        "container {id} never became ready"
    );
    (id, ctl)
}

/// A script that opens the character device node /kmsg (1:11, created by
/// the test) for writing, then /dev/null, and says what worked.
const DEVICE_PROBE: &str = "if echo brig-conformance-device-test 2>/dev/null > /kmsg; \
     then echo kmsg=opened; else echo kmsg=denied; fi; \
     echo x > /dev/null && echo null=ok";

fn device_bundle(extra_rule: Option<serde_json::Value>) -> Bundle {
    let mut bundle = Bundle::busybox();
    bundle.sh(DEVICE_PROBE);
    let node = bundle.rootfs().join("kmsg");
    let made = std::process::Command::new("mknod")
        .arg(&node)
        .args(["c", "1", "11"])
        .status();
    assert!(made.is_ok_and(|s| s.success()), "mknod {}", node.display());
    if let Some(rule) = extra_rule {
        let devices = &mut bundle.config_mut()["linux"]["resources"]["devices"];
        if let Some(list) = devices.as_array_mut() {
            list.push(rule);
        }
    }
    bundle
}

#[test]
fn device_outside_the_allow_list_cannot_be_opened() {
    require_root!();
    let rt = runtime();
    let bundle = device_bundle(None);
    let out = rt.run(&rt.new_id("devdeny"), &bundle);
    out.assert_ok();
    assert_eq!(out.stdout, "kmsg=denied\nnull=ok\n");

    // The same node opens once a rule allows it: the cgroup decided.
    let rule = json!({"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"});
    let bundle = device_bundle(Some(rule));
    let out = rt.run(&rt.new_id("devallow"), &bundle);
    out.assert_ok();
    assert_eq!(out.stdout, "kmsg=opened\nnull=ok\n");
}

#[test]
fn mknod_of_a_disk_and_reading_host_memory_are_refused() {
    require_root!();
    let rt = runtime();
    let out = run_sh(
        &rt,
        "devmknod",
        "mknod /dev/sdz b 8 0 2>/dev/null; head -c 1 /dev/sdz >/dev/null 2>&1 && echo disk=read || echo disk=refused; \
         mknod /dev/mem c 1 1 2>/dev/null; head -c 1 /dev/mem >/dev/null 2>&1 && echo mem=read || echo mem=refused",
        |b| {
            b.config_mut()["process"]["capabilities"]["bounding"] =
                json!(["CAP_MKNOD", "CAP_SYS_RAWIO", "CAP_DAC_OVERRIDE"]);
            b.config_mut()["process"]["capabilities"]["effective"] =
                json!(["CAP_MKNOD", "CAP_SYS_RAWIO", "CAP_DAC_OVERRIDE"]);
            b.config_mut()["process"]["capabilities"]["permitted"] =
                json!(["CAP_MKNOD", "CAP_SYS_RAWIO", "CAP_DAC_OVERRIDE"]);
        },
    );
    out.assert_ok();
    assert_eq!(out.stdout, "disk=refused\nmem=refused\n");
}

#[test]
fn one_mib_memory_limit_runs_true() {
    require_root!();
    let rt = runtime();
    known_gap!(
        rt,
        RuntimeKind::Runc,
        "runc's Go init is OOM-killed under about 10 MiB"
    );
    let mut bundle = Bundle::busybox();
    let id = rt.new_id("onemib");
    let _guard = CgroupGuard::new(&rt, &id);
    own_cgroup(&mut bundle, &id, json!({"memory": {"limit": MIB}}));
    rt.create(&id, &bundle).assert_ok();
    // What the runtime's own work charged to the container's cgroup, before
    // the container's program ran (v1 records the peak).
    if !pure_v2() {
        let peak: u64 = read_cgroup(&id, "memory", "memory.max_usage_in_bytes", "")
            .parse()
            .unwrap_or(u64::MAX);
        eprintln!("peak memory of the created container: {peak} bytes");
        assert!(peak <= 512 * 1024, "the runtime charged {peak} bytes");
    }
    rt.start(&id).assert_ok();
    assert!(rt.wait_for_status(&id, "stopped", SOON));
    let kills = read_cgroup(&id, "memory", "memory.oom_control", "memory.events");
    assert_eq!(keyed(&kills, "oom_kill"), Some(0), "{kills}");
    rt.delete(&id).assert_ok();

    let id = rt.new_id("onemibrun");
    let _guard2 = CgroupGuard::new(&rt, &id);
    own_cgroup(&mut bundle, &id, json!({"memory": {"limit": MIB}}));
    let out = rt.run(&id, &bundle);
    out.assert_ok();
}

#[test]
fn oom_kill_during_create_is_reported_as_such() {
    require_root!();
    let rt = runtime();
    known_gap!(
        rt,
        RuntimeKind::Runc,
        "runc 1.1 places init first and sets the limit later, which fails as \"unable to set memory limit\""
    );
    let mut bundle = Bundle::busybox();
    let id = rt.new_id("oomcreate");
    let _guard = CgroupGuard::new(&rt, &id);
    own_cgroup(&mut bundle, &id, json!({"memory": {"limit": 16 * 1024}}));
    let out = rt.create(&id, &bundle);
    out.assert_error();
    assert!(
        out.stderr.to_lowercase().contains("oom"),
        "the error should say the OOM killer struck:\n{}",
        out.describe()
    );
    assert_nothing_left(&rt, &id, &bundle);
}

#[test]
fn delete_leaves_no_cgroup_in_any_hierarchy() {
    require_root!();
    let rt = runtime();
    known_gap!(
        rt,
        RuntimeKind::Runc,
        "runc 1.1 removes the leaf of a nested cgroupsPath but leaves the parents it made"
    );
    let mut bundle = Bundle::busybox();
    let ctl = control_dir(&rt, &mut bundle);
    // A forked child too, so delete must empty the cgroup first.
    bundle.sh("sleep 1000 & touch /ctl/ready; exec sleep 1000");
    let id = rt.new_id("cgdelete");
    let _guard = CgroupGuard::new(&rt, &id);
    bundle.config_mut()["linux"]["cgroupsPath"] = json!(format!("/{id}/nested/leaf"));
    bundle.config_mut()["linux"]["resources"]["pids"] = json!({"limit": 10});
    rt.create(&id, &bundle).assert_ok();
    rt.start(&id).assert_ok();
    assert!(wait_for_file(&ctl.join("ready"), SOON));
    let made = cgroups_named(&id);
    assert!(
        made.iter()
            .any(|d| d.join("nested/leaf/cgroup.procs").exists()),
        "no nested cgroup was made: {made:?}"
    );
    rt.delete_force(&id).assert_ok();
    assert_nothing_left(&rt, &id, &bundle);
}
