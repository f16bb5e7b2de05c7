//! config.json -> [`RootfsPlan`]: every check and every string conversion
//! done once, in the parent, so the container's init only makes syscalls.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Linux, LinuxNamespaceType, Mount, Spec};
use rustix::mount::{MountAttrFlags, MountFlags, MountPropagationFlags};

use super::cgroup::{self, HostCgroups};
use super::devices::{DevPlan, plan_devices};
use super::options::{ParsedOptions, bind_attrs, parse_options, parse_root_propagation};
use super::paths::{clean_absolute, is_within};
use super::sysctl::{Sysctl, SysctlNamespaces, plan_sysctl};
use super::{RootfsError, RootfsOptions};

/// Files under /proc that may be covered by a mount (lxcfs emulates them);
/// anything else inside /proc is refused, as runc does.
pub(super) const PROC_MOUNT_ALLOWLIST: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/pressure/cpu",
    "/proc/pressure/io",
    "/proc/pressure/memory",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// Everything the container's init needs to build its root filesystem,
/// computed by [`RootfsPlan::from_spec`] before the container exists.
#[derive(Debug)]
pub struct RootfsPlan {
    pub(super) rootfs: PathBuf,
    /// Applied to `/` first (default `rslave`).
    pub(super) root_propagation: MountPropagationFlags,
    /// `linux.rootfsPropagation` was given (it is re-applied after pivot_root).
    pub(super) propagation_given: bool,
    pub(super) mounts: Vec<MountStep>,
    /// `None` when /dev is bind-mounted from the host.
    pub(super) dev: Option<DevPlan>,
    pub(super) readonly_root: bool,
    pub(super) readonly_paths: Vec<PathBuf>,
    pub(super) masked_paths: Vec<PathBuf>,
    pub(super) sysctls: Vec<Sysctl>,
    pub(super) no_pivot: bool,
    pub(super) in_user_namespace: bool,
    /// The container has its own cgroup namespace.
    pub(super) cgroup_namespace: bool,
    /// The container has its own network namespace (sysfs may be mounted fresh).
    pub(super) network_namespace: bool,
    /// The host's cgroup layout, when a `cgroup` mount needs it.
    pub(super) host_cgroups: Option<HostCgroups>,
    /// `linux.mountLabel` when SELinux is enabled (see `label.rs`).
    pub(super) mount_label: Option<CString>,
}

/// One entry of `mounts`, ready to apply.
#[derive(Debug, Clone)]
pub(super) struct MountStep {
    /// Cleaned absolute destination inside the container.
    pub destination: PathBuf,
    pub kind: MountKind,
    /// mount(2) flags for a new filesystem (never BIND/REC/propagation bits).
    pub flags: MountFlags,
    /// `remount` option: change the mount already at the destination.
    pub remount: bool,
    /// Attributes for a bind mount: (set, clear).
    pub attrs: (MountAttrFlags, MountAttrFlags),
    /// Recursive attributes (`rro`, ...): (set, clear).
    pub recursive_attrs: (MountAttrFlags, MountAttrFlags),
    /// Filesystem data (`mode=755,size=65536k`).
    pub data: Option<CString>,
    pub propagation: Vec<MountPropagationFlags>,
    /// Mounted read-write and made read-only in `finalize`, because later
    /// mounts or /dev nodes are created below it (runc does the same).
    pub readonly_late: bool,
    /// An idmapped bind mount (see `idmapped.rs`).
    pub idmap: Option<super::idmapped::IdmapPlan>,
    /// Its source, cloned and idmapped by the runtime before the clone.
    pub idmapped_tree: Option<std::sync::Arc<std::os::fd::OwnedFd>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum MountKind {
    Bind {
        source: PathBuf,
        recursive: bool,
    },
    /// A new filesystem of `fstype` (proc, sysfs, tmpfs, devpts, mqueue, ...).
    Filesystem {
        fstype: String,
        source: String,
        tmpcopyup: bool,
    },
    /// `cgroup`: cgroup2, or a tmpfs of v1 hierarchies, as the host has them.
    Cgroup,
}

impl MountStep {
    pub(super) fn is_bind(&self) -> bool {
        matches!(self.kind, MountKind::Bind { .. })
    }

