//! Podman's resource limits, applied by brig-runtime as by runc and observed
//! from inside the container (cgroup v1 paths first, v2 as a fallback).

use brig_clients::{Podman, agree, require_clients, runtimes};

const IMAGE: &str = "localhost/brig-busybox:imported";

/// Prints the memory limit, lets a child hog memory (busybox `tail` keeps
/// a line without newlines), then the hog's status and the OOM kill count.
const MEMORY_PROBE: &str = "\
cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max
tail /dev/zero
echo hog=$?
grep '^oom_kill ' /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null || grep '^oom_kill ' /sys/fs/cgroup/memory.events";

#[test]
fn memory_limit_oom_kills_the_hog_and_is_reported() {
    require_clients!("podman", "conmon");
    let podman = Podman::new("oom");
    let mut seen = Vec::new();
    for rt in runtimes() {
        // Seen from inside: the limit, the hog killed, the kernel's count.
        let inside = podman.run(
            &rt,
            &["--rm", "--memory", "32m", IMAGE, "sh", "-c", MEMORY_PROBE],
        );
        let lines: Vec<&str> = inside.stdout.lines().collect();
        assert_eq!(
            lines,
            ["33554432", "hog=137", "oom_kill 1"],
            "{}: memory limit seen from inside\n{}",
            rt.name,
            inside.describe()
        );
        podman.take_oom_marker();
        // The container's own process is the hog: podman reports exit 137
        // and conmon saw the OOM event of the container's cgroup.
        let hog = podman.run(
            &rt,
            &["--rm", "--memory", "32m", IMAGE, "tail", "/dev/zero"],
        );
        let observed = (inside.stdout.clone(), hog.code, podman.take_oom_marker());
        assert_eq!(
            (observed.1, observed.2),
            (Some(137), true),
            "{}: the OOM-killed container's exit code, and conmon's OOM marker\n{}",
            rt.name,
            hog.describe()
        );
        seen.push((rt.name, observed));
    }
    agree("--memory 32m", &seen);
}

/// Prints pids.max, then tries to start 30 sleeping children: the shell
/// reports "can't fork" once the limit is reached.
const PIDS_PROBE: &str = "\
cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max
(for i in $(seq 30); do sleep 10 >/dev/null 2>&1 & done) 2>&1 | grep -q \"can't fork\" && echo fork-refused
exit 0";

#[test]
fn pids_limit_caps_the_number_of_processes() {
    require_clients!("podman", "conmon");
    let podman = Podman::new("pids");
    let mut seen = Vec::new();
    for rt in runtimes() {
        let out = podman.run(
            &rt,
            &["--rm", "--pids-limit", "20", IMAGE, "sh", "-c", PIDS_PROBE],
        );
        let observed = (out.code, out.stdout.trim().to_owned());
        assert_eq!(
            observed,
            (Some(0), "20\nfork-refused".to_owned()),
            "{}: --pids-limit 20 seen from inside\n{}",
            rt.name,
            out.describe()
        );
        seen.push((rt.name, observed));
    }
    agree("--pids-limit 20", &seen);
}

#[test]
fn update_changes_the_limits_of_a_running_container() {
    require_clients!("podman", "conmon");
    let podman = Podman::new("update");
    let probe = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; \
                 cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max";
    let mut seen = Vec::new();
    for rt in runtimes() {
        let name = format!("update-{}", rt.tag());
        podman
            .run(
                &rt,
                &[
                    "-d", "--name", &name, "--memory", "32m", "--cpus", "0.5", IMAGE, "sleep",
                    "1000",
                ],
            )
            .assert_ok();
        let before = podman.cmd(&["exec", &name, "sh", "-c", probe]);
        let update = podman.cmd(&["update", "--memory", "64m", "--cpus", "1.5", &name]);
        let after = podman.cmd(&["exec", &name, "sh", "-c", probe]);
        let observed = (before.stdout.clone(), update.code, after.stdout.clone());
        assert_eq!(
            observed,
            (
                "33554432\n50000\n".into(),
                Some(0),
                "67108864\n150000\n".into()
            ),
            "{}: podman update (runtime update --resources FILE)\n{}",
            rt.name,
            update.describe()
        );
        seen.push((rt.name, observed));
    }
    agree("podman update", &seen);
}
