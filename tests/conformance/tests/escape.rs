//! Escape-proofing regression tests: each fails on a runtime with the bug.
//! CVE-2019-5736 (the runtime binary reachable through /proc/<pid>/exe),
//! CVE-2024-21626 (host descriptors and a working directory outside the
//! root), and what the default spec of `brig-runtime spec` forbids.

mod common;

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use brig_testkit::seccomp_agent::{SeccompAgent, continue_until, let_run, wait_notification};
use brig_testkit::{Bundle, Runtime, probe, require_root};
use common::*;
use serde_json::json;

/// The container's program for the CVE-2019-5736 test: once /ctl/go exists,
/// it tries to open, for reading and for writing, the executable of every
/// process it did not start itself, and reports each attempt.
const EXE_SCANNER: &str = r#"touch /ctl/ready
while [ ! -e /ctl/go ]; do sleep 0.05; done
for d in /proc/[0-9]*; do
  p=${d#/proc/}
  [ "$p" = 1 ] && continue
  cmd=$(tr '\0' ' ' < $d/cmdline 2>/dev/null)
  case "$cmd" in ""|"sh "*|sleep*|"tr "*|"cat "*) continue;; esac
  if cat $d/exe > /dev/null 2>&1; then r=opened; else r=denied; fi
  if (: >> $d/exe) 2>/dev/null; then w=opened; else w=denied; fi
  echo "$p read=$r write=$w [$cmd]"
done > /ctl/report
touch /ctl/done
exec sleep 1000"#;

/// CVE-2019-5736: while `exec` joins the container, its process is still the
/// runtime's binary. Here it is held at its execve, after it took the
/// container's identity and capabilities (a seccomp agent holds the call),
/// and the container's program must not be able to open that binary through
/// /proc/<pid>/exe: neither to write it nor to keep a descriptor for later.
/// Same user, same capabilities: only the runtime making itself
/// non-dumpable stands in the way.
#[test]
fn runtime_binary_is_unreachable_through_proc_exe_during_exec() {
    require_root!();
    let rt = runtime();
    let agent = SeccompAgent::bind(&rt.work_dir().join("agent.sock")).expect("binding the agent");
    let mut bundle = Bundle::busybox();
    let ctl = control_dir(&rt, &mut bundle);
    bundle.sh(EXE_SCANNER);
    bundle.config_mut()["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": agent.path(),
        "syscalls": [{"names": ["execve"], "action": "SCMP_ACT_NOTIFY"}]});
    let id = rt.new_id("cve5736");
    let stop = AtomicBool::new(false);
    let (report, exec) = std::thread::scope(|s| {
        // Whatever happens below, the agent threads end with the scope.
        let _stop = StopOnDrop(&stop);
        // The container's own execs (its init, the scanner's commands) just run.
        let init_agent = s.spawn(|| {
            let delivery = agent.receive(SOON).expect("init's listener");
            continue_until(&delivery.fds[0], &stop);
        });
        rt.create(&id, &bundle).assert_ok();
        rt.start(&id).assert_ok();
        assert!(
            wait_for_file(&ctl.join("ready"), SOON),
            "the container never started"
        );
        let exec = s.spawn(|| rt.exec(&id, &["true"]));
        let held = agent.receive(SOON).expect("the exec process's listener");
        let listener = &held.fds[0];
        let execve = wait_notification(listener).expect("the exec process's execve");
        fs::write(ctl.join("go"), "").expect("writing /ctl/go");
        let scanned = wait_for_file(&ctl.join("done"), SOON);
        let report = fs::read_to_string(ctl.join("report")).unwrap_or_default();
        // Let it go (a signal may have restarted the call as a new notification).
        let _ = let_run(listener, execve.id);
        let stop_ref = &stop;
        let exec_agent = s.spawn(move || continue_until(&held.fds[0], stop_ref));
        let exec = exec.join().expect("exec thread");
        stop.store(true, Ordering::Relaxed);
        exec_agent.join().expect("agent thread");
        init_agent.join().expect("agent thread");
        assert!(scanned, "the scan never ended");
        (report, exec)
    });
    exec.assert_ok();
    let runtime_lines: Vec<&str> = report
        .lines()
        .filter(|l| l.contains(&format!("{id} ")) || l.contains("init"))
        .collect();
    assert!(
        !runtime_lines.is_empty(),
        "the scan did not see the exec process:\n{report}"
    );
    for line in report.lines() {
        assert!(
            line.contains("read=denied write=denied"),
            "a container process opened a runtime's executable: {line}\n{report}"
        );
    }
}

struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The descriptor numbers a process sees in /proc/self/fd (`ls` adds its own).
fn fd_numbers(ls_output: &str) -> Vec<u32> {
    let mut fds: Vec<u32> = ls_output
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    fds.sort_unstable();
    fds
}

/// CVE-2024-21626, first half: nothing of the runtime is open in an `exec`
/// process (the container's own init is checked in process.rs).
#[test]
fn exec_process_gets_no_host_descriptor() {
    require_root!();
    let rt = runtime();
    let (id, _bundle, _ctl) = start_sleeper(&rt, "fdexec", |_| {});
    let out = rt.exec(&id, &["ls", "/proc/self/fd"]);
    out.assert_ok();
    assert_eq!(fd_numbers(&out.stdout), [0, 1, 2, 3], "{}", out.stdout);
}

/// A host directory passed as descriptor 3, and `cwd` /proc/self/fd/3.
fn host_dir(rt: &Runtime) -> PathBuf {
    let dir = rt.work_dir().join("host-secret");
    fs::create_dir_all(&dir).expect("creating the host directory");
    fs::write(dir.join("secret"), "host\n").expect("writing the host file");
    dir
}