    pub(super) fn fstype(&self) -> Option<&str> {
        match &self.kind {
            MountKind::Filesystem { fstype, .. } => Some(fstype),
            MountKind::Bind { .. } | MountKind::Cgroup => None,
        }
    }
}

impl RootfsPlan {
    /// Checks config.json's root-filesystem fields and plans the work.
    /// `rootfs` is the absolute, canonical root directory. Reads the host
    /// only for a `cgroup` mount (its cgroup layout) and for /proc/kcore.
    pub fn from_spec(spec: &Spec, rootfs: &Path, opts: RootfsOptions) -> Result<Self, RootfsError> {
        if !rootfs.is_absolute() {
            return Err(RootfsError::InvalidRootfs {
                path: rootfs.into(),
                reason: "the path must be absolute",
            });
        }
        let default_linux = Linux::default();
        let linux = spec.linux().as_ref().unwrap_or(&default_linux);
        let (root_propagation, propagation_given) = plan_root_propagation(linux, opts.no_pivot)?;
        let mut mounts = Vec::new();
        for (index, mount) in spec.mounts().iter().flatten().enumerate() {
            let step = plan_mount(index, mount, linux, &opts.bundle)?;
            super::escape::check(rootfs, index, &step.destination)?;
            mounts.push(step);
        }
        let dev_from_host = mounts
            .iter()
            .any(|m| m.is_bind() && m.destination == Path::new("/dev"));
        let dev = if dev_from_host {
            None
        } else {
            Some(DevPlan {
                devices: plan_devices(linux.devices().as_deref().unwrap_or_default())?,
                kcore: Path::new("/proc/kcore").exists(),
                console: opts.terminal,
                shm_dir: !mounts
                    .iter()
                    .any(|m| m.destination == Path::new("/dev/shm")),
            })
        };
        mark_readonly_late(&mut mounts, dev.is_some());
        let host_cgroups = match mounts.iter().any(|m| m.kind == MountKind::Cgroup) {
            false => None,
            true => Some(match &opts.host_cgroups {
                Some(known) => HostCgroups::from_mounts(known),
                None => cgroup::detect()?,
            }),
        };
        let has = |typ| {
            linux
                .namespaces()
                .iter()
                .flatten()
                .any(|ns| ns.typ() == typ)
        };
        Ok(Self {
            rootfs: rootfs.to_path_buf(),
            root_propagation,
            propagation_given,
            mounts,
            dev,
            readonly_root: spec
                .root()
                .as_ref()
                .and_then(|r| r.readonly())
                .unwrap_or(false),
            readonly_paths: plan_paths("readonlyPaths", linux.readonly_paths())?,
            masked_paths: plan_paths("maskedPaths", linux.masked_paths())?,
            sysctls: plan_sysctls(linux)?,
            no_pivot: opts.no_pivot,
            in_user_namespace: opts.in_user_namespace,
            cgroup_namespace: has(LinuxNamespaceType::Cgroup),
            network_namespace: has(LinuxNamespaceType::Network),
            host_cgroups,
            mount_label: None,
        })
    }

    /// The container's root directory on the host.
    pub fn rootfs(&self) -> &Path {
        &self.rootfs
    }

