//! create -> start -> stopped -> delete, `run`, `state`, `list`, `ps`, `kill`.

mod common;

use std::fs;

use brig_testkit::{Bundle, RuntimeKind, State, known_gap, require_root};
use common::*;
use serde_json::Value;

#[test]
fn state_goes_created_running_stopped_then_gone() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    let ctl = control_dir(&rt, &mut bundle);
    bundle
        .sh("touch /ctl/started; while [ ! -e /ctl/go ]; do sleep 0.02; done")
        .annotation("org.brig.test", "yes");
    let id = rt.new_id("lifecycle");
    rt.create(&id, &bundle).assert_ok();

    let created = rt.state_of(&id);
    assert_eq!(created.status, "created");
    assert_eq!(created.id, id);
    assert!(
        created.oci_version.starts_with("1."),
        "ociVersion {}",
        created.oci_version
    );
    assert_eq!(
        fs::canonicalize(&created.bundle).ok(),
        fs::canonicalize(bundle.path()).ok()
    );
    assert_eq!(
        created
            .annotations
            .as_ref()
            .and_then(|a| a.get("org.brig.test"))
            .map(String::as_str),
        Some("yes")
    );
    let pid = created.pid.expect("a created container has a pid");
    assert!(
        process_alive(pid),
        "pid {pid} of the created container is not running"
    );
    assert!(
        !ctl.join("started").exists(),
        "the user process ran before start"
    );

    rt.start(&id).assert_ok();
    assert!(
        wait_for_file(&ctl.join("started"), SOON),
        "the user process did not run after start"
    );
    assert_eq!(rt.state_of(&id).status, "running");

    fs::write(ctl.join("go"), "").unwrap();
    assert!(
        rt.wait_for_status(&id, "stopped", SOON),
        "never stopped:\n{}",
        rt.state(&id).describe()
    );

    rt.delete(&id).assert_ok();
    rt.state(&id).assert_error();
    assert!(
        !rt.root_entries().contains(&id),
        "state directory left after delete"
    );
}

#[test]
fn pid_file_holds_the_container_pid() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle.args(&["sleep", "1000"]);
    let id = rt.new_id("pidfile");
    let pid_file = rt.work_dir().join("pid");
    rt.create_with(
        &id,
        &bundle,
        &["--pid-file", &pid_file.display().to_string()],
    )
    .assert_ok();
    let written = fs::read_to_string(&pid_file).expect("pid file written by create");
    assert_eq!(written.trim().parse::<i64>().ok(), rt.state_of(&id).pid);
}

#[test]
fn delete_of_running_container_needs_force() {
    require_root!();
    let rt = runtime();
    let (id, bundle, _) = start_sleeper(&rt, "delete", |_| {});
    let pid = rt.state_of(&id).pid.expect("pid");
    rt.delete(&id).assert_error();
    assert_eq!(
        rt.state_of(&id).status,
        "running",
        "a refused delete must not touch the container"
    );
    rt.delete_force(&id).assert_ok();
    assert!(
        wait_until(SOON, || !process_alive(pid)),
        "process {pid} survived delete --force"
    );
    brig_testkit::leftovers::assert_nothing_left(&rt, &id, &bundle);
}

#[test]
fn delete_of_stopped_container_cleans_up() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle.args(&["true"]);
    let id = rt.new_id("stopped");
    rt.create(&id, &bundle).assert_ok();
    rt.start(&id).assert_ok();
    assert!(rt.wait_for_status(&id, "stopped", SOON));
    rt.delete(&id).assert_ok();
    brig_testkit::leftovers::assert_nothing_left(&rt, &id, &bundle);
}

#[test]
fn run_exits_with_the_process_status() {
    require_root!();
    let rt = runtime();
    for code in [0, 1, 7, 255] {
        let out = run_sh(&rt, "exit", &format!("exit {code}"), |_| {});
        assert_eq!(out.code, Some(code), "{}", out.describe());
    }
}

