//! The root filesystem: `mounts`, `root.readonly`, masked and read-only
//! paths, /dev, devices, sysctl, `--no-pivot`.

mod common;

use std::fs;

use brig_testkit::mountinfo::{self, MountEntry};
use brig_testkit::{Bundle, TestDir, leftovers, require_root};
use common::*;

fn container_mounts(out: &brig_testkit::CmdOutput) -> Vec<MountEntry> {
    out.assert_ok();
    mountinfo::parse(&out.stdout)
}

#[track_caller]
fn mount_at<'a>(mounts: &'a [MountEntry], point: &str) -> &'a MountEntry {
    mountinfo::find(mounts, point).unwrap_or_else(|| panic!("no mount at {point}: {mounts:#?}"))
}

#[test]
fn default_mounts_have_their_types_and_flags() {
    require_root!();
    let rt = runtime();
    let mounts = container_mounts(&run_sh(&rt, "mounts", "cat /proc/self/mountinfo", |_| {}));
    let root = mount_at(&mounts, "/");
    assert!(root.has("ro"), "readonly root not mounted ro: {root:?}");
    assert_eq!(mount_at(&mounts, "/proc").fstype, "proc");
    let dev = mount_at(&mounts, "/dev");
    assert_eq!(dev.fstype, "tmpfs");
    assert!(dev.has("nosuid") && dev.has("mode=755"), "{dev:?}");
    let pts = mount_at(&mounts, "/dev/pts");
    assert_eq!(pts.fstype, "devpts");
    assert!(
        pts.has("noexec") && pts.has("ptmxmode=666") && pts.has("gid=5"),
        "{pts:?}"
    );
    let shm = mount_at(&mounts, "/dev/shm");
    assert_eq!(shm.fstype, "tmpfs");
    assert!(
        shm.has("nosuid") && shm.has("nodev") && shm.has("noexec"),
        "{shm:?}"
    );
    assert_eq!(mount_at(&mounts, "/dev/mqueue").fstype, "mqueue");
    let sys = mount_at(&mounts, "/sys");
    assert_eq!(sys.fstype, "sysfs");
    assert!(
        sys.has("ro") && sys.has("nosuid") && sys.has("nodev") && sys.has("noexec"),
        "{sys:?}"
    );
    // cgroup v1: a tmpfs with one read-only mount per hierarchy; v2: one read-only cgroup2.
    let cgroups: Vec<&MountEntry> = mounts
        .iter()
        .filter(|m| m.mount_point.starts_with("/sys/fs/cgroup") && m.fstype.starts_with("cgroup"))
        .collect();
    assert!(
        !cgroups.is_empty(),
        "no cgroup filesystem under /sys/fs/cgroup"
    );
    assert!(
        cgroups.iter().all(|m| m.has("ro")),
        "writable cgroup mount: {cgroups:#?}"
    );
}

#[test]
fn readonly_root_refuses_writes() {
    require_root!();
    let rt = runtime();
    let out = run_sh(&rt, "rootro", "touch /newfile 2>&1; echo rc=$?", |_| {});
    out.assert_ok();
    assert!(
        out.stdout.contains("Read-only file system") && out.stdout.contains("rc=1"),
        "{}",
        out.stdout
    );
}

#[test]
fn writable_root_accepts_writes() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle.readonly_root(false).sh("echo data > /newfile");
    let id = rt.new_id("rootrw");
    rt.run(&id, &bundle).assert_ok();
    assert_eq!(
        fs::read_to_string(bundle.rootfs().join("newfile")).unwrap_or_default(),
        "data\n"
    );
}

#[test]
fn masked_paths_read_empty() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle.write_in_rootfs("/etc/secret", "do not show\n");
    bundle.mkdir_in_rootfs("/secretdir");
    bundle.write_in_rootfs("/secretdir/inside", "hidden\n");
    bundle
        .masked_paths(&["/proc/kcore", "/proc/acpi", "/etc/secret", "/secretdir", "/does/not/exist"])
        .sh("echo \"[$(cat /etc/secret)]\"; echo \"[$(ls /secretdir)]\"; echo \"[$(head -c 10 /proc/kcore | wc -c)]\"; echo \"[$(ls /proc/acpi)]\"");
    let id = rt.new_id("masked");
    let out = rt.run(&id, &bundle);
    out.assert_ok();
    assert_eq!(out.stdout, "[]\n[]\n[0]\n[]\n");
}

#[test]
fn readonly_paths_refuse_writes() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle.mkdir_in_rootfs("/data");
    bundle
        .readonly_root(false)
        .readonly_paths(&["/data", "/proc/sys"])
        .sh(
            "touch /data/x 2>/dev/null && echo data-writable; touch /other && echo other-writable; \
             echo x > /proc/sys/kernel/hostname 2>/dev/null && echo procsys-writable; echo done",
        );
    let id = rt.new_id("ropaths");
    let out = rt.run(&id, &bundle);
    out.assert_ok();
    assert_eq!(out.stdout, "other-writable\ndone\n");
}