    /// True when brig builds /dev itself (it is not bind-mounted from the host).
    pub fn creates_dev(&self) -> bool {
        self.dev.is_some()
    }
}

fn plan_root_propagation(
    linux: &Linux,
    no_pivot: bool,
) -> Result<(MountPropagationFlags, bool), RootfsError> {
    let default = MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC;
    let Some(value) = linux
        .rootfs_propagation()
        .as_deref()
        .filter(|v| !v.is_empty())
    else {
        return Ok((default, false));
    };
    let invalid = |reason| RootfsError::InvalidPropagation {
        value: value.to_owned(),
        reason,
    };
    let flags = parse_root_propagation(value).ok_or_else(|| invalid("unknown propagation"))?;
    if no_pivot && flags.contains(MountPropagationFlags::PRIVATE) {
        // The host's mounts stay reachable under a chroot; only slave keeps unmounts from reaching the host.
        return Err(invalid("[r]private is not safe with --no-pivot"));
    }
    Ok((flags, true))
}

fn plan_mount(
    index: usize,
    mount: &Mount,
    linux: &Linux,
    bundle: &Path,
) -> Result<MountStep, RootfsError> {
    let destination =
        clean_absolute(mount.destination()).ok_or_else(|| RootfsError::InvalidDestination {
            index,
            destination: mount.destination().clone(),
            reason: "it must be an absolute path inside the container",
        })?;
    let invalid = |problem| match problem {
        Problem::Mount(reason) => RootfsError::InvalidMount {
            index,
            destination: destination.clone(),
            reason,
        },
        Problem::Option(option, reason) => RootfsError::InvalidOption {
            index,
            destination: destination.clone(),
            option,
            reason,
        },
        Problem::Destination(reason) => RootfsError::InvalidDestination {
            index,
            destination: destination.clone(),
            reason,
        },
    };
    let options = parse_options(mount.options().iter().flatten().map(String::as_str));
    let kind = plan_kind(mount, &options, bundle).map_err(invalid)?;
    let is_bind = matches!(kind, MountKind::Bind { .. });
    let idmap = super::idmapped::plan(mount, &options, linux, is_bind)
        .map_err(|reason| invalid(Problem::Mount(reason)))?;
    check_destination(&destination, &kind).map_err(invalid)?;
    let data = plan_data(&options)
        .map_err(|option| invalid(Problem::Option(option, "contains a NUL byte")))?;
    Ok(MountStep {
        kind,
        flags: options.flags,
        remount: options.remount,
        attrs: bind_attrs(options.flags, options.cleared),
        recursive_attrs: (options.recursive_set, options.recursive_clear),
        data,
        propagation: options.propagation,
        readonly_late: false,
        destination,
        idmap,
        idmapped_tree: None,
    })
}

/// What is wrong with one `mounts[]` entry (the caller adds index and destination).
enum Problem {
    Mount(&'static str),
    Option(String, &'static str),
    Destination(&'static str),
}

fn plan_kind(mount: &Mount, options: &ParsedOptions, bundle: &Path) -> Result<MountKind, Problem> {
    let typ = mount.typ().as_deref().filter(|t| !t.is_empty());
    if options.bind.is_some() || typ == Some("bind") {
        if let Some(unknown) = options.data.first() {
            let reason = "unknown option for a bind mount (a typo would drop a protection)";
            return Err(Problem::Option(unknown.clone(), reason));
        }
        let source = mount
            .source()
            .as_ref()
            .filter(|s| !s.as_os_str().is_empty());
        let source = source.ok_or(Problem::Mount("a bind mount needs a source"))?;
        let recursive = options.bind == Some(true);
        return Ok(MountKind::Bind {
            source: bundle.join(source),
            recursive,
        });
    }
    let fstype = typ.ok_or(Problem::Mount(
        "the mount has no type (proc, tmpfs, ...) and no bind option",
    ))?;
    if options.tmpcopyup && fstype != "tmpfs" {
        let reason = "only a tmpfs can be filled from the image";
        return Err(Problem::Option("tmpcopyup".into(), reason));
    }
    if options.has_recursive_attrs() {
        let reason = "recursive attributes (rro, rnosuid, ...) apply to bind mounts";
        return Err(Problem::Option("r*".into(), reason));
    }
    if fstype == "cgroup" {
        return Ok(MountKind::Cgroup);
    }
    let source = mount
        .source()
        .as_ref()
        .map(|s| s.to_string_lossy().into_owned());
    Ok(MountKind::Filesystem {
        fstype: fstype.to_owned(),
        source: source
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| fstype.to_owned()),
        tmpcopyup: options.tmpcopyup,
    })
}

fn plan_data(options: &ParsedOptions) -> Result<Option<CString>, String> {
    if options.data.is_empty() {
        return Ok(None);
    }
    if let Some(bad) = options.data.iter().find(|o| o.contains('\0')) {
        return Err(bad.clone());
    }
    CString::new(options.data.join(","))
        .map(Some)
        .map_err(|_| options.data.join(","))
}

/// Not over the root itself; on /proc only a fresh procfs, and inside it
/// only lxcfs-style files.
fn check_destination(destination: &Path, kind: &MountKind) -> Result<(), Problem> {
    if destination == Path::new("/") {
        return Err(Problem::Mount(
            "mounting over / is not allowed; the root is root.path",
        ));
    }
    if !is_within(destination, Path::new("/proc")) {
        return Ok(());
    }
    let is_proc = matches!(kind, MountKind::Filesystem { fstype, .. } if fstype == "proc");
    if destination == Path::new("/proc") {
        return match is_proc {
            true => Ok(()),
            false => Err(Problem::Destination(
                "only a filesystem of type proc may be mounted on /proc",
            )),
        };
    }
    if PROC_MOUNT_ALLOWLIST
        .iter()
        .any(|allowed| destination == Path::new(allowed))
    {
        return Ok(());
    }
    Err(Problem::Destination(
        "mounts inside /proc are refused (except lxcfs-style files such as /proc/meminfo)",
    ))
}

/// A tmpfs (or the /dev filesystem) mounted read-only stays writable until
/// `finalize` when anything is created below it later.
fn mark_readonly_late(mounts: &mut [MountStep], creates_dev: bool) {
    for i in 0..mounts.len() {
        let step = &mounts[i];
        let tmpfs_or_dev = step.fstype() == Some("tmpfs")
            || (!step.is_bind() && step.destination == Path::new("/dev"));
        if !tmpfs_or_dev || !step.flags.contains(MountFlags::RDONLY) {
            continue;
        }
        let below = |path: &Path| is_within(path, &step.destination);
        let late = mounts[i + 1..]
            .iter()
            .any(|later| below(&later.destination))
            || (creates_dev && below(Path::new("/dev")));
        mounts[i].readonly_late = late;
    }
}

fn plan_paths(
    field: &'static str,
    paths: &Option<Vec<String>>,
) -> Result<Vec<PathBuf>, RootfsError> {
    let paths = paths.iter().flatten();
    paths
        .map(|path| {
            clean_absolute(Path::new(path))
                .filter(|p| p != Path::new("/"))
                .ok_or_else(|| RootfsError::InvalidPath {
                    field,
                    path: path.clone(),
                    reason: "it must be an absolute path below /",
                })
        })
        .collect()
}

fn plan_sysctls(linux: &Linux) -> Result<Vec<Sysctl>, RootfsError> {
    let Some(sysctl) = linux.sysctl().as_ref().filter(|s| !s.is_empty()) else {
        return Ok(Vec::new());
    };
    let namespaces = linux.namespaces().as_deref().unwrap_or_default();
    let has = |typ| namespaces.iter().any(|ns| ns.typ() == typ);
    let net = namespaces
        .iter()
        .find(|ns| ns.typ() == LinuxNamespaceType::Network);
    let ns = SysctlNamespaces {
        ipc: has(LinuxNamespaceType::Ipc),
        uts: has(LinuxNamespaceType::Uts),
        // Joining a namespace by path counts only if it is not the runtime's own one.
        private_net: net
            .is_some_and(|ns| ns.path().as_deref().is_none_or(|p| !is_current_netns(p))),
    };
    // Sorted, so the writes (and any error) do not depend on hash order.
    let mut keys: Vec<&String> = sysctl.keys().collect();
    keys.sort();
    keys.into_iter()
        .map(|name| plan_sysctl(name, &sysctl[name], ns))
        .collect()
}

/// True when `path` is the network namespace this process is in.
fn is_current_netns(path: &Path) -> bool {
    let ours = rustix::fs::stat("/proc/self/ns/net");
    let theirs = rustix::fs::stat(path);
    matches!((ours, theirs), (Ok(a), Ok(b)) if a.st_dev == b.st_dev && a.st_ino == b.st_ino)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
pub(super) mod tests;
