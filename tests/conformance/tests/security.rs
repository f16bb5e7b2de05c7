//! Defense in depth, observed from inside the container: seccomp
//! (`linux.seccomp`), LSM labels, scheduling attributes and capabilities.
//! The escape-proofing regression tests are in `escape.rs`.

mod common;

use brig_testkit::leftovers::assert_nothing_left;
use brig_testkit::seccomp_agent::{SeccompAgent, describe_fd};
use brig_testkit::{Bundle, Runtime, RuntimeKind, known_gap, require_root};
use common::*;
use serde_json::{Value, json};

/// The value of `Key:` in a /proc/<pid>/status text.
fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

fn set_seccomp(bundle: &mut Bundle, profile: Value) {
    bundle.config_mut()["linux"]["seccomp"] = profile;
}

/// `profile` allowing everything but `rules`.
fn allow_but(rules: Value) -> Value {
    json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules})
}

/// Exit status of a process killed by SIGSYS, as `run` reports it.
const KILLED_BY_SIGSYS: i32 = 128 + 31;
const EOPNOTSUPP: u32 = 95;

#[test]
fn seccomp_filter_is_installed_and_errno_ret_is_returned() {
    require_root!();
    let rt = runtime();
    let script = "grep '^Seccomp:' /proc/self/status; mkdir /tmp/x 2>&1; echo mkdir=$?; \
                  rmdir /tmp 2>&1; echo rmdir=$?; echo still running";
    let out = run_sh(&rt, "scerrno", script, |b| {
        b.readonly_root(false);
        set_seccomp(
            b,
            allow_but(json!([
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": EOPNOTSUPP},
                {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"},
            ])),
        );
    });
    out.assert_ok();
    assert_eq!(
        status_field(&out.stdout, "Seccomp"),
        Some("2"),
        "{}",
        out.stdout
    );
    // errnoRet is the errno; without it, EPERM.
    assert!(
        out.stdout.contains("Operation not supported\nmkdir=1"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Operation not permitted\nrmdir=1"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.ends_with("still running\n"), "{}", out.stdout);
}

#[test]
fn argument_conditions_allow_one_value_and_deny_another() {
    require_root!();
    let rt = runtime();
    // kill(pid, SIGUSR1) is refused; kill(pid, 0) and kill(pid, SIGUSR2) are not.
    let script = "trap 'echo got USR2' USR2; kill -0 $$ && echo zero-allowed; \
                  kill -USR1 $$ 2>&1 || echo usr1-denied; kill -USR2 $$; echo done";
    let out = run_sh(&rt, "scargs", script, |b| {
        set_seccomp(
            b,
            allow_but(json!([{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}]},
                // A 64-bit comparison that never holds for a signal number.
                {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 1, "value": 0x1_0000_0000_u64, "op": "SCMP_CMP_GE"}]}])),
        );
    });
    out.assert_ok();
    for line in [
        "zero-allowed",
        "Operation not permitted",
        "usr1-denied",
        "got USR2",
        "done",
    ] {
        assert!(
            out.stdout.contains(line),
            "{line} missing:\n{}",
            out.describe()
        );
    }
}

#[test]
fn kill_process_and_trap_end_the_program_with_sigsys() {
    require_root!();
    let rt = runtime();
    for action in ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_TRAP"] {
        let mut bundle = Bundle::busybox();
        bundle.readonly_root(false).args(&["mkdir", "/tmp/x"]);
        set_seccomp(
            &mut bundle,
            allow_but(json!([{"names": ["mkdir", "mkdirat"], "action": action}])),
        );
        let out = rt.run(&rt.new_id("sckill"), &bundle);
        assert_eq!(
            out.code,
            Some(KILLED_BY_SIGSYS),
            "{action}:\n{}",
            out.describe()
        );
        assert!(
            !bundle.rootfs().join("tmp/x").exists(),
            "{action}: mkdir ran"
        );
    }
    // SCMP_ACT_LOG lets the call through.
    let out = run_sh(&rt, "sclog", "mkdir /tmp/x && echo made", |b| {
        b.readonly_root(false);
        set_seccomp(
            b,
            allow_but(json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_LOG"}])),
        );
    });
    out.assert_ok();
    assert_eq!(out.stdout, "made\n");
}

