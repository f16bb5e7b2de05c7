//! The commands that act on a container's cgroup: `pause`/`resume`,
//! `update` (the new limit bites; bad values are refused and change
//! nothing), and bad `linux.resources` / `cgroupsPath` at `create`.

mod cgroup_util;
mod common;

use std::time::Duration;

use brig_testkit::leftovers::assert_nothing_left;
use brig_testkit::{Bundle, Runtime, RuntimeKind, known_gap, require_root};
use cgroup_util::*;
use common::*;
use serde_json::{Value, json};

const MIB: i64 = 1024 * 1024;

/// Creates and starts a busybox container running `script` (which touches
/// /ctl/ready) with its cgroup at `/<id>` and `resources`.
fn start_limited(
    rt: &Runtime,
    tag: &str,
    script: &str,
    resources: Value,
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

fn counter(ctl: &std::path::Path) -> u64 {
    std::fs::read_to_string(ctl.join("count"))
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn paused_container_makes_no_progress_and_resumes() {
    require_root!();
    let rt = runtime();
    let (id, ctl) = start_limited(
        &rt,
        "pause",
        "touch /ctl/ready; i=0; while :; do i=$((i+1)); echo $i > /ctl/count; done",
        json!({}),
    );
    let _guard = CgroupGuard::new(&rt, &id);
    assert!(wait_until(SOON, || counter(&ctl) > 10));
    rt.cmd(&["pause", &id]).assert_ok();
    assert_eq!(rt.state_of(&id).status, "paused");
    let frozen = read_cgroup(&id, "freezer", "freezer.state", "cgroup.freeze");
    assert!(frozen == "FROZEN" || frozen == "1", "{frozen}");
    let at_pause = counter(&ctl);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(counter(&ctl), at_pause, "the container ran while paused");
    // A paused container cannot be paused again, nor exec'd into.
    rt.cmd(&["pause", &id]).assert_error();

    rt.cmd(&["resume", &id]).assert_ok();
    assert_eq!(rt.state_of(&id).status, "running");
    assert!(
        wait_until(SOON, || counter(&ctl) > at_pause + 10),
        "no progress after resume"
    );
    rt.cmd(&["resume", &id]).assert_error();
}

#[test]
fn paused_container_can_be_force_deleted() {
    require_root!();
    let rt = runtime();
    let (id, _) = start_limited(
        &rt,
        "pausedel",
        "touch /ctl/ready; exec sleep 1000",
        json!({}),
    );
    let _guard = CgroupGuard::new(&rt, &id);
    rt.cmd(&["pause", &id]).assert_ok();
    let out = rt.delete_force(&id);
    out.assert_ok();
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
    assert!(brig_testkit::leftovers::cgroups_named(&id).is_empty());
}

/// Runs `dd` with a 24 MiB buffer each time /ctl/goN appears and records
/// its exit status in /ctl/ddN.
const DD_TWICE: &str = "touch /ctl/ready; for n in 1 2; do \
     while [ ! -e /ctl/go$n ]; do sleep 0.02; done; \
     dd if=/dev/zero of=/dev/null bs=24M count=1 2>/dev/null; echo $? > /ctl/dd$n.tmp; mv /ctl/dd$n.tmp /ctl/dd$n; \
     done; exec sleep 1000";

fn dd_round(ctl: &std::path::Path, n: u32) -> Option<String> {
    std::fs::write(ctl.join(format!("go{n}")), "").expect("signalling the container");
    wait_for_value(&ctl.join(format!("dd{n}")), SOON)
}

#[test]
fn update_lowers_limits_of_a_running_container() {
    require_root!();
    let rt = runtime();
    let (id, ctl) = start_limited(
        &rt,
        "update",
        DD_TWICE,
        json!({"memory": {"limit": 64 * MIB}, "pids": {"limit": 100}}),
    );
    let _guard = CgroupGuard::new(&rt, &id);
    assert_eq!(
        dd_round(&ctl, 1).as_deref(),
        Some("0"),
        "24 MiB under 64 MiB"
    );

    rt.cmd(&["update", "--memory", "16m", "--pids-limit", "5", &id])
        .assert_ok();
    let limit = read_cgroup(&id, "memory", "memory.limit_in_bytes", "memory.max");
    assert_eq!(limit, (16 * MIB).to_string());
    assert_eq!(read_cgroup(&id, "pids", "pids.max", "pids.max"), "5");
    assert_eq!(
        dd_round(&ctl, 2).as_deref(),
        Some("137"),
        "24 MiB under the new 16 MiB limit should be OOM-killed"
    );

    // CPU and a resources file (runc's format) work the same way.
    rt.cmd(&[
        "update",
        "--cpu-quota",
        "20000",
        "--cpu-period",
        "100000",
        &id,
    ])
    .assert_ok();
    let cpu = read_cgroup(&id, "cpu", "cpu.cfs_quota_us", "cpu.max");
    assert!(cpu == "20000" || cpu == "20000 100000", "{cpu}");
    let file = rt.work_dir().join("resources.json");
    std::fs::write(&file, r#"{"pids": {"limit": 7}}"#).expect("writing resources");
    rt.cmd(&["update", "--resources", &file.display().to_string(), &id])
        .assert_ok();
    assert_eq!(read_cgroup(&id, "pids", "pids.max", "pids.max"), "7");
}

/// `update ARGS ID` fails naming `mentions`, and the memory and pids limits stay.
#[track_caller]
fn update_refused(rt: &Runtime, id: &str, args: &[&str], mentions: &str) {
    let before = (
        read_cgroup(id, "memory", "memory.limit_in_bytes", "memory.max"),
        read_cgroup(id, "pids", "pids.max", "pids.max"),
        read_cgroup(id, "cpu", "cpu.cfs_period_us", "cpu.max"),
    );
    let mut all = vec!["update"];
    all.extend_from_slice(args);
    all.push(id);
    let out = rt.cmd(&all);
    out.assert_error();
    assert!(
        out.stderr.contains(mentions),
        "the error should name {mentions:?}:\n{}",
        out.describe()
    );
    let after = (
        read_cgroup(id, "memory", "memory.limit_in_bytes", "memory.max"),
        read_cgroup(id, "pids", "pids.max", "pids.max"),
        read_cgroup(id, "cpu", "cpu.cfs_period_us", "cpu.max"),
    );
    assert_eq!(before, after, "a refused update changed the cgroup");
}

#[test]
fn update_refuses_bad_values_and_changes_nothing() {
    require_root!();
    let rt = runtime();
    known_gap!(
        rt,
        RuntimeKind::Runc,
        "runc 1.1 names flags without dashes (\"invalid value for memory\") and takes --cpu-period 0 as \"unchanged\""
    );
    let (id, _) = start_limited(
        &rt,
        "updbad",
        "touch /ctl/ready; exec sleep 1000",
        json!({"memory": {"limit": 64 * MIB}, "pids": {"limit": 100}}),
    );
    let _guard = CgroupGuard::new(&rt, &id);
    update_refused(&rt, &id, &["--memory", "-5"], "--memory");
    update_refused(
        &rt,
        &id,
        &["--pids-limit", "5", "--cpu-period", "0"],
        "--cpu-period",
    );
    update_refused(
        &rt,
        &id,
        &["--pids-limit", "5", "--cpu-quota", "-7"],
        "--cpu-quota",
    );
    update_refused(
        &rt,
        &id,
        &["--pids-limit", "5", "--cpuset-cpus", "0-4095"],
        "--cpuset-cpus",
    );
    update_refused(
        &rt,
        &id,
        &["--memory", "16m", "--blkio-weight", "5"],
        "--blkio-weight",
    );
    let file = rt.work_dir().join("bad.json");
    let path = file.display().to_string();
    let bad_files = [
        (
            r#"{"pids": {"limit": 5}, "unified": {"bogus.key": "1"}}"#,
            "unified",
        ),
        (
            r#"{"pids": {"limit": 5}, "devices": [{"allow": true, "type": "x", "access": "r"}]}"#,
            "devices",
        ),
        (
            r#"{"pids": {"limit": 5}, "cpu": {"period": 0}}"#,
            "cpu.period",
        ),
    ];
    for (json, field) in bad_files {
        std::fs::write(&file, json).expect("writing resources");
        update_refused(&rt, &id, &["--resources", &path], field);
    }
    assert_eq!(rt.state_of(&id).status, "running");
}

/// `create` of a bundle with `resources` (cgroup at `/<id>`) fails naming
/// `mentions` and leaves nothing behind.
#[track_caller]
fn create_refused(rt: &Runtime, tag: &str, resources: Value, mentions: &str) {
    let mut bundle = Bundle::busybox();
    let id = rt.new_id(tag);
    let _guard = CgroupGuard::new(rt, &id);
    own_cgroup(&mut bundle, &id, resources);
    let out = rt.create(&id, &bundle);
    out.assert_error();
    assert!(
        out.stderr.contains(mentions),
        "the error should name {mentions:?}:\n{}",
        out.describe()
    );
    assert_nothing_left(rt, &id, &bundle);
}

#[test]
fn bad_resources_are_refused_at_create_and_nothing_is_made() {
    require_root!();
    let rt = runtime();
    known_gap!(
        rt,
        RuntimeKind::Runc,
        "runc 1.1 accepts some of these (zero period, negative quota) or fails without naming the field"
    );
    create_refused(
        &rt,
        "negmem",
        json!({"memory": {"limit": -5}}),
        "memory.limit",
    );
    create_refused(
        &rt,
        "zeroperiod",
        json!({"cpu": {"period": 0}}),
        "cpu.period",
    );
    create_refused(
        &rt,
        "cpuset",
        json!({"cpu": {"cpus": "0-4095"}}),
        "cpu.cpus",
    );
    create_refused(&rt, "negquota", json!({"cpu": {"quota": -7}}), "cpu.quota");
    create_refused(
        &rt,
        "unified",
        json!({"unified": {"bogus.key": "1"}}),
        "unified",
    );
    create_refused(
        &rt,
        "devtype",
        json!({"devices": [{"allow": true, "type": "p", "access": "r"}]}),
        "devices[0].type",
    );
}

#[test]
fn cgroups_path_with_dot_dot_is_refused() {
    require_root!();
    let rt = runtime();
    known_gap!(
        rt,
        RuntimeKind::Runc,
        "runc 1.1 cleans `..` out of cgroupsPath and runs the container"
    );
    let mut bundle = Bundle::busybox();
    let id = rt.new_id("dotdot");
    let _guard = CgroupGuard::new(&rt, &id);
    bundle.config_mut()["linux"]["cgroupsPath"] = json!(format!("/{id}/../../escape-{id}"));
    let out = rt.create(&id, &bundle);
    out.assert_error();
    assert!(out.stderr.contains("cgroupsPath"), "{}", out.describe());
    assert_nothing_left(&rt, &id, &bundle);
}
