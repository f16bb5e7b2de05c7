//! Rootless: the runtime run by an ordinary user (made for the test, with
//! /etc/subuid and /etc/subgid ranges) maps that user to root in the
//! container and its subordinate range to the other ids. Needs root to set
//! up; the runtime itself runs as the user (setpriv).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use brig_testkit::command::Invocation;

use brig_testkit::{Bundle, CmdOutput, Runtime, RuntimeKind, TestDir, require_root};
use common::*;
use serde_json::json;

const SUBID_COUNT: u32 = 65536;
const SUBID_FILES: [&str; 2] = ["/etc/subuid", "/etc/subgid"];

/// A system user with subordinate ids, removed (user and subid lines) on drop.
struct TempUser {
    name: String,
    uid: u32,
    gid: u32,
    subid_start: u32,
}

impl TempUser {
    fn create() -> TempUser {
        let serial = brig_testkit::unique_id("x");
        let n: u32 = serial.rsplit('-').next().unwrap().parse().unwrap();
        let name = format!("brigrl{}x{n}", std::process::id());
        let status = Command::new("useradd")
            .args(["--system", "--user-group", "--no-create-home"])
            .args(["--shell", "/usr/sbin/nologin", &name])
            .status()
            .expect("running useradd");
        assert!(status.success(), "useradd {name} failed");
        let id = |flag: &str| -> u32 {
            let out = Command::new("id").args([flag, &name]).output().unwrap();
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        // Guard first: everything below is undone even if it fails half-way.
        let mut user = TempUser {
            uid: id("-u"),
            gid: id("-g"),
            name,
            subid_start: 0,
        };
        // A range per test process and user, far above system and login ids.
        user.subid_start =
            2_000_000 + (std::process::id() % 1000) * 4 * SUBID_COUNT + n * SUBID_COUNT;
        for file in SUBID_FILES {
            let mut text = fs::read_to_string(file).unwrap_or_default();
            text.push_str(&format!(
                "{}:{}:{SUBID_COUNT}\n",
                user.name, user.subid_start
            ));
            fs::write(file, text).unwrap();
        }
        user
    }

    /// `runtime --root root args...` as this user (no supplementary groups).
    fn invocation(&self, runtime: &Path, root: &Path, args: &[&str]) -> Invocation {
        Invocation::new([
            "setpriv".to_owned(),
            format!("--reuid={}", self.uid),
            format!("--regid={}", self.gid),
            "--clear-groups".to_owned(),
            "--".to_owned(),
            runtime.display().to_string(),
            "--root".to_owned(),
            root.display().to_string(),
        ])
        .args(args.iter().copied())
        .env("XDG_RUNTIME_DIR", "/nonexistent-xdg")
    }
}

impl Drop for TempUser {
    fn drop(&mut self) {
        let prefix = format!("{}:", self.name);
        for file in SUBID_FILES {
            if let Ok(text) = fs::read_to_string(file) {
                let kept: String = text
                    .lines()
                    .filter(|l| !l.starts_with(&prefix))
                    .map(|l| format!("{l}\n"))
                    .collect();
                let _ = fs::write(file, kept);
            }
        }
        let _ = Command::new("userdel").arg(&self.name).status();
    }
}

/// The busybox bundle made rootless the way `runc spec --rootless` does it,
/// with the user mapped to root and its subordinate range to 1..65536.
fn rootless_bundle(user: &TempUser, script: &str) -> Bundle {
    let mut b = Bundle::busybox();
    b.sh(script);
    b.remove_namespace("network").add_namespace("user", None);
    let maps = |own: u32| {
        json!([
            {"containerID": 0, "hostID": own, "size": 1},
            {"containerID": 1, "hostID": user.subid_start, "size": SUBID_COUNT}
        ])
    };
    let config = b.config_mut();
    config["linux"]["uidMappings"] = maps(user.uid);
    config["linux"]["gidMappings"] = maps(user.gid);
    config["linux"]
        .as_object_mut()
        .expect("linux")
        .remove("resources");
    let mounts = config["mounts"].as_array_mut().expect("mounts");
    mounts.retain(|m| m["type"] != "cgroup" && m["type"] != "sysfs");
    mounts.push(
        json!({"destination": "/sys", "type": "none", "source": "/sys",
                       "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}),
    );
    b.write_config();
    // The user must reach the bundle: open up the test's own directories.
    let mut dir = Some(b.path());
    while let Some(d) =
        dir.filter(|d| d.starts_with(std::env::temp_dir()) && *d != std::env::temp_dir())
    {
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
        dir = d.parent();
    }
    b
}

/// The runtime under test, a temporary user and a state root it owns.
fn rootless_setup() -> (Runtime, TempUser, TestDir, PathBuf) {
    let rt = runtime();
    let user = TempUser::create();
    let (state, root) = user_state_root(&user);
    (rt, user, state, root)
}

/// A state root the user owns.
fn user_state_root(user: &TempUser) -> (TestDir, PathBuf) {
    let dir = TestDir::new("rootless-state");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let root = dir.join("root");
    fs::create_dir(&root).unwrap();
    std::os::unix::fs::chown(&root, Some(user.uid), Some(user.gid)).unwrap();
    (dir, root)
}

/// `<runtime> --root <root> run --bundle <bundle> <id>` as `user`; the
/// container is force-deleted afterwards (as the user) whatever happened.
fn run_as(user: &TempUser, rt: &Runtime, root: &Path, bundle: &Bundle, id: &str) -> CmdOutput {
    bundle.write_config();
    let bundle_path = bundle.path().display().to_string();
    let out = user
        .invocation(rt.binary(), root, &["run", "--bundle", &bundle_path, id])
        .run(rt.work_dir());
    user.invocation(rt.binary(), root, &["delete", "--force", id])
        .run(rt.work_dir());
    out
}

#[test]
fn rootless_run_maps_the_user_to_root_and_its_subordinate_ids() {
    require_root!();
    let (rt, user, _state, root) = rootless_setup();
    let bundle = rootless_bundle(&user, "id -u; cat /proc/self/uid_map /proc/self/gid_map");
    let id = rt.new_id("rootless");
    let out = run_as(&user, &rt, &root, &bundle, &id);
    out.assert_ok();
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some("0"), "{}", out.describe());
    let maps: Vec<Vec<u32>> = lines
        .map(|l| l.split_whitespace().map(|n| n.parse().unwrap()).collect())
        .collect();
    let expected = |own: u32| [vec![0, own, 1], vec![1, user.subid_start, SUBID_COUNT]];
    assert_eq!(maps[..2], expected(user.uid), "{}", out.describe());
    assert_eq!(maps[2..], expected(user.gid), "{}", out.describe());
    if rt.kind() == RuntimeKind::Brig {
        // This user may not create cgroups here: said once, and the container runs anyway.
        assert!(
            out.stderr
                .contains("warning: running rootless without a cgroup"),
            "{}",
            out.describe()
        );
    }
}

#[test]
fn rootless_limits_without_a_cgroup_are_refused_clearly() {
    require_root!();
    let (rt, user, _state, root) = rootless_setup();
    let mut bundle = rootless_bundle(&user, "echo ran");
    bundle.config_mut()["linux"]["resources"] = json!({"pids": {"limit": 20}});
    let id = rt.new_id("rootlesslimit");
    let out = run_as(&user, &rt, &root, &bundle, &id);
    if rt.kind() == RuntimeKind::Runc {
        // runc refuses too ("cannot set pids limit: container could not
        // join or create cgroup").
        out.assert_error();
        assert!(out.stderr.contains("pids limit"), "{}", out.describe());
        return;
    }
    out.assert_error();
    assert!(
        out.stderr.contains("linux.resources.pids") && out.stderr.contains("delegate"),
        "{}",
        out.describe()
    );
    assert_eq!(fs::read_dir(&root).unwrap().count(), 0, "state left behind");
}

#[test]
fn rootless_exec_kill_and_delete_work_as_the_user() {
    require_root!();
    let (rt, user, _state, root) = rootless_setup();
    let bundle = rootless_bundle(&user, "exec sleep 1000");
    bundle.write_config();
    let id = rt.new_id("rootlessexec");
    let as_user = |args: &[&str]| user.invocation(rt.binary(), &root, args).run(rt.work_dir());
    let bundle_path = bundle.path().display().to_string();
    let started = as_user(&["run", "--detach", "--bundle", &bundle_path, &id]);
    let exec = as_user(&["exec", &id, "sh", "-c", "id -u; head -1 /proc/self/uid_map"]);
    let kill = as_user(&["kill", &id, "KILL"]);
    let stopped = wait_until(SOON, || as_user(&["state", &id]).stdout.contains("stopped"));
    let delete = as_user(&["delete", &id]);
    as_user(&["delete", "--force", &id]);
    started.assert_ok();
    exec.assert_ok();
    let lines: Vec<Vec<String>> = exec
        .stdout
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect();
    assert_eq!(lines[0], ["0"], "{}", exec.describe());
    assert_eq!(
        lines[1],
        ["0", &user.uid.to_string(), "1"],
        "{}",
        exec.describe()
    );
    kill.assert_ok();
    assert!(stopped, "the container did not stop after kill");
    delete.assert_ok();
    assert_eq!(fs::read_dir(&root).unwrap().count(), 0, "state left behind");
}