#[test]
fn notify_sends_the_listener_and_the_state_to_the_agent() {
    require_root!();
    let rt = runtime();
    let agent = SeccompAgent::bind(&rt.work_dir().join("agent.sock")).expect("binding the agent");
    let mut bundle = Bundle::busybox();
    bundle
        .readonly_root(false)
        .sh("mkdir /tmp/x 2>&1; echo mkdir=$?");
    set_seccomp(
        &mut bundle,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": agent.path(),
            "listenerMetadata": "brig-test",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}),
    );
    let id = rt.new_id("scnotify");
    let (out, delivery) = std::thread::scope(|s| {
        let agent = s.spawn(|| {
            let delivery = agent.receive(SOON);
            // Closing the listener answers the pending mkdir with ENOSYS.
            delivery.map(|d| (d.state, d.fds.iter().map(describe_fd).collect::<Vec<_>>()))
        });
        let out = rt.run(&id, &bundle);
        (out, agent.join().expect("agent thread"))
    });
    let (state, fds) = delivery.expect("the runtime sent nothing to listenerPath");
    assert_eq!(fds, ["anon_inode:seccomp notify"], "{state}");
    assert_eq!(state["fds"], json!(["seccompFd"]), "{state}");
    assert_eq!(state["metadata"], "brig-test", "{state}");
    assert!(state["pid"].as_i64().is_some_and(|p| p > 0), "{state}");
    assert_eq!(state["state"]["id"], id.as_str(), "{state}");
    assert!(state["ociVersion"].is_string(), "{state}");
    out.assert_ok();
    assert!(
        out.stdout.contains("Function not implemented\nmkdir=1"),
        "{}",
        out.describe()
    );
}

#[test]
fn syscall_names_the_kernel_does_not_know_are_skipped() {
    require_root!();
    let rt = runtime();
    let out = run_sh(&rt, "scunknown", "mkdir /tmp/x 2>&1; echo mkdir=$?", |b| {
        b.readonly_root(false);
        set_seccomp(
            b,
            allow_but(
                json!([{"names": ["brig_no_such_syscall", "mkdir", "mkdirat"],
                "action": "SCMP_ACT_ERRNO"}]),
            ),
        );
    });
    out.assert_ok();
    assert!(out.stdout.contains("mkdir=1"), "{}", out.describe());
}

#[test]
fn exec_processes_get_the_filter_too() {
    require_root!();
    let rt = runtime();
    let (id, _bundle, _ctl) = start_sleeper(&rt, "scexec", |b| {
        b.readonly_root(false);
        set_seccomp(
            b,
            allow_but(json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}])),
        );
    });
    let out = rt.exec(
        &id,
        &[
            "sh",
            "-c",
            "grep '^Seccomp:' /proc/self/status; mkdir /tmp/y 2>&1; echo mkdir=$?",
        ],
    );
    out.assert_ok();
    assert_eq!(
        status_field(&out.stdout, "Seccomp"),
        Some("2"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Operation not permitted\nmkdir=1"),
        "{}",
        out.stdout
    );
}

/// `create` must fail, leave nothing, and (brig-runtime) name `field`.
#[track_caller]
fn refused(rt: &Runtime, tag: &str, bundle: &Bundle, field: &str) {
    let id = rt.new_id(tag);
    let out = rt.create(&id, bundle);
    out.assert_error();
    if !rt.has_gap(
        RuntimeKind::Runc,
        "runc's errors do not name the config field",
    ) {
        assert!(
            out.stderr.contains(field),
            "the error should name {field}:\n{}",
            out.describe()
        );
    }
    assert_nothing_left(rt, &id, bundle);
}

