//! `terminal: true`: the pty master goes to `--console-socket` by SCM_RIGHTS
//! and the container's stdio is the pty slave.

mod common;

use std::time::Duration;

use brig_testkit::console::read_master_to_end;
use brig_testkit::{Bundle, ConsoleSocket, require_root};
use common::*;

const SCRIPT: &str = "tty; test -t 0 && echo in-tty; test -t 1 && echo out-tty; test -t 2 && echo err-tty; \
                      test -c /dev/console && echo console; echo done";
const EXPECTED: &str = "/dev/pts/0\nin-tty\nout-tty\nerr-tty\nconsole\ndone\n";

#[test]
fn create_sends_a_working_pty_to_the_console_socket() {
    require_root!();
    let rt = runtime();
    let socket = ConsoleSocket::bind(&rt.work_dir().join("console.sock"))
        .expect("binding the console socket");
    let mut bundle = Bundle::busybox();
    bundle.terminal(true).sh(SCRIPT);
    let id = rt.new_id("console");
    let sock = socket.path().display().to_string();
    rt.create_with(&id, &bundle, &["--console-socket", &sock])
        .assert_ok();
    let master = socket
        .recv_master(SOON)
        .expect("pty master from the runtime");
    rt.start(&id).assert_ok();
    let output = read_master_to_end(master, SOON);
    assert_eq!(output, EXPECTED);
    assert!(rt.wait_for_status(&id, "stopped", SOON));
}

#[test]
fn run_detached_sends_the_pty_and_input_reaches_the_process() {
    require_root!();
    let rt = runtime();
    let socket = ConsoleSocket::bind(&rt.work_dir().join("console.sock"))
        .expect("binding the console socket");
    let mut bundle = Bundle::busybox();
    bundle.terminal(true).sh("read line; echo \"got $line\"");
    let id = rt.new_id("consolerun");
    let sock = socket.path().display().to_string();
    rt.run_with(&id, &bundle, &["-d", "--console-socket", &sock])
        .assert_ok();
    let master = socket
        .recv_master(SOON)
        .expect("pty master from the runtime");
    let mut writer = std::fs::File::from(master.try_clone().expect("dup of the pty master"));
    std::io::Write::write_all(&mut writer, b"hello\n").expect("writing to the pty");
    let output = read_master_to_end(master, SOON);
    // The terminal echoes the input line before the process answers.
    assert_eq!(output, "hello\ngot hello\n");
}

#[test]
fn console_has_a_window_size_and_a_controlling_terminal() {
    require_root!();
    let rt = runtime();
    let socket = ConsoleSocket::bind(&rt.work_dir().join("console.sock"))
        .expect("binding the console socket");
    let mut bundle = Bundle::busybox();
    // Field 7 of /proc/<pid>/stat is the controlling terminal (136 << 8 for /dev/pts/0).
    bundle
        .terminal(true)
        .sh("stty size; read -r _ _ _ _ _ _ tty _ < /proc/self/stat; echo $tty");
    bundle.config_mut()["process"]["consoleSize"] = serde_json::json!({"height": 33, "width": 111});
    let id = rt.new_id("consolesize");
    let sock = socket.path().display().to_string();
    rt.create_with(&id, &bundle, &["--console-socket", &sock])
        .assert_ok();
    let master = socket
        .recv_master(SOON)
        .expect("pty master from the runtime");
    rt.start(&id).assert_ok();
    let output = read_master_to_end(master, Duration::from_secs(10));
    assert_eq!(output, "33 111\n34816\n");
}
