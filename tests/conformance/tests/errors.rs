//! Bad input: a clear error (non-zero exit, "error" on stderr, naming what is
//! wrong) and nothing left behind: no state directory, mount, cgroup or
//! process.

mod common;

use brig_testkit::leftovers::assert_nothing_left;
use brig_testkit::{Bundle, Runtime, RuntimeKind, known_gap, require_root, unique_id};
use common::*;

/// `create` of `bundle` must fail with an error mentioning every word of
/// `mentions` (case-insensitive) and leave nothing behind.
#[track_caller]
fn create_fails_cleanly(rt: &Runtime, tag: &str, bundle: &Bundle, mentions: &[&str]) {
    let id = rt.new_id(tag);
    let out = rt.create(&id, bundle);
    out.assert_error();
    let stderr = out.stderr.to_lowercase();
    for word in mentions {
        assert!(
            stderr.contains(&word.to_lowercase()),
            "the error should mention {word:?}:\n{}",
            out.describe()
        );
    }
    assert_nothing_left(rt, &id, bundle);
}

#[test]
fn missing_config_is_named() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle.missing_config();
    create_fails_cleanly(&rt, "noconfig", &bundle, &["config.json"]);
}

#[test]
fn malformed_config_is_named() {
    require_root!();
    let rt = runtime();
    known_gap!(
        rt,
        RuntimeKind::Runc,
        "runc 1.1.5 says only \"unexpected EOF\", without the file name"
    );
    let mut bundle = Bundle::busybox();
    bundle.raw_config("{\"ociVersion\": \"1.0.2\", \"process\": {");
    create_fails_cleanly(&rt, "badjson", &bundle, &["config.json"]);
}

#[test]
fn wrongly_typed_field_is_named() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle.config_mut()["process"]["args"] = serde_json::json!("sh -c true");
    create_fails_cleanly(&rt, "badfield", &bundle, &["args"]);
}

#[test]
fn unsupported_oci_version_is_refused() {
    require_root!();
    let rt = runtime();
    known_gap!(
        rt,
        RuntimeKind::Runc,
        "runc 1.1.5 does not check ociVersion and runs a 2.0.0 bundle"
    );
    let mut bundle = Bundle::busybox();
    bundle.oci_version("2.0.0");
    create_fails_cleanly(&rt, "ociversion", &bundle, &["2.0.0"]);
}

#[test]
fn nonexistent_rootfs_is_refused() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle.config_mut()["root"]["path"] = serde_json::json!("no-such-rootfs");
    create_fails_cleanly(&rt, "norootfs", &bundle, &["no-such-rootfs"]);
}

#[test]
fn unknown_namespace_type_is_refused() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle.add_namespace("bogus", None);
    create_fails_cleanly(&rt, "nsbogus", &bundle, &["bogus"]);
}

#[test]
fn mount_destination_escaping_through_a_symlink_is_refused() {
    require_root!();
    let rt = runtime();
    known_gap!(
        rt,
        RuntimeKind::Runc,
        "runc 1.1.5 resolves the symlink inside the rootfs and mounts there, without an error"
    );
    let outside = brig_testkit::TestDir::new("escape");
    let mut bundle = Bundle::busybox();
    bundle.symlink_in_rootfs(&outside.path().display().to_string(), "/escape");
    bundle.mount("/escape/sub", "tmpfs", "tmpfs", &[]);
    create_fails_cleanly(&rt, "mntescape", &bundle, &["/escape"]);
    assert!(
        std::fs::read_dir(outside.path()).unwrap().next().is_none(),
        "something was created outside the rootfs"
    );
}

#[test]
fn terminal_without_console_socket_is_refused_for_create() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle.terminal(true).args(&["sleep", "1000"]);
    create_fails_cleanly(&rt, "noconsole", &bundle, &["console"]);
}

#[test]
fn duplicate_id_is_refused_and_the_first_container_survives() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle.args(&["sleep", "1000"]);
    let id = rt.new_id("dup");
    rt.create(&id, &bundle).assert_ok();
    let first = rt.state_of(&id);
    let second = rt.create(&id, &bundle);
    second.assert_error();
    if !rt.has_gap(
        RuntimeKind::Runc,
        "runc 1.1.5's duplicate-id error does not name the id",
    ) {
        assert!(
            second.stderr.contains(&id),
            "the error should name the id:\n{}",
            second.describe()
        );
    }
    let after = rt.state_of(&id);
    assert_eq!((after.status.as_str(), after.pid), ("created", first.pid));
}

#[test]
fn unknown_id_is_an_error_for_every_command() {
    require_root!();
    let rt = runtime();
    let id = unique_id("unknown");
    for args in [
        vec!["state", &id],
        vec!["start", &id],
        vec!["kill", &id, "KILL"],
        vec!["delete", &id],
        vec!["ps", &id],
        vec!["exec", &id, "true"],
    ] {
        let out = rt.cmd(&args);
        out.assert_error();
        if !rt.has_gap(
            RuntimeKind::Runc,
            "runc 1.1.5 says \"container does not exist\" without the id",
        ) {
            assert!(
                out.stderr.contains(&id),
                "the error should name the id:\n{}",
                out.describe()
            );
        }
    }
    assert!(
        rt.root_entries().is_empty(),
        "state created for an unknown id: {:?}",
        rt.root_entries()
    );
}

#[test]
fn bad_signal_name_is_refused_and_the_container_keeps_running() {
    require_root!();
    let rt = runtime();
    let (id, _, _) = start_sleeper(&rt, "badsig", |_| {});
    for signal in ["SIGFOO", "FOO", "999", "-1"] {
        let out = rt.kill(&id, signal);
        out.assert_error();
    }
    assert_eq!(rt.state_of(&id).status, "running");
}

#[test]
fn bad_executable_fails_start_or_create_with_its_name() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle.args(&["/no/such/program"]);
    let id = rt.new_id("noexe");
    let out = rt.run(&id, &bundle);
    out.assert_error();
    assert!(
        out.stderr.contains("/no/such/program"),
        "{}",
        out.describe()
    );
    assert_nothing_left(&rt, &id, &bundle);
}

#[test]
fn unknown_flag_is_refused() {
    let rt = runtime();
    let out = rt.cmd(&["list", "--no-such-flag"]);
    out.assert_failed();
}