#[test]
fn malformed_seccomp_profiles_are_refused_naming_the_field() {
    require_root!();
    let rt = runtime();
    let cases = [
        (
            json!([{"names": ["mkdir"], "action": "SCMP_ACT_BOGUS"}]),
            "linux.seccomp.syscalls[0].action",
        ),
        (
            json!([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SOMETIMES"}]}]),
            "linux.seccomp.syscalls[0].args[0].op",
        ),
        (
            json!([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]),
            "linux.seccomp.syscalls[0].args[0].index",
        ),
        (
            json!([{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]),
            "linux.seccomp.listenerPath",
        ),
    ];
    for (rules, field) in cases {
        let mut bundle = Bundle::busybox();
        set_seccomp(&mut bundle, allow_but(rules));
        refused(&rt, "scbad", &bundle, field);
    }
}

#[test]
fn errno_ret_on_an_action_without_errno_is_refused() {
    require_root!();
    let rt = runtime();
    known_gap!(
        rt,
        RuntimeKind::Runc,
        "runc 1.1.5 ignores errnoRet on SCMP_ACT_KILL"
    );
    let mut bundle = Bundle::busybox();
    set_seccomp(
        &mut bundle,
        allow_but(json!([{"names": ["mkdir"], "action": "SCMP_ACT_KILL", "errnoRet": 1}])),
    );
    refused(
        &rt,
        "scerrnoret",
        &bundle,
        "linux.seccomp.syscalls[0].errnoRet",
    );
}

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'))
}

#[test]
fn apparmor_profile_on_a_host_without_apparmor_is_refused() {
    require_root!();
    if apparmor_enabled() {
        eprintln!("SKIPPED (AppArmor is enabled here; vm/scenarios/brig-apparmor.sh covers it)");
        return;
    }
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle.config_mut()["process"]["apparmorProfile"] = json!("brig-test-profile");
    let id = rt.new_id("aaoff");
    let out = rt.run(&id, &bundle);
    out.assert_error();
    if !rt.has_gap(RuntimeKind::Runc, "runc fails only at exec, with EINVAL") {
        assert!(
            out.stderr.contains("process.apparmorProfile")
                && out.stderr.contains("AppArmor is not enabled"),
            "{}",
            out.describe()
        );
    }
    assert_nothing_left(&rt, &id, &bundle);
}

#[test]
fn selinux_labels_are_ignored_with_a_warning_without_selinux() {
    require_root!();
    if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        eprintln!("SKIPPED (SELinux is enabled here)");
        return;
    }
    let rt = runtime();
    known_gap!(
        rt,
        RuntimeKind::Runc,
        "runc refuses selinuxLabel without SELinux; brig warns and runs, as issue 4 asks"
    );
    let out = run_sh(&rt, "selinux", "echo ran", |b| {
        b.config_mut()["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0:c1,c2");
        b.config_mut()["linux"]["mountLabel"] =
            json!("system_u:object_r:container_file_t:s0:c1,c2");
    });
    out.assert_ok();
    assert_eq!(out.stdout, "ran\n");
    if !rt.has_gap(RuntimeKind::Runc, "runc ignores the labels silently") {
        assert!(
            out.stderr.contains("SELinux is not enabled"),
            "{}",
            out.describe()
        );
        // One warning for both labels, naming both fields.
        let warnings: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.contains("warning"))
            .collect();
        assert_eq!(warnings.len(), 1, "{}", out.describe());
        assert!(
            warnings[0].contains("process.selinuxLabel and linux.mountLabel"),
            "{}",
            warnings[0]
        );
    }
}

