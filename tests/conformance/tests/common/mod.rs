//! Helpers shared by the conformance test files.
#![allow(dead_code)] // each test binary uses a different subset

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use brig_testkit::{Bundle, CmdOutput, Runtime};

/// Generous bound for anything a container should do "at once".
pub const SOON: Duration = Duration::from_secs(10);

/// The runtime under test.
pub fn runtime() -> Runtime {
    Runtime::from_env()
}

/// Runs `script` with `sh -c` in the foreground in a busybox container
/// configured by `configure`; returns the `run` output.
pub fn run_sh(
    rt: &Runtime,
    tag: &str,
    script: &str,
    configure: impl FnOnce(&mut Bundle),
) -> CmdOutput {
    let mut bundle = Bundle::busybox();
    bundle.sh(script);
    configure(&mut bundle);
    let id = rt.new_id(tag);
    rt.run(&id, &bundle)
}

/// A host directory bound read-write into the container at `/ctl`, for
/// signalling the container and collecting what it writes.
pub fn control_dir(rt: &Runtime, bundle: &mut Bundle) -> PathBuf {
    let dir = rt
        .work_dir()
        .join(format!("ctl-{}", brig_testkit::unique_id("c")));
    fs::create_dir_all(&dir).expect("creating the control directory");
    bundle.bind(&dir, "/ctl", &[]);
    dir
}

/// Waits until `path` exists.
pub fn wait_for_file(path: &Path, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    path.exists()
}

/// Waits until `pred` holds.
pub fn wait_until(timeout: Duration, mut pred: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if pred() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    pred()
}

/// A created-and-started container that runs until killed. The process
/// touches /ctl/ready once running (the control dir is returned).
pub fn start_sleeper(
    rt: &Runtime,
    tag: &str,
    configure: impl FnOnce(&mut Bundle),
) -> (String, Bundle, PathBuf) {
    let mut bundle = Bundle::busybox();
    let ctl = control_dir(rt, &mut bundle);
    bundle.sh("touch /ctl/ready; exec sleep 1000");
    configure(&mut bundle);
    let id = rt.new_id(tag);
    rt.create(&id, &bundle).assert_ok();
    rt.start(&id).assert_ok();
    assert!(
        wait_for_file(&ctl.join("ready"), SOON),
        "container {id} never became ready"
    );
    (id, bundle, ctl)
}

/// True when `pid` exists on the host and is not a zombie.
pub fn process_alive(pid: i64) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// The namespace link of `pid` (e.g. "pid:[4026531836]").
pub fn ns_link(pid: &str, kind: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}
