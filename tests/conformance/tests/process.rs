//! What the container process gets from `process` in config.json, and
//! descriptors passed with `--preserve-fds` / LISTEN_FDS.

mod common;

use std::fs;

use brig_testkit::{Bundle, require_root};
use common::*;

/// The value of `Key:` in a /proc/<pid>/status text.
fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

#[test]
fn env_and_cwd_come_from_the_config() {
    require_root!();
    let rt = runtime();
    let out = run_sh(
        &rt,
        "envcwd",
        "pwd; echo \"A=$A\"; echo \"B=$B\"; echo \"PATH=$PATH\"",
        |b| {
            b.env(&["PATH=/bin:/sbin", "A=1", "B=two words"])
                .cwd("/tmp");
        },
    );
    out.assert_ok();
    assert_eq!(out.stdout, "/tmp\nA=1\nB=two words\nPATH=/bin:/sbin\n");
}

#[test]
fn env_holds_nothing_of_the_runtime() {
    require_root!();
    let rt = runtime();
    let out = run_sh(&rt, "envonly", "env", |b| {
        b.env(&["PATH=/bin", "ONLY=this"]);
    });
    out.assert_ok();
    let mut names: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, _)| k)
        .collect();
    names.sort_unstable();
    // HOME is added by runc and crun when the config lacks it; PWD and SHLVL by the shell.
    names.retain(|n| !["HOME", "PWD", "SHLVL"].contains(n));
    assert_eq!(names, ["ONLY", "PATH"], "{}", out.stdout);
}

#[test]
fn cwd_that_does_not_exist_is_created() {
    require_root!();
    let rt = runtime();
    let out = run_sh(&rt, "cwdnew", "pwd", |b| {
        b.readonly_root(false).cwd("/work/deep");
    });
    out.assert_ok();
    assert_eq!(out.stdout, "/work/deep\n");
}

#[test]
fn uid_gid_and_additional_groups() {
    require_root!();
    let rt = runtime();
    let out = run_sh(&rt, "user", "cat /proc/self/status; id -un", |b| {
        b.user(1000, 1000, &[100, 5]);
    });
    out.assert_ok();
    assert_eq!(
        status_field(&out.stdout, "Uid"),
        Some("1000\t1000\t1000\t1000")
    );
    assert_eq!(
        status_field(&out.stdout, "Gid"),
        Some("1000\t1000\t1000\t1000")
    );
    let mut groups: Vec<&str> = status_field(&out.stdout, "Groups")
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    groups.sort_unstable();
    assert_eq!(groups, ["100", "5"]);
    assert!(out.stdout.ends_with("user\n"), "{}", out.stdout);
}

#[test]
fn root_user_has_no_supplementary_groups_by_default() {
    require_root!();
    let rt = runtime();
    let out = run_sh(&rt, "rootuser", "cat /proc/self/status", |_| {});
    out.assert_ok();
    assert_eq!(status_field(&out.stdout, "Uid"), Some("0\t0\t0\t0"));
    assert_eq!(status_field(&out.stdout, "Groups"), Some(""));
}

#[test]
fn rlimits_are_applied() {
    require_root!();
    let rt = runtime();
    let out = run_sh(&rt, "rlimit", "cat /proc/self/limits; ulimit -n", |b| {
        b.rlimit("RLIMIT_NOFILE", 100, 200)
            .rlimit("RLIMIT_CORE", 0, 0)
            .rlimit("RLIMIT_NPROC", 500, 600);
    });
    out.assert_ok();
    let limit = |name: &str| -> Vec<String> {
        let line = out
            .stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default();
        line[name.len()..]
            .split_whitespace()
            .take(2)
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(limit("Max open files"), ["100", "200"]);
    assert_eq!(limit("Max core file size"), ["0", "0"]);
    assert_eq!(limit("Max processes"), ["500", "600"]);
    assert!(out.stdout.ends_with("100\n"), "ulimit -n: {}", out.stdout);
}

#[test]
fn umask_is_applied() {
    require_root!();
    let rt = runtime();
    let out = run_sh(&rt, "umask", "umask", |b| {
        b.umask(0o027);
    });
    out.assert_ok();
    assert_eq!(out.stdout.trim(), "0027");
}

#[test]
fn oom_score_adj_is_applied() {
    require_root!();
    let rt = runtime();
    let out = run_sh(&rt, "oomscore", "cat /proc/self/oom_score_adj", |b| {
        b.config_mut()["process"]["oomScoreAdj"] = serde_json::json!(123);
    });
    out.assert_ok();
    assert_eq!(out.stdout.trim(), "123");
}

#[test]
fn no_new_privileges_and_default_capabilities() {
    require_root!();
    let rt = runtime();
    let out = run_sh(&rt, "caps", "cat /proc/self/status", |_| {});
    out.assert_ok();
    assert_eq!(status_field(&out.stdout, "NoNewPrivs"), Some("1"));
    // CAP_KILL (5), CAP_NET_BIND_SERVICE (10), CAP_AUDIT_WRITE (29): runc spec's set.
    let caps = "0000000020000420";
    for set in ["CapPrm", "CapEff", "CapBnd"] {
        assert_eq!(status_field(&out.stdout, set), Some(caps), "{set}");
    }
}

#[test]
fn stdio_is_inherited_without_terminal() {
    require_root!();
    let rt = runtime();
    let out = run_sh(
        &rt,
        "stdio",
        "echo out; echo err >&2; test -t 1 || echo notatty",
        |_| {},
    );
    out.assert_ok();
    assert_eq!(out.stdout, "out\nnotatty\n");
    assert!(out.stderr.contains("err\n"), "{}", out.describe());
}

#[test]
fn preserve_fds_passes_descriptors() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle.sh("echo three >&3; echo four >&4; ls /proc/self/fd > /dev/null; test -e /proc/self/fd/5 || echo no5; echo LISTEN_FDS=$LISTEN_FDS");
    let files = [rt.work_dir().join("fd3"), rt.work_dir().join("fd4")];
    for f in &files {
        fs::write(f, "").unwrap();
    }
    let id = rt.new_id("preserve");
    let out = rt.run_invocation(
        &rt.bundle_command("run", &id, &bundle, &["--preserve-fds", "2"])
            .extra_fds(&files),
    );
    out.assert_ok();
    assert_eq!(fs::read_to_string(&files[0]).unwrap(), "three\n");
    assert_eq!(fs::read_to_string(&files[1]).unwrap(), "four\n");
    assert!(out.stdout.contains("no5"), "{}", out.describe());
}

#[test]
fn runtime_descriptors_do_not_leak_into_the_container() {
    require_root!();
    let rt = runtime();
    let out = run_sh(&rt, "fdleak", "ls /proc/self/fd", |_| {});
    out.assert_ok();
    // ls itself holds one descriptor for the directory it reads (3).
    let mut fds: Vec<u32> = out
        .stdout
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    fds.sort_unstable();
    assert_eq!(fds, [0, 1, 2, 3], "{}", out.stdout);
}

#[test]
fn listen_fds_are_passed_with_socket_activation_variables() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle.sh("echo activated >&3; echo \"$LISTEN_FDS $LISTEN_PID\"");
    let file = rt.work_dir().join("listen");
    fs::write(&file, "").unwrap();
    let id = rt.new_id("listenfds");
    let inv = rt
        .bundle_command("run", &id, &bundle, &[])
        .extra_fds(std::slice::from_ref(&file))
        .listen_fds();
    let out = rt.run_invocation(&inv);
    out.assert_ok();
    assert_eq!(fs::read_to_string(&file).unwrap(), "activated\n");
    assert_eq!(out.stdout, "1 1\n");
}
