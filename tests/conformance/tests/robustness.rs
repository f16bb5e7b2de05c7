//! Robustness under load: many clients at once, and a runtime killed with
//! SIGKILL in the middle of `create` (issue 5).

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use brig_testkit::leftovers::assert_nothing_left;
use brig_testkit::{Bundle, require_root};
use common::*;
use serde_json::Value;

const CLIENTS: usize = 8;
const CONTAINERS: usize = 100;

#[test]
fn hundred_containers_from_eight_parallel_clients() {
    require_root!();
    let rt = Arc::new(runtime());
    let mut bundle = Bundle::busybox();
    bundle.args(&["sleep", "1000"]);
    let bundle = Arc::new(bundle);
    let ids: Vec<String> = (0..CONTAINERS).map(|_| rt.new_id("load")).collect();
    let chunks: Vec<Vec<String>> = ids
        .chunks(CONTAINERS.div_ceil(CLIENTS))
        .map(<[String]>::to_vec)
        .collect();
    let workers: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let (rt, bundle) = (Arc::clone(&rt), Arc::clone(&bundle));
            std::thread::spawn(move || {
                for id in chunk {
                    rt.create(&id, &bundle).assert_ok();
                    rt.start(&id).assert_ok();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a client thread panicked");
    }

    let listed = rt.cmd(&["list", "--format", "json"]);
    listed.assert_ok();
    let states: Vec<Value> =
        serde_json::from_str(&listed.stdout).expect("list --format json is JSON");
    let mut running: Vec<String> = states
        .iter()
        .filter(|s| s["status"] == "running")
        .filter_map(|s| s["id"].as_str().map(str::to_owned))
        .collect();
    running.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(
        running, expected,
        "list shows exactly the 100 running containers"
    );

    std::thread::scope(|scope| {
        for chunk in ids.chunks(CONTAINERS.div_ceil(CLIENTS)) {
            let rt = &rt;
            scope.spawn(move || {
                for id in chunk {
                    rt.delete_force(id).assert_ok();
                }
            });
        }
    });
    for id in &ids {
        assert_nothing_left(&rt, id, &bundle);
    }
    assert!(
        rt.root_entries().is_empty(),
        "state directories left: {:?}",
        rt.root_entries()
    );
}

/// Delays (µs) at which `create` is killed: spread over its whole run.
fn kill_points(trials: usize) -> Vec<u64> {
    (0..trials).map(|i| (i as u64 * 1_700) % 25_000).collect()
}

#[test]
fn kill_9_during_create_is_repaired_by_delete_force() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle.args(&["sleep", "1000"]);
    let root = rt.root();
    for delay in kill_points(20) {
        let id = rt.new_id("kill9");
        let mut child = Command::new(rt.binary())
            .arg("--root")
            .arg(&root)
            .args(["create", "--bundle"])
            .arg(bundle.path())
            .arg(&id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawning create");
        std::thread::sleep(Duration::from_micros(delay));
        // SIGKILL to the runtime only: whatever it had started must be cleaned by delete.
        let _ = child.kill();
        let _ = child.wait();

        let listed = rt.cmd(&["list", "--format", "json"]);
        listed.assert_ok();
        // runc prints `null` for an empty list.
        let states: Vec<Value> = serde_json::from_str::<Option<Vec<Value>>>(&listed.stdout)
            .expect("list output is JSON after a kill")
            .unwrap_or_default();
        for state in &states {
            let status = state["status"].as_str().unwrap_or_default();
            assert!(
                ["creating", "created", "running", "stopped"].contains(&status),
                "list shows a half-written state: {state}"
            );
        }
        rt.delete_force(&id).assert_ok();
        assert_nothing_left(&rt, &id, &bundle);
    }
}
