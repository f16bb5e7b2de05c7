//! `exec` into a running container: namespaces, its own process settings,
//! exit status, detached and terminal variants.

mod common;

use std::fs;

use brig_testkit::console::read_master_to_end;
use brig_testkit::{ConsoleSocket, require_root};
use common::*;

#[test]
fn exec_joins_the_container_namespaces() {
    require_root!();
    let rt = runtime();
    let (id, _, _) = start_sleeper(&rt, "execns", |b| {
        b.hostname(Some("exec-box"));
    });
    let out = rt.exec(
        &id,
        &[
            "sh",
            "-c",
            "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$",
        ],
    );
    out.assert_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[..2], ["exec-box", "sleep 1000 "], "{}", out.stdout);
    assert_ne!(lines.get(2), Some(&"1"), "exec'd process must not be pid 1");
    let pid = rt.state_of(&id).pid.expect("pid").to_string();
    let links = rt.exec(
        &id,
        &[
            "sh",
            "-c",
            "for n in pid net ipc uts mnt; do readlink /proc/self/ns/$n; done",
        ],
    );
    links.assert_ok();
    let expected: Vec<String> = ["pid", "net", "ipc", "uts", "mnt"]
        .iter()
        .map(|n| ns_link(&pid, n))
        .collect();
    assert_eq!(links.stdout.lines().collect::<Vec<_>>(), expected);
}

#[test]
fn exec_sees_the_container_root_filesystem() {
    require_root!();
    let rt = runtime();
    let (id, bundle, _) = start_sleeper(&rt, "execroot", |_| {});
    bundle.write_in_rootfs("/etc/only-in-container", "yes\n");
    let out = rt.exec(&id, &["cat", "/etc/only-in-container"]);
    out.assert_ok();
    assert_eq!(out.stdout, "yes\n");
}

#[test]
fn exec_exits_with_the_process_status() {
    require_root!();
    let rt = runtime();
    let (id, _, _) = start_sleeper(&rt, "execexit", |_| {});
    for code in [0, 3, 42] {
        let out = rt.exec(&id, &["sh", "-c", &format!("exit {code}")]);
        assert_eq!(out.code, Some(code), "{}", out.describe());
    }
    assert_eq!(rt.state_of(&id).status, "running");
}

#[test]
fn exec_takes_cwd_env_and_user() {
    require_root!();
    let rt = runtime();
    let (id, _, _) = start_sleeper(&rt, "execopts", |_| {});
    let out = rt.exec_with(
        &id,
        &[
            "--cwd", "/tmp", "-e", "FOO=bar", "-e", "SECOND=2", "-u", "1000:100",
        ],
        &["sh", "-c", "pwd; echo $FOO $SECOND; id -u; id -g"],
    );
    out.assert_ok();
    assert_eq!(out.stdout, "/tmp\nbar 2\n1000\n100\n");
}

#[test]
fn exec_inherits_the_container_env_by_default() {
    require_root!();
    let rt = runtime();
    let (id, _, _) = start_sleeper(&rt, "execenv", |b| {
        b.add_env("FROM_CONFIG=yes");
    });
    let out = rt.exec(&id, &["sh", "-c", "echo $FROM_CONFIG"]);
    out.assert_ok();
    assert_eq!(out.stdout, "yes\n");
}

#[test]
fn exec_with_a_process_json() {
    require_root!();
    let rt = runtime();
    let (id, _, _) = start_sleeper(&rt, "execprocess", |_| {});
    let process = serde_json::json!({
        "terminal": false,
        "user": {"uid": 65534, "gid": 65534},
        "args": ["sh", "-c", "echo $WHO; id -u; pwd"],
        "env": ["PATH=/bin", "WHO=process-json"],
        "cwd": "/etc"
    });
    let path = rt.work_dir().join("process.json");
    fs::write(&path, process.to_string()).unwrap();
    let out = rt.exec_with(&id, &["--process", &path.display().to_string()], &[]);
    out.assert_ok();
    assert_eq!(out.stdout, "process-json\n65534\n/etc\n");
}

#[test]
fn exec_detached_writes_a_pid_file() {
    require_root!();
    let rt = runtime();
    let (id, _, ctl) = start_sleeper(&rt, "execdetach", |_| {});
    let pid_file = rt.work_dir().join("exec.pid");
    let out = rt.exec_with(
        &id,
        &["-d", "--pid-file", &pid_file.display().to_string()],
        &["sh", "-c", "echo $$ > /ctl/exec-pid; exec sleep 1000"],
    );
    out.assert_ok();
    assert!(wait_for_file(&ctl.join("exec-pid"), SOON));
    let host_pid: i64 = fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("a pid");
    assert!(process_alive(host_pid));
    let ps = rt.cmd(&["ps", "--format", "json", &id]);
    let pids: Vec<i64> = serde_json::from_str(&ps.stdout).unwrap_or_default();
    assert!(
        pids.contains(&host_pid),
        "ps does not list the exec'd process: {}",
        ps.describe()
    );
}

#[test]
fn exec_with_terminal_uses_the_console_socket() {
    require_root!();
    let rt = runtime();
    let (id, _, _) = start_sleeper(&rt, "exectty", |_| {});
    let socket =
        ConsoleSocket::bind(&rt.work_dir().join("exec.sock")).expect("binding the console socket");
    let sock = socket.path().display().to_string();
    let out = rt.exec_with(
        &id,
        &["-t", "-d", "--console-socket", &sock],
        &["sh", "-c", "test -t 1 && echo tty-ok"],
    );
    out.assert_ok();
    let master = socket.recv_master(SOON).expect("pty master for exec");
    assert_eq!(read_master_to_end(master, SOON), "tty-ok\n");
}

#[test]
fn exec_into_a_stopped_container_is_refused() {
    require_root!();
    let rt = runtime();
    let mut bundle = brig_testkit::Bundle::busybox();
    bundle.args(&["true"]);
    let id = rt.new_id("execstopped");
    rt.create(&id, &bundle).assert_ok();
    rt.start(&id).assert_ok();
    assert!(rt.wait_for_status(&id, "stopped", SOON));
    rt.exec(&id, &["true"]).assert_error();
}

#[test]
fn exec_of_a_missing_program_fails_with_its_name() {
    require_root!();
    let rt = runtime();
    let (id, _, _) = start_sleeper(&rt, "execmissing", |_| {});
    let out = rt.exec(&id, &["/no/such/tool"]);
    out.assert_error();
    assert!(out.stderr.contains("/no/such/tool"), "{}", out.describe());
    assert_eq!(rt.state_of(&id).status, "running");
}
