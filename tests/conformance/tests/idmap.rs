//! Idmapped bind mounts (`mounts[].uidMappings`/`gidMappings`, `idmap`):
//! a directory owned by host root used by a container whose root is host
//! uid 100000, without any chown.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use brig_testkit::leftovers::assert_nothing_left;
use brig_testkit::{Bundle, Runtime, RuntimeKind, TestDir, require_root};
use common::*;
use serde_json::{Value, json};

const HOST_ROOT_OF_CONTAINER: u32 = 100_000;

fn mapping() -> Value {
    json!([{"containerID": 0, "hostID": HOST_ROOT_OF_CONTAINER, "size": 65536}])
}

/// The container gets its own user namespace, root = host uid 100000.
fn in_user_namespace(b: &mut Bundle) {
    b.add_namespace("user", None);
    b.config_mut()["linux"]["uidMappings"] = mapping();
    b.config_mut()["linux"]["gidMappings"] = mapping();
    // Made by host root: the container's root may not create it in the image.
    b.mkdir_in_rootfs("data");
}

/// An idmapped bind of `source` on /data with the container's mappings.
fn idmapped_bind(b: &mut Bundle, source: &Path, options: &[&str]) {
    b.bind(source, "/data", options);
    let mounts = b.config_mut()["mounts"].as_array_mut().expect("mounts");
    let last = mounts.last_mut().expect("the bind just added");
    last["uidMappings"] = mapping();
    last["gidMappings"] = mapping();
}

/// False (after a loud line) when the runtime cannot do idmapped mounts at
/// all: runc before 1.2 (Debian 12 has 1.1.5) ignores or refuses them.
fn runtime_has_idmapped_mounts(rt: &Runtime, test: &str) -> bool {
    if rt.kind() != RuntimeKind::Runc {
        return true;
    }
    let version = rt.cmd(&["--version"]).stdout;
    let first = version.lines().next().unwrap_or_default().to_owned();
    let minor: Option<(u32, u32)> = first.split_whitespace().nth(2).and_then(|v| {
        let mut parts = v.split(['.', '+', '-']);
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    });
    if minor.is_some_and(|v| v >= (1, 2)) {
        return true;
    }
    eprintln!(
        "SKIPPED (runc side): {test}: {first:?} has no idmapped mounts (they came in runc 1.2); \
         skipping its side"
    );
    false
}

/// The runtime under test and an empty host directory owned by root, or
/// `None` (said loudly) when the runtime has no idmapped mounts.
fn idmap_runtime(test: &str) -> Option<(Runtime, std::path::PathBuf)> {
    let rt = runtime();
    if !runtime_has_idmapped_mounts(&rt, test) {
        return None;
    }
    let shared = rt.work_dir().join("shared");
    std::fs::create_dir(&shared).unwrap();
    Some((rt, shared))
}

#[test]
fn idmapped_bind_shows_host_root_files_as_container_root() {
    require_root!();
    let Some((rt, shared)) = idmap_runtime("idmapped_bind_shows_host_root_files_as_container_root")
    else {
        return;
    };
    std::fs::write(shared.join("hostfile"), "from the host\n").unwrap();
    let script = "cat /data/hostfile; stat -c 'data=%u:%g' /data/hostfile; \
                  stat -c 'image=%u:%g' /bin/busybox; echo made > /data/new && \
                  stat -c 'new=%u:%g' /data/new; echo id=$(id -u)";
    let out = run_sh(&rt, "idmapbind", script, |b| {
        in_user_namespace(b);
        idmapped_bind(b, &shared, &[]);
    });
    out.assert_ok();
    let text = &out.stdout;
    assert!(text.contains("from the host\n"), "{text}");
    // Through the idmapped mount host root's files are the container root's ...
    assert!(text.contains("data=0:0\n"), "{text}");
    // ... while the (not idmapped) image, also owned by host root, is nobody's.
    assert!(text.contains("image=65534:65534\n"), "{text}");
    assert!(text.contains("new=0:0\nid=0\n"), "{text}");
    // What the container's root wrote is stored as host root, not as 100000.
    let meta = std::fs::metadata(shared.join("new")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (0, 0));
}