#[test]
fn run_reports_a_killed_process_as_128_plus_signal() {
    require_root!();
    let rt = runtime();
    // Without a pid namespace the shell is not an init, so SIGKILL to itself works.
    let out = run_sh(&rt, "killed", "kill -9 $$", |b| {
        b.remove_namespace("pid");
    });
    assert_eq!(out.code, Some(137), "{}", out.describe());
}

#[test]
fn run_removes_the_container_when_done() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle.sh("echo hello");
    let id = rt.new_id("runrm");
    let out = rt.run(&id, &bundle);
    out.assert_ok();
    assert_eq!(out.stdout, "hello\n");
    rt.state(&id).assert_error();
    brig_testkit::leftovers::assert_nothing_left(&rt, &id, &bundle);
}

#[test]
fn run_detached_returns_while_the_container_runs() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle.args(&["sleep", "1000"]);
    let id = rt.new_id("detach");
    let out = rt.run_with(&id, &bundle, &["-d"]);
    out.assert_ok();
    assert_eq!(rt.state_of(&id).status, "running");
}

#[test]
fn run_passes_stdin_through() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle.args(&["cat"]);
    let input = rt.work_dir().join("input");
    fs::write(&input, "from stdin\n").unwrap();
    let id = rt.new_id("stdin");
    let out = rt.run_invocation(&rt.bundle_command("run", &id, &bundle, &[]).stdin(&input));
    out.assert_ok();
    assert_eq!(out.stdout, "from stdin\n");
}

#[test]
fn list_shows_containers_in_every_format() {
    require_root!();
    let rt = runtime();
    let (running, _, _) = start_sleeper(&rt, "list-a", |_| {});
    let mut bundle = Bundle::busybox();
    bundle.args(&["sleep", "1000"]);
    let created = rt.new_id("list-b");
    rt.create(&created, &bundle).assert_ok();

    let table = rt.cmd(&["list"]);
    table.assert_ok();
    assert!(
        table
            .stdout
            .lines()
            .next()
            .is_some_and(|h| h.contains("ID") && h.contains("STATUS"))
    );
    for (id, status) in [(&running, "running"), (&created, "created")] {
        let row = table
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id.as_str()));
        assert!(
            row.is_some_and(|r| r.contains(status)),
            "no {status} row for {id}:\n{}",
            table.stdout
        );
    }

    let quiet = rt.cmd(&["list", "-q"]);
    quiet.assert_ok();
    let mut ids: Vec<&str> = quiet.stdout.lines().collect();
    ids.sort_unstable();
    let mut expected = vec![running.as_str(), created.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected);

    let json = rt.cmd(&["list", "--format", "json"]);
    json.assert_ok();
    let list: Vec<Value> =
        serde_json::from_str(&json.stdout).expect("list --format json is a JSON array");
    assert_eq!(list.len(), 2);
    for entry in &list {
        let id = entry["id"].as_str().unwrap_or_default();
        let state = rt.state_of(id);
        assert_eq!(entry["status"], state.status.as_str());
        assert_eq!(entry["pid"].as_i64(), state.pid);
        assert_eq!(entry["bundle"], state.bundle.as_str());
    }
}

#[test]
fn list_of_empty_root_is_empty() {
    require_root!();
    let rt = runtime();
    let quiet = rt.cmd(&["list", "-q"]);
    quiet.assert_ok();
    assert_eq!(quiet.stdout.trim(), "");
}

#[test]
fn ps_lists_the_container_processes() {
    require_root!();
    let rt = runtime();
    let (id, _, _) = start_sleeper(&rt, "ps", |_| {});
    let pid = rt.state_of(&id).pid.expect("pid");
    let table = rt.cmd(&["ps", &id]);
    table.assert_ok();
    assert!(
        table
            .stdout
            .lines()
            .next()
            .is_some_and(|h| h.contains("PID")),
        "{}",
        table.describe()
    );
    assert!(
        table
            .stdout
            .split_whitespace()
            .any(|w| w == pid.to_string()),
        "{}",
        table.describe()
    );
    let json = rt.cmd(&["ps", "--format", "json", &id]);
    json.assert_ok();
    let pids: Vec<i64> =
        serde_json::from_str(&json.stdout).expect("ps --format json is an array of pids");
    assert!(pids.contains(&pid), "{pids:?} lacks {pid}");
}

