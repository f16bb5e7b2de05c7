//! The root-only test cases (see `root_tests` for the harness).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rustix::io::Errno;
use serde_json::json;

use super::super::plan::tests::runc_spec_json;
use super::super::{RootfsError, RootfsOptions, bind_console, finalize, pivot, prepare};
use super::*;

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("read {path}: {e}"))
}

fn minimal_spec() -> Value {
    json!({
        "ociVersion": "1.0.2",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"] }
        ]
    })
}

/// Host directories for the confinement test: a bind source with a marker,
/// and the host directory the image's symlinks point at.
struct HostDirs {
    data: tempfile::TempDir,
    outside: tempfile::TempDir,
}

/// `runc spec`'s config plus a read-only bind, a file bind, a device and a
/// sysctl; a tmpfs and a bind are destined for paths that [`plant_escapes`]
/// turns into symlinks at the host.
fn confinement_setup() -> (HostDirs, Value) {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("marker"), "data").unwrap();
    let outside = tempfile::Builder::new()
        .prefix("brig-outside")
        .tempdir()
        .unwrap();
    let mut spec = runc_spec_json();
    let marker = data.path().join("marker");
    add_mounts(
        &mut spec,
        &[
            json!({ "destination": "/data", "source": data.path(), "options": ["rbind", "ro", "nosuid"] }),
            json!({ "destination": "/etc/marker", "source": marker, "options": ["bind", "ro"] }),
            json!({ "destination": "/escape", "type": "tmpfs", "options": ["size=1m"] }),
            json!({ "destination": "/escape2/bound", "source": data.path(), "options": ["bind"] }),
        ],
    );
    spec["linux"]["devices"] = json!([{ "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
        "fileMode": 0o600, "uid": 1000, "gid": 1000 }]);
    spec["linux"]["sysctl"] = json!({ "kernel.shmmax": "123456789" });
    (HostDirs { data, outside }, spec)
}

/// Two symlinks in the image (absolute, and `..` up to /) pointing at a host
/// directory. The planner refuses such destinations (see `escape.rs`), so they
/// are planted after planning, as an image changed behind the runtime's back
/// would be: the mounts must still stay inside the root.
fn plant_escapes(bundle: &Bundle, outside: &Path) {
    let outside_rel = outside.strip_prefix("/").unwrap();
    bundle.symlink("escape", outside);
    bundle.symlink(
        "escape2",
        &Path::new("../../../../../../../..").join(outside_rel),
    );
}

/// After prepare, before pivot: both escapes landed inside the root.
fn check_escapes_stayed_inside(bundle_rootfs: &Path, outside: &Path) -> Result<(), String> {
    let dev = |p: &Path| {
        p.metadata()
            .map(|m| m.dev())
            .map_err(|e| format!("{p:?}: {e}"))
    };
    ensure!(
        dev(outside)? == dev(outside.parent().unwrap())?,
        "a mount landed on the host's {outside:?}"
    );
    ensure!(
        !outside.join("bound").exists(),
        "a mountpoint was created on the host"
    );
    let inside = bundle_rootfs.join(outside.strip_prefix("/").unwrap());
    ensure!(
        fs_type(inside.to_str().unwrap())? == TMPFS_MAGIC,
        "the tmpfs is inside the root"
    );
    ensure!(
        inside.join("bound/marker").exists(),
        "the bind did not land inside the root"
    );
    Ok(())
}

#[test]
fn runc_spec_root_is_confined_and_protected() {
    if skip_unless_root("runc_spec_root_is_confined_and_protected") {
        return;
    }
    let bundle = Bundle::new();
    let (host, spec) = confinement_setup();
    let plan = bundle.plan(spec, RootfsOptions::default());
    plant_escapes(&bundle, host.outside.path());
    let result = in_child(CONTAINER_NAMESPACES, || {
        prepare(&plan).map_err(|e| format!("prepare: {e}"))?;
        check_escapes_stayed_inside(&bundle.rootfs, host.outside.path())?;
        pivot(&plan).map_err(|e| format!("pivot: {e}"))?;
        finalize(&plan).map_err(|e| format!("finalize: {e}"))?;
        check_standard_container()?;
        check_protections()?;
        check_spec_extras()?;
        // The image's own shell agrees, from inside.
        Err(exec_shell(
            "test -c /dev/null && echo x >/dev/null && ! touch /x 2>/dev/null \
             && test \"$(cat /proc/timer_list | wc -c)\" -eq 0 && test \"$(cat /data/marker)\" = data",
        ))
    });
    result.unwrap();
    let left = std::fs::read_dir(host.outside.path()).unwrap().count();
    assert_eq!(left, 0, "the host dir is still empty");
    assert!(host.data.path().join("marker").exists());
}

