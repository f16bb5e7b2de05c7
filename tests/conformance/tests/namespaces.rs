//! Namespaces from `linux.namespaces`: new ones, joined ones, shared ones.

mod common;

use brig_testkit::{RuntimeKind, known_gap, require_root};
use common::*;

#[test]
fn process_is_pid_1_in_its_own_pid_namespace() {
    require_root!();
    let rt = runtime();
    let out = run_sh(
        &rt,
        "pid1",
        "echo $$; ls /proc | grep -E '^[0-9]+$' | wc -l",
        |_| {},
    );
    out.assert_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"1"), "{}", out.stdout);
    // sh, ls, grep, wc: nothing of the host is visible.
    let visible: u32 = lines
        .get(1)
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(99);
    assert!(visible <= 4, "{visible} processes visible: {}", out.stdout);
}

#[test]
fn hostname_is_set_in_a_new_uts_namespace() {
    require_root!();
    let rt = runtime();
    let host_before = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let out = run_sh(&rt, "uts", "hostname", |b| {
        b.hostname(Some("brig-box"));
    });
    out.assert_ok();
    assert_eq!(out.stdout, "brig-box\n");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default(),
        host_before
    );
}

#[test]
fn domainname_is_set_in_a_new_uts_namespace() {
    require_root!();
    let rt = runtime();
    known_gap!(
        rt,
        RuntimeKind::Runc,
        "runc 1.1.5 ignores `domainname` (added in runc 1.2)"
    );
    let out = run_sh(&rt, "domain", "cat /proc/sys/kernel/domainname", |b| {
        b.config_mut()["domainname"] = serde_json::json!("brig.example");
    });
    out.assert_ok();
    assert_eq!(out.stdout, "brig.example\n");
}

#[test]
fn new_namespaces_differ_from_the_host_and_absent_ones_are_shared() {
    require_root!();
    let rt = runtime();
    let (id, _, _) = start_sleeper(&rt, "nsdiff", |b| {
        b.remove_namespace("ipc");
    });
    let pid = rt.state_of(&id).pid.expect("pid").to_string();
    for kind in ["pid", "net", "uts", "mnt"] {
        assert_ne!(
            ns_link(&pid, kind),
            ns_link("self", kind),
            "{kind} namespace is the host's"
        );
    }
    assert_eq!(
        ns_link(&pid, "ipc"),
        ns_link("self", "ipc"),
        "ipc namespace should be shared"
    );
}

#[test]
fn network_namespace_has_only_loopback() {
    require_root!();
    let rt = runtime();
    let out = run_sh(&rt, "netns", "ls /sys/class/net", |_| {});
    out.assert_ok();
    assert_eq!(out.stdout.split_whitespace().collect::<Vec<_>>(), ["lo"]);
}

#[test]
fn namespace_is_joined_by_path() {
    require_root!();
    let rt = runtime();
    let (first, _, _) = start_sleeper(&rt, "nsowner", |b| {
        b.hostname(Some("shared-uts"));
    });
    let pid = rt.state_of(&first).pid.expect("pid");
    let out = run_sh(
        &rt,
        "nsjoin",
        "hostname; readlink /proc/self/ns/uts; readlink /proc/self/ns/net",
        |b| {
            b.hostname(None)
                .add_namespace("uts", Some(&format!("/proc/{pid}/ns/uts")))
                .add_namespace("network", Some(&format!("/proc/{pid}/ns/net")));
        },
    );
    out.assert_ok();
    let expected = format!(
        "shared-uts\n{}\n{}\n",
        ns_link(&pid.to_string(), "uts"),
        ns_link(&pid.to_string(), "net")
    );
    assert_eq!(out.stdout, expected);
}

#[test]
fn ipc_namespace_is_private() {
    require_root!();
    let rt = runtime();
    let out = run_sh(&rt, "ipc", "readlink /proc/self/ns/ipc", |_| {});
    out.assert_ok();
    assert_ne!(out.stdout.trim(), ns_link("self", "ipc"));
}

#[test]
fn cgroup_namespace_hides_the_host_cgroup_paths() {
    require_root!();
    let rt = runtime();
    let out = run_sh(&rt, "cgroupns", "cat /proc/self/cgroup", |b| {
        b.add_namespace("cgroup", None);
    });
    out.assert_ok();
    for line in out.stdout.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap_or_default();
        assert_eq!(
            path, "/",
            "cgroup path visible through the namespace: {line}"
        );
    }
}

#[test]
fn time_namespace_is_created() {
    require_root!();
    let rt = runtime();
    known_gap!(
        rt,
        RuntimeKind::Runc,
        "runc 1.1.5 does not know the time namespace (added in runc 1.2)"
    );
    let out = run_sh(&rt, "timens", "readlink /proc/self/ns/time", |b| {
        b.add_namespace("time", None);
    });
    out.assert_ok();
    assert!(out.stdout.starts_with("time:["), "{}", out.describe());
    assert_ne!(out.stdout.trim(), ns_link("self", "time"));
}

#[test]
fn without_a_uts_namespace_hostname_is_refused() {
    require_root!();
    let rt = runtime();
    let out = run_sh(&rt, "noutshost", "hostname", |b| {
        b.remove_namespace("uts").hostname(Some("not-allowed"));
    });
    out.assert_error();
}