#[test]
fn bind_mounts_are_writable_or_readonly_as_asked() {
    require_root!();
    let rt = runtime();
    let rw = TestDir::new("bindrw");
    let ro = TestDir::new("bindro");
    fs::write(ro.join("hello"), "from host\n").unwrap();
    let mut bundle = Bundle::busybox();
    bundle
        .bind(rw.path(), "/mnt/rw", &[])
        .bind(ro.path(), "/mnt/ro", &["ro"])
        .sh("echo written > /mnt/rw/out; cat /mnt/ro/hello; touch /mnt/ro/x 2>/dev/null || echo ro-refused");
    let id = rt.new_id("bind");
    let out = rt.run(&id, &bundle);
    out.assert_ok();
    assert_eq!(out.stdout, "from host\nro-refused\n");
    assert_eq!(
        fs::read_to_string(rw.join("out")).unwrap_or_default(),
        "written\n"
    );
    assert!(!ro.join("x").exists());
}

#[test]
fn tmpfs_mount_gets_its_options_and_missing_destination_is_created() {
    require_root!();
    let rt = runtime();
    let out = run_sh(
        &rt,
        "tmpfs",
        "stat -c %a /scratch/deep; cat /proc/self/mountinfo",
        |b| {
            b.mount(
                "/scratch/deep",
                "tmpfs",
                "tmpfs",
                &["nosuid", "noexec", "size=1m", "mode=700"],
            );
        },
    );
    out.assert_ok();
    assert!(out.stdout.starts_with("700\n"), "{}", out.stdout);
    let mounts = mountinfo::parse(&out.stdout);
    let scratch = mount_at(&mounts, "/scratch/deep");
    assert_eq!(scratch.fstype, "tmpfs");
    assert!(
        scratch.has("noexec") && scratch.has("nosuid") && scratch.has("size=1024k"),
        "{scratch:?}"
    );
}

#[test]
fn symlink_in_the_image_never_redirects_a_mount_to_the_host() {
    require_root!();
    let rt = runtime();
    let outside = TestDir::new("outside");
    let mut bundle = Bundle::busybox();
    bundle.symlink_in_rootfs(&outside.path().display().to_string(), "/abs-escape");
    bundle.symlink_in_rootfs("../../../../../../../..", "/rel-escape");
    bundle
        .readonly_root(false)
        .mount("/abs-escape/sub", "tmpfs", "tmpfs", &[])
        .mount(
            &format!("/rel-escape{}/sub2", outside.path().display()),
            "tmpfs",
            "tmpfs",
            &[],
        )
        .args(&["true"]);
    let id = rt.new_id("symlinkmnt");
    // Refusing the bundle or containing the mount inside the rootfs are both
    // fine; touching the host path is not.
    let _ = rt.run(&id, &bundle);
    let entries: Vec<_> = fs::read_dir(outside.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert!(
        entries.is_empty(),
        "the mount escaped to the host directory: {entries:?}"
    );
    assert!(leftovers::mounts_mentioning(outside.path()).is_empty());
}

#[test]
fn standard_dev_nodes_and_links_exist() {
    require_root!();
    let rt = runtime();
    let script = "for d in null zero full random urandom tty; do test -c /dev/$d && echo $d; done; \
                  readlink /dev/ptmx; readlink /dev/fd; readlink /dev/stdin; readlink /dev/stdout; readlink /dev/stderr; \
                  test -d /dev/shm && echo shm; head -c 4 /dev/zero | wc -c; echo x > /dev/null && echo null-writable";
    let out = run_sh(&rt, "devnodes", script, |_| {});
    out.assert_ok();
    assert_eq!(
        out.stdout,
        "null\nzero\nfull\nrandom\nurandom\ntty\npts/ptmx\n/proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2\nshm\n4\nnull-writable\n"
    );
}

#[test]
fn linux_devices_are_created() {
    require_root!();
    let rt = runtime();
    let out = run_sh(
        &rt,
        "devices",
        "stat -c '%F %t %T %a %u %g' /dev/mynull",
        |b| {
            b.config_mut()["linux"]["devices"] = serde_json::json!([
                {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640, "uid": 0, "gid": 0}
            ]);
        },
    );
    out.assert_ok();
    assert_eq!(out.stdout, "character special file 1 3 640 0 0\n");
}

#[test]
fn sysctl_is_applied_in_the_container_namespaces() {
    require_root!();
    let rt = runtime();
    let host = fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap_or_default();
    let flipped = if host.trim() == "1" { "0" } else { "1" };
    let out = run_sh(&rt, "sysctl", "cat /proc/sys/net/ipv4/ip_forward", |b| {
        b.config_mut()["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": flipped});
    });
    out.assert_ok();
    assert_eq!(out.stdout.trim(), flipped);
    assert_eq!(
        fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap_or_default(),
        host
    );
}

#[test]
fn no_pivot_still_confines_the_process_to_the_rootfs() {
    require_root!();
    let rt = runtime();
    let mut bundle = Bundle::busybox();
    bundle.write_in_rootfs("/etc/marker", "inside\n");
    bundle.sh("cat /etc/marker; ls /");
    let id = rt.new_id("nopivot");
    let out = rt.run_with(&id, &bundle, &["--no-pivot"]);
    out.assert_ok();
    assert!(out.stdout.starts_with("inside\n"), "{}", out.stdout);
    assert!(
        !out.stdout.contains("vmlinuz") && !out.stdout.contains("boot\n"),
        "host root visible: {}",
        out.stdout
    );
}

#[test]
fn container_mounts_are_invisible_on_the_host() {
    require_root!();
    let rt = runtime();
    let (id, bundle, _) = start_sleeper(&rt, "hostmounts", |_| {});
    assert!(rt.state_of(&id).pid.is_some());
    let seen = leftovers::mounts_mentioning(bundle.path());
    assert!(
        seen.is_empty(),
        "container mounts visible in the host namespace: {seen:#?}"
    );
}