#[test]
fn scheduler_io_priority_and_personality_are_applied() {
    require_root!();
    let rt = runtime();
    known_gap!(
        rt,
        RuntimeKind::Runc,
        "runc 1.1.5 predates process.scheduler, ioPriority and linux.personality"
    );
    // /proc/self/stat field 19 is the nice value, 41 the policy (3 = SCHED_BATCH).
    let script = "cut -d' ' -f19,41 /proc/self/stat; uname -m; ionice -p $$";
    let out = run_sh(&rt, "sched", script, |b| {
        let c = b.config_mut();
        c["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
        c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
        c["linux"]["personality"] = json!({"domain": "LINUX32"});
    });
    out.assert_ok();
    assert_eq!(out.stdout, "7 3\ni686\nidle\n", "{}", out.describe());

    let mut bundle = Bundle::busybox();
    bundle.config_mut()["process"]["scheduler"] = json!({"policy": "SCHED_FIFO", "priority": 0});
    refused(&rt, "schedbad", &bundle, "process.scheduler.priority");
}

/// Capability sets as /proc/self/status prints them.
fn mask(caps: &[u32]) -> String {
    format!("{:016x}", caps.iter().fold(0u64, |m, &c| m | 1 << c))
}

const CHOWN: u32 = 0;
const KILL: u32 = 5;
const NET_BIND_SERVICE: u32 = 10;
const NET_RAW: u32 = 13;
const SYS_ADMIN: u32 = 21;

fn cap_names(caps: &[u32]) -> Value {
    let name = |c: u32| match c {
        CHOWN => "CAP_CHOWN",
        KILL => "CAP_KILL",
        NET_BIND_SERVICE => "CAP_NET_BIND_SERVICE",
        NET_RAW => "CAP_NET_RAW",
        SYS_ADMIN => "CAP_SYS_ADMIN",
        _ => unreachable!("add {c} to cap_names"),
    };
    json!(caps.iter().map(|&c| name(c)).collect::<Vec<_>>())
}

/// Runs as `uid` with the five sets; returns the Cap* lines the program sees.
fn capabilities_seen(rt: &Runtime, uid: u32, sets: [&[u32]; 5]) -> String {
    let out = run_sh(rt, "caps", "grep '^Cap' /proc/self/status", |b| {
        b.user(uid, uid, &[]);
        let [bounding, effective, permitted, inheritable, ambient] = sets;
        b.config_mut()["process"]["capabilities"] = json!({
            "bounding": cap_names(bounding), "effective": cap_names(effective),
            "permitted": cap_names(permitted), "inheritable": cap_names(inheritable),
            "ambient": cap_names(ambient)});
    });
    out.assert_ok();
    out.stdout
}

#[test]
fn capability_sets_are_exactly_the_configured_ones() {
    require_root!();
    let rt = runtime();
    // Root keeps bounding = permitted = effective across exec; inheritable and ambient as given.
    let full: &[u32] = &[CHOWN, KILL, NET_RAW, SYS_ADMIN];
    let seen = capabilities_seen(&rt, 0, [full, full, full, &[KILL], &[KILL]]);
    for (set, want) in [
        ("CapBnd", full),
        ("CapEff", full),
        ("CapPrm", full),
        ("CapInh", &[KILL]),
        ("CapAmb", &[KILL]),
    ] {
        assert_eq!(
            status_field(&seen, set),
            Some(mask(want).as_str()),
            "{set}:\n{seen}"
        );
    }
    // Another user keeps exactly its ambient capabilities as permitted and effective.
    let ambient: &[u32] = &[KILL, NET_BIND_SERVICE];
    let bounding: &[u32] = &[CHOWN, KILL, NET_BIND_SERVICE];
    let seen = capabilities_seen(&rt, 1000, [bounding, ambient, ambient, ambient, ambient]);
    for (set, want) in [
        ("CapBnd", bounding),
        ("CapEff", ambient),
        ("CapPrm", ambient),
        ("CapInh", ambient),
        ("CapAmb", ambient),
    ] {
        assert_eq!(
            status_field(&seen, set),
            Some(mask(want).as_str()),
            "{set}:\n{seen}"
        );
    }
    // Without ambient capabilities another user has none at all.
    let seen = capabilities_seen(&rt, 1000, [bounding, bounding, bounding, &[], &[]]);
    for set in ["CapEff", "CapPrm", "CapInh", "CapAmb"] {
        assert_eq!(
            status_field(&seen, set),
            Some(mask(&[]).as_str()),
            "{set}:\n{seen}"
        );
    }
    assert_eq!(
        status_field(&seen, "CapBnd"),
        Some(mask(bounding).as_str()),
        "{seen}"
    );
}

#[test]
fn unknown_capability_names_are_refused() {
    require_root!();
    let rt = runtime();
    known_gap!(
        rt,
        RuntimeKind::Runc,
        "runc 1.1.5 ignores unknown capabilities with a warning"
    );
    let mut bundle = Bundle::busybox();
    bundle.config_mut()["process"]["capabilities"]["bounding"] = json!(["CAP_KILL", "CAP_BOGUS"]);
    refused(&rt, "capbad", &bundle, "process.capabilities.bounding");
    let out = rt.run(&rt.new_id("capbad"), &bundle);
    assert!(out.stderr.contains("CAP_BOGUS"), "{}", out.describe());
}

/// The same capability and seccomp configurations through runc: the
/// program sees the same sets and the same refusals.
#[test]
fn differential_capabilities_and_seccomp() {
    require_root!();
    let caps = |b: &[u32], e: &[u32], p: &[u32], i: &[u32], a: &[u32]| {
        json!({"bounding": cap_names(b), "effective": cap_names(e), "permitted": cap_names(p),
               "inheritable": cap_names(i), "ambient": cap_names(a)})
    };
    let configs = [
        (
            0,
            caps(&[KILL, NET_RAW], &[KILL], &[KILL, NET_RAW], &[], &[]),
        ),
        (
            1000,
            caps(&[KILL, CHOWN], &[KILL], &[KILL], &[KILL], &[KILL, CHOWN]),
        ),
        (1000, caps(&[KILL], &[], &[KILL], &[KILL], &[])),
        (0, caps(&[], &[], &[], &[], &[])),
    ];
    let keep_caps = |text: &str| {
        brig_testkit::differential::sorted_lines(text, |l| l.starts_with("Cap") || l.contains('='))
    };
    let script = "trap '' USR1; grep '^Cap' /proc/self/status; kill -USR1 $$ 2>/dev/null; \
                  echo usr1=$?; mkdir /tmp/d 2>/dev/null; echo mkdir=$?";
    for (i, (uid, sets)) in configs.into_iter().enumerate() {
        let mut bundle = Bundle::busybox();
        bundle.readonly_root(false).user(uid, uid, &[]).sh(script);
        bundle.config_mut()["process"]["capabilities"] = sets;
        bundle.config_mut()["process"]["noNewPrivileges"] = json!(i % 2 == 0);
        set_seccomp(
            &mut bundle,
            allow_but(
                json!([{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}]},
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28}]),
            ),
        );
        if let Some(seen) = brig_testkit::differential::assert_same("diffcaps", &bundle, &keep_caps)
        {
            assert!(
                seen.stdout.contains("mkdir=1") && seen.stdout.contains("usr1=1"),
                "{seen:?}"
            );
            assert!(seen.stdout.contains("CapBnd"), "{seen:?}");
        }
    }
}