/// CVE-2024-21626, second half: a working directory that resolves outside
/// the container's root (here through a host directory's descriptor) is
/// refused, for `run` and for `exec`, and for any descriptor the runtime may
/// itself hold.
#[test]
fn working_directory_outside_the_root_is_refused() {
    require_root!();
    let rt = runtime();
    let dir = host_dir(&rt);
    let mut bundle = Bundle::busybox();
    bundle
        .sh("cat secret 2>/dev/null || echo inside")
        .cwd("/proc/self/fd/3");
    let id = rt.new_id("cwdout");
    let out = rt.run_invocation(
        &rt.bundle_command("run", &id, &bundle, &["--preserve-fds", "1"])
            .extra_fds_read_only(std::slice::from_ref(&dir)),
    );
    assert!(
        !out.stdout.contains("host"),
        "the container read the host directory:\n{}",
        out.describe()
    );
    assert!(
        !out.success(),
        "a cwd outside the root must be refused:\n{}",
        out.describe()
    );

    let (id, _bundle, _ctl) = start_sleeper(&rt, "cwdoutexec", |_| {});
    for fd in 3..12 {
        let cwd = format!("/proc/self/fd/{fd}");
        let mut args = vec!["exec", "--cwd", cwd.as_str()];
        if fd == 3 {
            args.extend(["--preserve-fds", "1"]);
        }
        args.extend([id.as_str(), "sh", "-c", "cat secret 2>/dev/null || pwd"]);
        let out = rt.run_invocation(
            &rt.invocation(&args)
                .extra_fds_read_only(std::slice::from_ref(&dir)),
        );
        assert!(
            !out.stdout.contains("host"),
            "exec --cwd {cwd} read the host:\n{}",
            out.describe()
        );
        assert!(
            !out.success() || out.stdout.starts_with("/proc/"),
            "exec --cwd {cwd} ran outside the root:\n{}",
            out.describe()
        );
    }
}

/// A bundle whose config.json is what `brig-runtime spec` writes (the
/// runtime under test runs it), with `script` as the program.
fn default_spec_bundle(rt: &Runtime, script: &str) -> Bundle {
    let dir = rt.work_dir().join(brig_testkit::unique_id("spec"));
    fs::create_dir_all(&dir).expect("creating the spec directory");
    let out = std::process::Command::new(brig_testkit::runtime::brig_binary())
        .args(["spec", "--bundle"])
        .arg(&dir)
        .output()
        .expect("running brig-runtime spec");
    assert!(out.status.success(), "brig-runtime spec: {out:?}");
    let config: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("config.json")).expect("config.json"))
            .expect("JSON");
    assert_eq!(
        config["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO",
        "{config}"
    );
    let mut bundle = Bundle::busybox();
    *bundle.config_mut() = config;
    bundle.terminal(false).sh(script);
    bundle
}

/// With the default spec, the classic ways out fail (seccomp, capabilities,
/// namespaces, masked and read-only paths all play a part).
#[test]
fn default_spec_forbids_the_classic_escapes() {
    require_root!();
    let rt = runtime();
    let script = "grep '^Seccomp:' /proc/self/status; \
        mount -t tmpfs none /tmp 2>/dev/null && echo mount=ok || echo mount=refused; \
        umount /proc 2>/dev/null && echo umount=ok || echo umount=refused; \
        unshare -U true 2>/dev/null && echo userns=ok || echo userns=refused; \
        echo garbage > /dev/shm/m.ko 2>/dev/null; insmod /dev/shm/m.ko 2>/dev/null && echo insmod=ok || echo insmod=refused; \
        (echo h > /proc/sysrq-trigger) 2>/dev/null && echo sysrq=ok || echo sysrq=refused; \
        echo kcore=$(cat /proc/kcore 2>/dev/null | wc -c); echo keys=$(cat /proc/keys 2>/dev/null | wc -c); \
        echo firmware=$(ls -A /sys/firmware 2>/dev/null | wc -l); \
        if [ -x /bin/brig-probe ]; then brig-probe mount umount reboot kexec_load init_module unshare-user ptrace $HOST_PID; fi";
    let mut bundle = default_spec_bundle(&rt, script);
    bundle.add_env(&format!("HOST_PID={}", std::process::id()));
    let probed = probe::install(&bundle);
    if !probed {
        eprintln!("SKIPPED (needs cc -static): the ptrace and kexec_load attempts");
    }
    let out = rt.run(&rt.new_id("escape"), &bundle);
    out.assert_ok();
    let stdout = &out.stdout;
    assert!(stdout.contains("Seccomp:\t2"), "{}", out.describe());
    for refused in ["mount", "umount", "userns", "insmod", "sysrq"] {
        assert!(
            stdout.contains(&format!("{refused}=refused")),
            "{refused}:\n{}",
            out.describe()
        );
    }
    for empty in ["kcore=0", "keys=0", "firmware=0"] {
        assert!(stdout.contains(empty), "{empty}:\n{}", out.describe());
    }
    if probed {
        for attempt in [
            "mount",
            "umount",
            "reboot",
            "kexec_load",
            "init_module",
            "unshare-user",
        ] {
            assert!(
                stdout.contains(&format!("{attempt}: EPERM")),
                "{attempt}:\n{}",
                out.describe()
            );
        }
        // The test process is outside the container's pid namespace: not even visible.
        assert!(
            stdout.contains("ptrace: ESRCH"),
            "ptrace:\n{}",
            out.describe()
        );
    }
}
