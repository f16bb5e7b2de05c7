//! The harness itself: a test that fails half-way leaves nothing behind
//! (no process, cgroup, mount or directory), even with a paused container.

use std::path::PathBuf;

use brig_clients::{Containerd, Podman, require_clients, runtimes};

/// Alive means not gone and not a zombie.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.rsplit_once(") ")?.1.chars().next()?;
            Some(!matches!(state, 'Z' | 'X'))
        })
        .unwrap_or(false)
}

fn mounts_mentioning(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// What a dropped client must have removed.
struct Footprint {
    pids: Vec<i32>,
    cgroups: Vec<PathBuf>,
    dir: PathBuf,
}

impl Footprint {
    #[track_caller]
    fn assert_gone(&self) {
        let living: Vec<i32> = self.pids.iter().copied().filter(|&p| alive(p)).collect();
        assert!(living.is_empty(), "processes left: {living:?}");
        let cgroups: Vec<&PathBuf> = self.cgroups.iter().filter(|d| d.exists()).collect();
        assert!(cgroups.is_empty(), "cgroups left: {cgroups:?}");
        assert!(!self.dir.exists(), "{} left", self.dir.display());
        let mounts = mounts_mentioning(&self.dir.display().to_string());
        assert!(mounts.is_empty(), "mounts left: {mounts:#?}");
    }
}

#[test]
fn a_failing_podman_test_leaves_nothing_behind() {
    require_clients!("podman", "conmon");
    let rt = runtimes().pop().expect("brig-runtime");
    let podman = Podman::new("harness");
    podman
        .run(
            &rt,
            &[
                "-d",
                "--name",
                "left",
                "localhost/brig-busybox:imported",
                "sleep",
                "1000",
            ],
        )
        .assert_ok();
    podman.cmd(&["pause", "left"]).assert_ok();
    let footprint = Footprint {
        pids: vec![
            podman.inspect("left", "{{.State.Pid}}").parse().unwrap(),
            podman
                .inspect("left", "{{.State.ConmonPid}}")
                .parse()
                .unwrap(),
        ],
        cgroups: podman.scope().directories(),
        dir: podman.dir().to_owned(),
    };
    assert!(footprint.pids.iter().all(|&p| alive(p)));
    assert!(!footprint.cgroups.is_empty());
    // The test "fails" here with the container paused.
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _podman = podman;
        panic!("a flow failed");
    }));
    assert!(failed.is_err());
    footprint.assert_gone();
}

#[test]
fn a_failing_containerd_test_leaves_nothing_behind() {
    require_clients!("containerd", "ctr", "containerd-shim-runc-v2");
    let rt = runtimes().pop().expect("brig-runtime");
    let cd = Containerd::start("harness");
    let binary = rt.binary.display().to_string();
    cd.ctr(&[
        "run",
        "--detach",
        "--runc-binary",
        &binary,
        "localhost/brig-busybox:test",
        "left",
        "sleep",
        "1000",
    ])
    .assert_ok();
    cd.ctr(&["tasks", "pause", "left"]).assert_ok();
    let mut pids = cd.sandbox().members();
    pids.extend(cd.scope().pids());
    let footprint = Footprint {
        pids,
        cgroups: cd.scope().directories(),
        dir: cd.dir().to_owned(),
    };
    assert!(
        footprint.pids.len() >= 3,
        "containerd, a shim and the container: {:?}",
        footprint.pids
    );
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _cd = cd;
        panic!("a flow failed");
    }));
    assert!(failed.is_err());
    footprint.assert_gone();
}