/// A container whose shell traps TERM and writes it to /ctl/got.
fn start_trapper(rt: &brig_testkit::Runtime, tag: &str) -> (String, std::path::PathBuf) {
    let (id, _, ctl) = start_sleeper(rt, tag, |b| {
        b.sh("trap 'echo TERM > /ctl/got; exit 0' TERM; touch /ctl/ready; while :; do sleep 0.02; done");
    });
    (id, ctl)
}

#[test]
fn kill_accepts_term_by_name_with_and_without_sig_and_by_number() {
    require_root!();
    let rt = runtime();
    for signal in ["TERM", "SIGTERM", "15"] {
        let (id, ctl) = start_trapper(&rt, "killterm");
        rt.kill(&id, signal).assert_ok();
        assert!(
            wait_for_file(&ctl.join("got"), SOON),
            "kill {signal} did not deliver SIGTERM"
        );
        assert!(rt.wait_for_status(&id, "stopped", SOON));
    }
}

#[test]
fn kill_without_signal_sends_term() {
    require_root!();
    let rt = runtime();
    let (id, ctl) = start_trapper(&rt, "killdefault");
    rt.cmd(&["kill", &id]).assert_ok();
    assert!(
        wait_for_file(&ctl.join("got"), SOON),
        "kill without a signal did not send SIGTERM"
    );
}

#[test]
fn kill_accepts_kill_by_name_and_number() {
    require_root!();
    let rt = runtime();
    for signal in ["KILL", "SIGKILL", "9"] {
        let (id, _, _) = start_sleeper(&rt, "killkill", |_| {});
        rt.kill(&id, signal).assert_ok();
        assert!(
            rt.wait_for_status(&id, "stopped", SOON),
            "kill {signal} did not stop the container"
        );
    }
}

#[test]
fn kill_all_reaches_every_process() {
    require_root!();
    let rt = runtime();
    let (id, _, ctl) = start_sleeper(&rt, "killall", |b| {
        b.sh("sleep 1000 & echo $! > /ctl/child; touch /ctl/ready; wait");
    });
    let inner: u32 = fs::read_to_string(ctl.join("child"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(inner > 1);
    let pid = rt.state_of(&id).pid.expect("pid");
    rt.cmd(&["kill", "--all", &id, "KILL"]).assert_ok();
    assert!(
        wait_until(SOON, || !process_alive(pid)),
        "init survived kill --all"
    );
    assert!(rt.wait_for_status(&id, "stopped", SOON));
}

#[test]
fn start_twice_is_refused() {
    require_root!();
    let rt = runtime();
    let (id, _, _) = start_sleeper(&rt, "start2", |_| {});
    rt.start(&id).assert_error();
}

#[test]
fn state_json_has_the_required_fields() {
    require_root!();
    let rt = runtime();
    let (id, _, _) = start_sleeper(&rt, "statejson", |_| {});
    let out = rt.state(&id);
    let raw: Value = serde_json::from_str(&out.stdout).expect("state prints JSON");
    for field in ["ociVersion", "id", "status", "pid", "bundle"] {
        assert!(
            raw.get(field).is_some(),
            "state lacks {field}: {}",
            out.stdout
        );
    }
    State::parse(&out.stdout).unwrap();
}

#[test]
fn version_prints_runc_style_lines() {
    let rt = runtime();
    known_gap!(
        rt,
        RuntimeKind::Crun,
        "crun prints `crun version X`, not `<name> version X` + `spec: 1.x`"
    );
    let out = rt.cmd(&["--version"]);
    out.assert_ok();
    assert!(
        out.stdout
            .lines()
            .next()
            .is_some_and(|l| l.contains(" version ")),
        "{}",
        out.describe()
    );
    assert!(
        out.stdout.lines().any(|l| l.starts_with("spec: 1.")),
        "{}",
        out.describe()
    );
}