#[test]
fn idmap_option_alone_uses_the_container_mappings() {
    require_root!();
    let Some((rt, shared)) = idmap_runtime("idmap_option_alone_uses_the_container_mappings") else {
        return;
    };
    std::fs::write(shared.join("f"), "x").unwrap();
    std::os::unix::fs::chown(shared.join("f"), Some(1000), Some(1000)).unwrap();
    let script =
        "stat -c '%u:%g' /data/f; touch /data/g 2>/dev/null && echo writable || echo read-only";
    let out = run_sh(&rt, "idmapopt", script, |b| {
        in_user_namespace(b);
        // Other bind attributes still apply to the idmapped mount.
        b.bind(&shared, "/data", &["idmap", "ro"]);
    });
    out.assert_ok();
    assert_eq!(out.stdout, "1000:1000\nread-only\n");
}

/// A tmpfs mounted on `dir`, lazily unmounted on drop (also when the test fails).
struct TmpfsMount(std::path::PathBuf);

impl TmpfsMount {
    fn new(dir: &Path) -> TmpfsMount {
        std::fs::create_dir_all(dir).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "brigtest-idmap"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success(), "mounting a tmpfs on {}", dir.display());
        TmpfsMount(dir.to_owned())
    }
}

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn ridmap_reaches_submounts_and_idmap_does_not() {
    require_root!();
    let Some((rt, shared)) = idmap_runtime("ridmap_reaches_submounts_and_idmap_does_not") else {
        return;
    };
    let _sub = TmpfsMount::new(&shared.join("sub"));
    std::fs::write(shared.join("sub/f"), "x").unwrap();
    let script = "stat -c '%u' /data/sub/f";
    for (option, expected) in [("ridmap", "0\n"), ("idmap", "65534\n")] {
        let out = run_sh(&rt, "ridmap", script, |b| {
            in_user_namespace(b);
            idmapped_bind(b, &shared, &[option]);
        });
        out.assert_ok();
        assert_eq!(out.stdout, expected, "{option}: {}", out.describe());
    }
}

#[test]
fn a_filesystem_that_cannot_be_idmapped_is_a_clear_error() {
    require_root!();
    let Some((rt, _shared)) =
        idmap_runtime("a_filesystem_that_cannot_be_idmapped_is_a_clear_error")
    else {
        return;
    };
    let mut bundle = Bundle::busybox();
    in_user_namespace(&mut bundle);
    // sysfs has no idmapped mount support.
    idmapped_bind(&mut bundle, Path::new("/sys/kernel"), &[]);
    let id = rt.new_id("idmapsysfs");
    let out = rt.run(&id, &bundle);
    out.assert_error();
    if rt.kind() == RuntimeKind::Brig {
        let err = &out.stderr;
        assert!(
            err.contains("mounts[")
                && err.contains("/sys/kernel")
                && err.contains("cannot be idmapped"),
            "{err}"
        );
    }
    assert_nothing_left(&rt, &id, &bundle);
}

#[test]
fn differential_idmapped_bind() {
    require_root!();
    let shared = TestDir::new("idmap-diff");
    std::fs::write(shared.join("f"), "x").unwrap();
    std::os::unix::fs::chown(shared.join("f"), Some(1000), Some(0)).unwrap();
    let mut bundle = Bundle::busybox();
    bundle.sh("stat -c '%u:%g %n' /data/f /data; id -u");
    in_user_namespace(&mut bundle);
    idmapped_bind(&mut bundle, shared.path(), &["ro"]);
    let reference = Runtime::of(brig_testkit::differential::reference_kind());
    let stdout = if reference.binary().exists()
        && runtime_has_idmapped_mounts(&reference, "differential_idmapped_bind")
    {
        let seen = brig_testkit::differential::assert_same("diffidmap", &bundle, &|s| s.to_owned());
        seen.map(|s| s.stdout)
    } else {
        // No reference to compare with: the tested runtime alone must see this.
        let rt = runtime();
        if !runtime_has_idmapped_mounts(&rt, "differential_idmapped_bind") {
            return;
        }
        let out = rt.run(&rt.new_id("diffidmap"), &bundle);
        out.assert_ok();
        Some(out.stdout)
    };
    if let Some(stdout) = stdout {
        assert_eq!(stdout, "1000:0 /data/f\n0:0 /data\n0\n");
    }
}
