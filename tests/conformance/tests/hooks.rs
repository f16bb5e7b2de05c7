//! OCI hooks: order, the state on stdin, args/env, failures and timeouts.

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use brig_testkit::runtime::strict;
use brig_testkit::{Bundle, HookKind, RuntimeKind, State, leftovers, require_root};
use common::*;

/// Adds a hook of `kind` that saves its stdin as `<kind>.json` and appends
/// its name to `order`. startContainer runs inside the container (after
/// pivot_root), where the control directory is `/ctl`; every other hook sees
/// the host's paths.
fn recording_hook(bundle: &mut Bundle, kind: HookKind, host_dir: &Path) {
    let dir = if kind == HookKind::StartContainer {
        "/ctl".to_owned()
    } else {
        host_dir.display().to_string()
    };
    let script = format!(
        "cat > {dir}/{name}.json; echo {name} >> {dir}/order",
        name = kind.name()
    );
    bundle.hook(kind, "/bin/sh", &["sh", "-c", &script], None);
}

fn order(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join("order"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn hooks_run_in_order_with_the_state_on_stdin() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    let ctl = control_dir(&rt, &mut bundle);
    bundle.sh("touch /ctl/ready; exec sleep 1000");
    for kind in HookKind::ALL {
        recording_hook(&mut bundle, kind, &ctl);
    }
    let id = rt.new_id("hooks");
    rt.create(&id, &bundle).assert_ok();
    let runc_order = rt.kind() == RuntimeKind::Runc && !strict();
    if runc_order {
        eprintln!(
            "KNOWN GAP (runc): runc 1.1.5 runs poststart hooks at create, not after start (fixed in runc 1.2)"
        );
        assert_eq!(
            order(&ctl),
            ["prestart", "createRuntime", "createContainer", "poststart"]
        );
    } else {
        assert_eq!(
            order(&ctl),
            ["prestart", "createRuntime", "createContainer"]
        );
    }
    rt.start(&id).assert_ok();
    assert!(wait_for_file(&ctl.join("ready"), SOON));
    assert!(
        wait_until(SOON, || order(&ctl).len() >= 5),
        "poststart did not run: {:?}",
        order(&ctl)
    );
    if !runc_order {
        assert_eq!(order(&ctl)[3..], ["startContainer", "poststart"]);
    }
    rt.delete_force(&id).assert_ok();
    assert!(
        wait_until(SOON, || order(&ctl).len() >= 6),
        "poststop did not run: {:?}",
        order(&ctl)
    );
    assert_eq!(order(&ctl)[5..], ["poststop"]);

    let bundle_path = fs::canonicalize(bundle.path()).unwrap();
    for kind in HookKind::ALL {
        let text =
            fs::read_to_string(ctl.join(format!("{}.json", kind.name()))).unwrap_or_default();
        let state =
            State::parse(&text).unwrap_or_else(|e| panic!("{} hook stdin: {e}", kind.name()));
        assert_eq!(state.id, id, "{} hook", kind.name());
        assert_eq!(
            fs::canonicalize(&state.bundle).ok().as_ref(),
            Some(&bundle_path),
            "{} hook",
            kind.name()
        );
        assert!(
            state.oci_version.starts_with("1."),
            "{} hook: {}",
            kind.name(),
            state.oci_version
        );
        if kind != HookKind::Poststop {
            assert!(
                state.pid.is_some_and(|p| p > 0),
                "{} hook got no pid: {text}",
                kind.name()
            );
        }
    }
}

#[test]
fn hooks_get_their_args_and_env() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    let ctl = control_dir(&rt, &mut bundle);
    let script = format!("echo \"$0 $1 $HOOK_VAR\" > {}/out", ctl.display());
    bundle.hook(
        HookKind::CreateRuntime,
        "/bin/sh",
        &["sh", "-c", &script, "argzero", "argone"],
        None,
    );
    bundle.config_mut()["hooks"]["createRuntime"][0]["env"] =
        serde_json::json!(["HOOK_VAR=from-env"]);
    let id = rt.new_id("hookargs");
    rt.run(&id, &bundle).assert_ok();
    assert_eq!(
        fs::read_to_string(ctl.join("out")).unwrap_or_default(),
        "argzero argone from-env\n"
    );
}

#[test]
fn failing_prestart_hook_fails_create_and_leaves_nothing() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle.args(&["sleep", "1000"]).hook(
        HookKind::Prestart,
        "/bin/sh",
        &["sh", "-c", "exit 3"],
        None,
    );
    let id = rt.new_id("hookfail");
    rt.create(&id, &bundle).assert_error();
    leftovers::assert_nothing_left(&rt, &id, &bundle);
}

#[test]
fn failing_create_runtime_hook_fails_create_and_leaves_nothing() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle
        .args(&["sleep", "1000"])
        .hook(HookKind::CreateRuntime, "/bin/false", &["false"], None);
    let id = rt.new_id("crfail");
    rt.create(&id, &bundle).assert_error();
    leftovers::assert_nothing_left(&rt, &id, &bundle);
}

#[test]
fn hook_timeout_fails_the_operation() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle.args(&["sleep", "1000"]).hook(
        HookKind::CreateRuntime,
        "/bin/sleep",
        &["sleep", "30"],
        Some(1),
    );
    let id = rt.new_id("hooktimeout");
    let started = Instant::now();
    rt.create(&id, &bundle).assert_error();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the 1 s timeout was not enforced"
    );
    leftovers::assert_nothing_left(&rt, &id, &bundle);
}

#[test]
fn poststop_runs_after_a_foreground_run() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    let ctl = control_dir(&rt, &mut bundle);
    recording_hook(&mut bundle, HookKind::Poststop, &ctl);
    let id = rt.new_id("poststoprun");
    rt.run(&id, &bundle).assert_ok();
    assert_eq!(order(&ctl), ["poststop"]);
}
