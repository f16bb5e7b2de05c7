//! Planning and validation: what config.json values brig accepts and what it
//! will do with them. No root needed.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use rustix::mount::{MountAttrFlags, MountFlags, MountPropagationFlags};
use serde_json::{Value, json};

use super::super::{RootfsError, RootfsOptions};
use super::{MountKind, RootfsPlan};

/// The mounts, masked and read-only paths of `runc spec` (runc 1.1).
pub(crate) fn runc_spec_json() -> Value {
    json!({
        "ociVersion": "1.0.2-dev",
        "root": { "path": "rootfs", "readonly": true },
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
              "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
        ],
        "linux": {
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

fn plan_json(spec: Value, opts: RootfsOptions) -> Result<RootfsPlan, RootfsError> {
    let spec: Spec = serde_json::from_value(spec).expect("test spec parses");
    RootfsPlan::from_spec(&spec, Path::new("/tmp/bundle/rootfs"), opts)
}

fn plan_mounts(mounts: Value) -> Result<RootfsPlan, RootfsError> {
    plan_json(
        json!({ "ociVersion": "1.0.2", "mounts": mounts }),
        RootfsOptions::default(),
    )
}

fn error_of(mounts: Value) -> String {
    plan_mounts(mounts)
        .expect_err("must be refused")
        .to_string()
}

#[test]
fn runc_default_spec_is_accepted() {
    let plan = plan_json(runc_spec_json(), RootfsOptions::default()).unwrap();
    assert_eq!(plan.mounts.len(), 7);
    assert!(plan.readonly_root);
    assert_eq!(plan.masked_paths.len(), 10);
    assert_eq!(plan.readonly_paths[3], PathBuf::from("/proc/sys"));
    assert!(
        plan.host_cgroups.is_some(),
        "the cgroup mount needs the host layout"
    );
    let dev = plan.dev.as_ref().expect("brig builds /dev");
    assert!(!dev.shm_dir, "/dev/shm comes from a mount");
    assert_eq!(
        plan.root_propagation,
        MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC
    );
    let sys = &plan.mounts[5];
    assert_eq!(sys.fstype(), Some("sysfs"));
    assert_eq!(
        sys.flags,
        MountFlags::NOSUID | MountFlags::NOEXEC | MountFlags::NODEV | MountFlags::RDONLY
    );
    let dev_tmpfs = &plan.mounts[1];
    assert_eq!(dev_tmpfs.data.as_deref(), Some(c"mode=755,size=65536k"));
}

#[test]
fn relative_destination_is_refused() {
    let err = error_of(json!([{ "destination": "proc", "type": "proc" }]));
    assert!(
        err.contains("mounts[0].destination") && err.contains("absolute"),
        "{err}"
    );
}

#[test]
fn mount_over_root_is_refused() {
    let err = error_of(json!([{ "destination": "/..", "type": "tmpfs" }]));
    assert!(err.contains("mounting over /"), "{err}");
}

#[test]
fn dotdot_in_destination_is_confined_to_the_root() {
    let plan =
        plan_mounts(json!([{ "destination": "/../../../etc/./x/..", "type": "tmpfs" }])).unwrap();
    assert_eq!(plan.mounts[0].destination, PathBuf::from("/etc"));
}

#[test]
fn unknown_option_is_data_for_a_filesystem_but_refused_for_a_bind() {
    let plan = plan_mounts(json!([{ "destination": "/t", "type": "tmpfs", "options": ["nosuid", "size=1m", "huge=never"] }]))
        .unwrap();
    assert_eq!(plan.mounts[0].data.as_deref(), Some(c"size=1m,huge=never"));
    let err = error_of(
        json!([{ "destination": "/b", "source": "/tmp", "options": ["rbind", "nosiud"] }]),
    );
    assert!(
        err.contains("mounts[0]") && err.contains("\"nosiud\"") && err.contains("unknown option"),
        "{err}"
    );
}

#[test]
fn bind_options_become_attributes_and_propagation() {
    let plan = plan_mounts(json!([
        { "destination": "/b", "source": "/tmp", "options": ["rbind", "ro", "nosuid", "rprivate"] },
        { "destination": "/c", "type": "bind", "source": "/tmp", "options": ["rro", "shared"] },
    ]))
    .unwrap();
    let b = &plan.mounts[0];
    assert_eq!(
        b.kind,
        MountKind::Bind {
            source: "/tmp".into(),
            recursive: true
        }
    );
    assert_eq!(
        b.attrs.0,
        MountAttrFlags::MOUNT_ATTR_RDONLY | MountAttrFlags::MOUNT_ATTR_NOSUID
    );
    assert_eq!(
        b.propagation,
        [MountPropagationFlags::PRIVATE | MountPropagationFlags::REC]
    );
    let c = &plan.mounts[1];
    assert_eq!(
        c.kind,
        MountKind::Bind {
            source: "/tmp".into(),
            recursive: false
        },
        "type bind alone is a plain bind"
    );
    assert_eq!(c.recursive_attrs.0, MountAttrFlags::MOUNT_ATTR_RDONLY);
    assert_eq!(c.propagation, [MountPropagationFlags::SHARED]);
}

#[test]
fn relative_bind_source_is_relative_to_the_bundle() {
    let spec = json!({ "ociVersion": "1.0.2", "mounts": [{ "destination": "/d", "source": "data", "options": ["bind"] }] });
    let plan = plan_json(
        spec,
        RootfsOptions {
            bundle: "/srv/bundle".into(),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        plan.mounts[0].kind,
        MountKind::Bind {
            source: "/srv/bundle/data".into(),
            recursive: false
        }
    );
}

#[test]
fn incomplete_or_unsupported_mounts_are_refused() {
    let cases = [
        (json!([{ "destination": "/x" }]), "no type"),
        (
            json!([{ "destination": "/x", "options": ["bind"] }]),
            "needs a source",
        ),
        (
            json!([{ "destination": "/x", "type": "proc", "options": ["tmpcopyup"] }]),
            "only a tmpfs",
        ),
        (
            json!([{ "destination": "/x", "type": "tmpfs", "options": ["rro"] }]),
            "apply to bind mounts",
        ),
        (
            json!([{ "destination": "/x", "source": "/y", "options": ["rbind", "idmap"] }]),
            "needs linux.uidMappings",
        ),
    ];
    for (mounts, expected) in cases {
        let err = error_of(mounts);
        assert!(err.contains("mounts[0]") && err.contains(expected), "{err}");
    }
}

#[test]
fn mounts_inside_proc_are_refused_except_lxcfs_files() {
    plan_mounts(json!([{ "destination": "/proc/meminfo", "source": "/var/lib/lxcfs/proc/meminfo", "options": ["bind"] }]))
        .unwrap();
    let err =
        error_of(json!([{ "destination": "/proc/sys", "source": "/tmp", "options": ["rbind"] }]));
    assert!(err.contains("inside /proc"), "{err}");
    let err = error_of(json!([{ "destination": "/proc", "type": "tmpfs" }]));
    assert!(err.contains("type proc"), "{err}");
}

#[test]
fn root_propagation_default_names_and_errors() {
    let with = |value: &str, no_pivot| {
        let spec = json!({ "ociVersion": "1.0.2", "linux": { "rootfsPropagation": value } });
        plan_json(
            spec,
            RootfsOptions {
                no_pivot,
                ..Default::default()
            },
        )
    };
    let plan = with("rshared", false).unwrap();
    assert_eq!(
        plan.root_propagation,
        MountPropagationFlags::SHARED | MountPropagationFlags::REC
    );
    assert!(plan.propagation_given);
    let plan = with("", false).unwrap();
    assert_eq!(
        plan.root_propagation,
        MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC
    );
    assert!(!plan.propagation_given);
    let err = with("rbind", false).unwrap_err().to_string();
    assert!(err.contains("linux.rootfsPropagation \"rbind\""), "{err}");
    let err = with("rprivate", true).unwrap_err().to_string();
    assert!(err.contains("--no-pivot"), "{err}");
    with("rslave", true).unwrap();
}

#[test]
fn default_dev_is_planned_unless_dev_is_bound_from_the_host() {
    let plan =
        plan_mounts(json!([{ "destination": "/dev", "type": "tmpfs", "options": ["mode=755"] }]))
            .unwrap();
    let dev = plan.dev.unwrap();
    assert_eq!(dev.devices.len(), 6);
    assert!(dev.shm_dir && !dev.console);
    let plan =
        plan_mounts(json!([{ "destination": "/dev", "source": "/dev", "options": ["rbind"] }]))
            .unwrap();
    assert!(plan.dev.is_none());
    let spec = json!({ "ociVersion": "1.0.2" });
    let plan = plan_json(
        spec,
        RootfsOptions {
            terminal: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(plan.dev.unwrap().console);
}

#[test]
fn readonly_tmpfs_stays_writable_while_things_are_created_below() {
    let plan = plan_mounts(json!([
        { "destination": "/dev", "type": "tmpfs", "options": ["ro"] },
        { "destination": "/data", "type": "tmpfs", "options": ["ro"] },
        { "destination": "/cache", "type": "tmpfs", "options": ["ro"] },
        { "destination": "/cache/sub", "type": "tmpfs" },
    ]))
    .unwrap();
    let late: Vec<bool> = plan.mounts.iter().map(|m| m.readonly_late).collect();
    assert_eq!(late, [true, false, true, false]);
}

#[test]
fn masked_and_readonly_paths_must_be_absolute() {
    let spec =
        |field: &str, path: &str| json!({ "ociVersion": "1.0.2", "linux": { field: [path] } });
    let plan = plan_json(
        spec("maskedPaths", "/proc/./kcore"),
        RootfsOptions::default(),
    )
    .unwrap();
    assert_eq!(plan.masked_paths, [PathBuf::from("/proc/kcore")]);
    let err = plan_json(spec("readonlyPaths", "proc/sys"), RootfsOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("linux.readonlyPaths") && err.contains("\"proc/sys\""),
        "{err}"
    );
    let err = plan_json(spec("maskedPaths", "/.."), RootfsOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("linux.maskedPaths"), "{err}");
}

#[test]
fn sysctls_follow_the_containers_namespaces() {
    let spec = |namespaces: Value| {
        json!({ "ociVersion": "1.0.2", "linux": {
            "namespaces": namespaces, "sysctl": { "net.ipv4.ip_forward": "1", "kernel.shmmax": "65536" } } })
    };
    let plan = plan_json(
        spec(json!([{ "type": "network" }, { "type": "ipc" }])),
        RootfsOptions::default(),
    )
    .unwrap();
    let paths: Vec<_> = plan.sysctls.iter().map(|s| s.path.clone()).collect();
    assert_eq!(
        paths,
        [
            PathBuf::from("/proc/sys/kernel/shmmax"),
            PathBuf::from("/proc/sys/net/ipv4/ip_forward")
        ]
    );
    let err = plan_json(spec(json!([{ "type": "ipc" }])), RootfsOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("net.ipv4.ip_forward") && err.contains("network namespace"),
        "{err}"
    );
    // Joining the runtime's own network namespace by path is the host's.
    let joined = json!([{ "type": "network", "path": "/proc/self/ns/net" }, { "type": "ipc" }]);
    let err = plan_json(spec(joined), RootfsOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("host's"), "{err}");
}

#[test]
fn relative_rootfs_is_refused() {
    let spec: Spec = serde_json::from_value(json!({ "ociVersion": "1.0.2" })).unwrap();
    let err =
        RootfsPlan::from_spec(&spec, Path::new("rootfs"), RootfsOptions::default()).unwrap_err();
    assert!(err.to_string().contains("absolute"), "{err}");
    assert_eq!(err.errno(), None);
}