/// The read-only bind, the file bind, the device and the sysctl.
fn check_spec_extras() -> Result<(), String> {
    ensure!(
        read("/data/marker")? == "data",
        "the bind mount shows the source"
    );
    ensure!(
        create_error("/data/new") == Some(Errno::ROFS),
        "a ro bind must refuse writes"
    );
    ensure!(read("/etc/marker")? == "data", "a file bind");
    let fuse = std::fs::metadata("/dev/fuse").map_err(|e| format!("/dev/fuse: {e}"))?;
    ensure!(
        fuse.rdev() == rustix::fs::makedev(10, 229),
        "/dev/fuse numbers"
    );
    let owned = fuse.uid() == 1000 && fuse.gid() == 1000;
    ensure!(
        fuse.mode() & 0o7777 == 0o600 && owned,
        "/dev/fuse mode/owner"
    );
    let shmmax = read("/proc/sys/kernel/shmmax")?;
    ensure!(shmmax.trim() == "123456789", "the sysctl was written");
    Ok(())
}

/// proc, /dev and its nodes and links, devpts, shm, mqueue, sysfs, cgroups.
fn check_standard_container() -> Result<(), String> {
    ensure!(fs_type("/proc")? == PROC_SUPER_MAGIC, "/proc is a procfs");
    ensure!(read("/proc/self/stat").is_ok(), "/proc works");
    let null = std::fs::metadata("/dev/null").map_err(|e| format!("/dev/null: {e}"))?;
    ensure!(
        null.rdev() == rustix::fs::makedev(1, 3) && null.mode() & 0o170000 == 0o020000,
        "/dev/null is 1:3"
    );
    std::fs::write("/dev/null", "x").map_err(|e| format!("write /dev/null: {e}"))?;
    for dev in ["zero", "full", "random", "urandom", "tty"] {
        ensure!(Path::new("/dev").join(dev).exists(), "/dev/{dev} exists");
    }
    let link = |p: &str| {
        std::fs::read_link(p)
            .map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    ensure!(
        link("/dev/ptmx") == "pts/ptmx" && link("/dev/fd") == "/proc/self/fd",
        "the /dev links"
    );
    ensure!(link("/dev/stderr") == "/proc/self/fd/2", "/dev/stderr");
    ensure!(
        fs_type("/dev/pts")? == DEVPTS_SUPER_MAGIC,
        "/dev/pts is a devpts"
    );
    ensure!(
        fs_type("/dev/shm")? == TMPFS_MAGIC && fs_type("/dev/mqueue")? == MQUEUE_MAGIC,
        "shm and mqueue"
    );
    ensure!(
        fs_type("/sys")? == SYSFS_MAGIC && is_read_only("/sys")?,
        "/sys is a read-only sysfs"
    );
    ensure!(
        fs_type("/sys/fs/cgroup")? == TMPFS_MAGIC && is_read_only("/sys/fs/cgroup")?,
        "the cgroup tmpfs is ro"
    );
    ensure!(
        is_read_only("/sys/fs/cgroup/memory")?,
        "the memory hierarchy is there, read-only"
    );
    ensure!(
        Path::new("/sys/fs/cgroup/cpu/cpu.shares").exists(),
        "the cpu hierarchy shows our cgroup"
    );
    Ok(())
}

/// Masked and read-only paths, read-only root.
fn check_protections() -> Result<(), String> {
    // This kernel may lack /proc/kcore; when it has one, it reads empty.
    ensure!(
        !Path::new("/proc/kcore").exists() || read("/proc/kcore")?.is_empty(),
        "/proc/kcore reads empty"
    );
    ensure!(read("/proc/keys")?.is_empty(), "/proc/keys reads empty");
    ensure!(
        read("/proc/timer_list")?.is_empty(),
        "/proc/timer_list reads empty"
    );
    let firmware = std::fs::read_dir("/sys/firmware").map_err(|e| format!("/sys/firmware: {e}"))?;
    ensure!(
        firmware.count() == 0 && is_read_only("/sys/firmware")?,
        "/sys/firmware is an empty ro tmpfs"
    );
    ensure!(
        write_open_error("/proc/sys/kernel/hostname") == Some(Errno::ROFS),
        "/proc/sys is read-only"
    );
    ensure!(
        is_read_only("/proc/bus")? && is_read_only("/proc/sys")?,
        "read-only paths are read-only mounts"
    );
    let sysrq = "/proc/sysrq-trigger"; // absent without CONFIG_MAGIC_SYSRQ
    ensure!(
        !Path::new(sysrq).exists() || write_open_error(sysrq) == Some(Errno::ROFS),
        "{sysrq} is read-only"
    );
    ensure!(
        create_error("/newfile") == Some(Errno::ROFS),
        "the root is read-only"
    );
    ensure!(
        create_error("/dev/shm/ok").is_none(),
        "/dev/shm stays writable"
    );
    Ok(())
}

#[test]
fn symlink_into_proc_is_refused() {
    if skip_unless_root("symlink_into_proc_is_refused") {
        return;
    }
    let bundle = Bundle::new();
    let mut spec = minimal_spec();
    add_mounts(
        &mut spec,
        &[json!({ "destination": "/sneaky", "type": "tmpfs" })],
    );
    let plan = bundle.plan(spec, RootfsOptions::default());
    // Planted after planning (which would refuse it): the mount step still must.
    bundle.symlink("sneaky", Path::new("/proc/sys/kernel"));
    in_child(CONTAINER_NAMESPACES, || match prepare(&plan) {
        Err(RootfsError::MountInProc { destination }) if destination == Path::new("/sneaky") => {
            Ok(())
        }
        other => Err(format!("expected MountInProc for /sneaky, got {other:?}")),
    })
    .unwrap();
}

#[test]
fn no_pivot_moves_the_root_and_chroots() {
    if skip_unless_root("no_pivot_moves_the_root_and_chroots") {
        return;
    }
    let bundle = Bundle::new();
    let plan = bundle.plan(
        minimal_spec(),
        RootfsOptions {
            no_pivot: true,
            ..Default::default()
        },
    );
    in_child(CONTAINER_NAMESPACES, || {
        prepare(&plan).map_err(|e| format!("prepare: {e}"))?;
        pivot(&plan).map_err(|e| format!("pivot: {e}"))?;
        finalize(&plan).map_err(|e| format!("finalize: {e}"))?;
        ensure!(Path::new("/bin/busybox").exists(), "/ is the rootfs");
        ensure!(fs_type("/proc")? == PROC_SUPER_MAGIC, "/proc is mounted");
        ensure!(
            std::fs::metadata("/dev/null").map(|m| m.rdev()).ok()
                == Some(rustix::fs::makedev(1, 3)),
            "/dev/null"
        );
        Ok(())
    })
    .unwrap();
}

#[test]
fn rshared_root_propagation_is_applied_to_the_container_root() {
    if skip_unless_root("rshared_root_propagation_is_applied_to_the_container_root") {
        return;
    }
    let bundle = Bundle::new();
    let mut spec = minimal_spec();
    spec["linux"] = json!({ "rootfsPropagation": "rshared" });
    let plan = bundle.plan(spec, RootfsOptions::default());
    in_child(CONTAINER_NAMESPACES, || {
        prepare(&plan).map_err(|e| format!("prepare: {e}"))?;
        pivot(&plan).map_err(|e| format!("pivot: {e}"))?;
        let mountinfo = read("/proc/self/mountinfo")?;
        let root = mountinfo
            .lines()
            .find(|l| l.split(' ').nth(4) == Some("/"))
            .ok_or("no / in mountinfo")?;
        ensure!(root.contains("shared:"), "/ is shared: {root}");
        Ok(())
    })
    .unwrap();
}

#[test]
fn console_is_the_terminal_after_bind_console() {
    if skip_unless_root("console_is_the_terminal_after_bind_console") {
        return;
    }
    let bundle = Bundle::new();
    let mut spec = minimal_spec();
    add_mounts(
        &mut spec,
        &[json!({ "destination": "/dev/pts", "type": "devpts",
        "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] })],
    );
    let plan = bundle.plan(
        spec,
        RootfsOptions {
            terminal: true,
            ..Default::default()
        },
    );
    in_child(CONTAINER_NAMESPACES, || {
        prepare(&plan).map_err(|e| format!("prepare: {e}"))?;
        pivot(&plan).map_err(|e| format!("pivot: {e}"))?;
        ensure!(
            Path::new("/dev/console").is_file(),
            "the placeholder exists"
        );
        let master =
            rustix::pty::openpt(rustix::pty::OpenptFlags::RDWR | rustix::pty::OpenptFlags::NOCTTY)
                .map_err(|e| format!("openpt: {e}"))?;
        rustix::pty::unlockpt(&master).map_err(|e| format!("unlockpt: {e}"))?;
        let slave =
            rustix::pty::ptsname(&master, Vec::new()).map_err(|e| format!("ptsname: {e}"))?;
        let slave = std::path::PathBuf::from(slave.to_str().map_err(|e| e.to_string())?);
        ensure!(
            slave.starts_with("/dev/pts"),
            "the pty is the container's: {slave:?}"
        );
        bind_console(&slave).map_err(|e| format!("bind_console: {e}"))?;
        finalize(&plan).map_err(|e| format!("finalize: {e}"))?;
        let rdev = |p: &Path| {
            std::fs::metadata(p)
                .map(|m| m.rdev())
                .map_err(|e| format!("{p:?}: {e}"))
        };
        ensure!(
            rdev(Path::new("/dev/console"))? == rdev(&slave)?,
            "/dev/console is the pty"
        );
        Ok(())
    })
    .unwrap();
}

#[test]
fn tmpcopyup_fills_the_tmpfs_and_leaves_the_image_alone() {
    if skip_unless_root("tmpcopyup_fills_the_tmpfs_and_leaves_the_image_alone") {
        return;
    }
    let bundle = Bundle::new();
    std::fs::create_dir_all(bundle.rootfs.join("etc/copyme/sub")).unwrap();
    std::fs::write(bundle.rootfs.join("etc/copyme/sub/hello"), "from the image").unwrap();
    let mut spec = minimal_spec();
    add_mounts(
        &mut spec,
        &[
            json!({ "destination": "/etc/copyme", "type": "tmpfs", "options": ["tmpcopyup", "mode=0755"] }),
        ],
    );
    let plan = bundle.plan(spec, RootfsOptions::default());
    in_child(CONTAINER_NAMESPACES, || {
        prepare(&plan).map_err(|e| format!("prepare: {e}"))?;
        pivot(&plan).map_err(|e| format!("pivot: {e}"))?;
        ensure!(fs_type("/etc/copyme")? == TMPFS_MAGIC, "a tmpfs");
        ensure!(
            read("/etc/copyme/sub/hello")? == "from the image",
            "copied up"
        );
        std::fs::write("/etc/copyme/new", "x").map_err(|e| format!("write in the tmpfs: {e}"))?;
        Ok(())
    })
    .unwrap();
    assert!(
        !bundle.rootfs.join("etc/copyme/new").exists(),
        "the write went to the tmpfs"
    );
}

#[test]
fn readonly_dev_tmpfs_still_gets_its_nodes() {
    if skip_unless_root("readonly_dev_tmpfs_still_gets_its_nodes") {
        return;
    }
    let bundle = Bundle::new();
    let spec = json!({
        "ociVersion": "1.0.2",
        "mounts": [{ "destination": "/dev", "type": "tmpfs", "options": ["ro", "nosuid", "mode=755"] }]
    });
    let plan = bundle.plan(spec, RootfsOptions::default());
    in_child(CONTAINER_NAMESPACES, || {
        prepare(&plan).map_err(|e| format!("prepare: {e}"))?;
        pivot(&plan).map_err(|e| format!("pivot: {e}"))?;
        finalize(&plan).map_err(|e| format!("finalize: {e}"))?;
        ensure!(
            Path::new("/dev/null").exists() && Path::new("/dev/shm").is_dir(),
            "nodes were made"
        );
        ensure!(is_read_only("/dev")?, "/dev ends read-only");
        Ok(())
    })
    .unwrap();
}

/// In a user namespace mknod is refused and sysfs/proc need namespaces the
/// user namespace owns: devices come bound from the host, and the rest of
/// `runc spec`'s container works the same.
#[test]
fn user_namespace_container_gets_the_same_root() {
    if skip_unless_root("user_namespace_container_gets_the_same_root") {
        return;
    }
    let bundle = Bundle::new();
    let mut spec = runc_spec_json();
    spec["linux"]["namespaces"] = json!([{ "type": "user" }, { "type": "pid" }, { "type": "network" },
        { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }]);
    spec["linux"]["devices"] =
        json!([{ "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600 }]);
    spec["linux"]["sysctl"] = json!({ "kernel.shmmax": "123456789" });
    let opts = RootfsOptions {
        in_user_namespace: true,
        ..Default::default()
    };
    let plan = bundle.plan(spec, opts);
    in_userns_child(|| {
        prepare(&plan).map_err(|e| format!("prepare: {e}"))?;
        pivot(&plan).map_err(|e| format!("pivot: {e}"))?;
        finalize(&plan).map_err(|e| format!("finalize: {e}"))?;
        ensure!(
            rustix::process::getpid().as_raw_nonzero().get() == 1,
            "pid 1 of its pid namespace"
        );
        check_standard_container()?;
        check_protections()?;
        let fuse = std::fs::metadata("/dev/fuse").map_err(|e| format!("/dev/fuse: {e}"))?;
        ensure!(
            fuse.rdev() == rustix::fs::makedev(10, 229),
            "/dev/fuse is the host's, bound"
        );
        ensure!(
            read("/proc/sys/kernel/shmmax")?.trim() == "123456789",
            "the sysctl was written"
        );
        Ok(())
    })
    .unwrap();
}

/// `ro` makes only the bind's top mount read-only (like a remount);
/// `rro` (mount_setattr with AT_RECURSIVE) reaches the submounts too.
#[test]
fn rro_reaches_submounts_and_ro_does_not() {
    if skip_unless_root("rro_reaches_submounts_and_ro_does_not") {
        return;
    }
    let bundle = Bundle::new();
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir(data.path().join("sub")).unwrap();
    let mut spec = minimal_spec();
    add_mounts(
        &mut spec,
        &[
            json!({ "destination": "/ro", "source": data.path(), "options": ["rbind", "ro", "rprivate"] }),
            json!({ "destination": "/rro", "source": data.path(), "options": ["rbind", "rro"] }),
        ],
    );
    let plan = bundle.plan(spec, RootfsOptions::default());
    let sub = data.path().join("sub");
    in_child(CONTAINER_NAMESPACES, || {
        // A submount in the bind source (in the child's own namespace only).
        let flags = rustix::mount::MountFlags::empty();
        rustix::mount::mount("tmpfs", &sub, "tmpfs", flags, None)
            .map_err(|e| format!("tmpfs: {e}"))?;
        prepare(&plan).map_err(|e| format!("prepare: {e}"))?;
        pivot(&plan).map_err(|e| format!("pivot: {e}"))?;
        ensure!(
            is_read_only("/ro")? && !is_read_only("/ro/sub")?,
            "ro is for the top mount only"
        );
        ensure!(
            create_error("/ro/sub/file").is_none(),
            "the submount of a ro bind stays writable"
        );
        ensure!(
            is_read_only("/rro")? && is_read_only("/rro/sub")?,
            "rro reaches the submount"
        );
        ensure!(
            create_error("/rro/sub/file") == Some(Errno::ROFS),
            "rro refuses writes below"
        );
        Ok(())
    })
    .unwrap();
}

#[test]
fn missing_bind_source_names_the_source() {
    if skip_unless_root("missing_bind_source_names_the_source") {
        return;
    }
    let bundle = Bundle::new();
    let mut spec = minimal_spec();
    add_mounts(
        &mut spec,
        &[
            json!({ "destination": "/etc", "source": "/nonexistent/brig-src", "options": ["rbind"] }),
        ],
    );
    let plan = bundle.plan(spec, RootfsOptions::default());
    in_child(CONTAINER_NAMESPACES, || match prepare(&plan) {
        Err(e @ RootfsError::BindSource { .. }) => {
            let message = e.to_string();
            ensure!(
                message.contains("/etc") && message.contains("/nonexistent/brig-src"),
                "{message}"
            );
            ensure!(e.errno() == Some(libc::ENOENT), "errno of {message}");
            Ok(())
        }
        other => Err(format!("expected BindSource, got {other:?}")),
    })
    .unwrap();
}
