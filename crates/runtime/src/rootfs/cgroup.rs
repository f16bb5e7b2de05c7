//! The `cgroup` mount: cgroup2 on a pure v2 host; on v1 and hybrid hosts a
//! tmpfs holding one mount per hierarchy, like runc. With a cgroup namespace
//! each hierarchy is mounted fresh (the namespace roots it at the container's
//! cgroup); without one, the container's own cgroup directories are bound.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, mkdirat, openat, symlinkat};
use rustix::io::Errno;
use rustix::mount::{MountFlags, mount};

use super::RootfsError;
use super::apply::{Ctx, bind_tree, change_attrs, set_propagation};
use super::mountinfo;
use super::options::bind_attrs;
use super::paths::fs_magic;
use super::plan::MountStep;
use super::resolve::{Create, ProcFdPath, open_in_root};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// The host's cgroup filesystems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum HostCgroups {
    /// Pure cgroup v2 at /sys/fs/cgroup.
    Unified,
    /// cgroup v1 hierarchies, plus the cgroup2 one on a hybrid host.
    Legacy(Vec<Hierarchy>),
}

/// One host cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Hierarchy {
    /// Directory name inside the container's cgroup mount (`cpu,cpuacct`, `systemd`, `unified`).
    pub name: String,
    pub mount_point: PathBuf,
    /// The subtree the host mount shows (mountinfo's root field).
    pub root: String,
    pub v2: bool,
    /// mount(2) data for a fresh v1 mount: its controllers and `name=`.
    pub data: String,
    /// The hierarchy's key in /proc/self/cgroup, as a sorted set (`cpu,cpuacct`; empty for v2).
    pub key: Vec<String>,
}

/// Finds the host's layout (in the parent; reads mountinfo only off pure v2).
pub(super) fn detect() -> Result<HostCgroups, RootfsError> {
    let statfs = rustix::fs::statfs(CGROUP_ROOT).map_err(|errno| RootfsError::HostCgroups {
        path: CGROUP_ROOT,
        errno,
    })?;
    if fs_magic(&statfs) == CGROUP2_SUPER_MAGIC {
        return Ok(HostCgroups::Unified);
    }
    const MOUNTINFO: &str = "/proc/self/mountinfo";
    let text = std::fs::read_to_string(MOUNTINFO).map_err(|e| RootfsError::HostCgroups {
        path: MOUNTINFO,
        errno: Errno::from_io_error(&e).unwrap_or(Errno::IO),
    })?;
    Ok(HostCgroups::Legacy(hierarchies(&text)))
}

impl HostCgroups {
    /// The layout brig-cgroups already detected (it reads the same
    /// mountinfo), so a create reads it once.
    pub(super) fn from_mounts(mounts: &brig_cgroups::Mounts) -> Self {
        let root = Path::new(CGROUP_ROOT);
        let pure_v2 = mounts.v1.is_empty()
            && mounts
                .unified
                .as_ref()
                .is_some_and(|u| u.mount_point == root);
        if pure_v2 {
            return Self::Unified;
        }
        let mut found: Vec<Hierarchy> = mounts
            .v1
            .iter()
            .filter_map(|m| {
                let mut key = m.proc_names();
                let data = key.join(",");
                key.sort();
                let name = m.mount_point.file_name()?.to_str()?.to_owned();
                Some(Hierarchy {
                    name,
                    mount_point: m.mount_point.clone(),
                    root: m.mount_root.clone(),
                    v2: false,
                    data,
                    key,
                })
            })
            .collect();
        if let Some(unified) = &mounts.unified
            && let Some(name) = unified.mount_point.file_name().and_then(|n| n.to_str())
        {
            found.push(Hierarchy {
                name: name.to_owned(),
                mount_point: unified.mount_point.clone(),
                root: unified.mount_root.clone(),
                v2: true,
                data: String::new(),
                key: Vec::new(),
            });
        }
        Self::Legacy(found)
    }
}

/// Superblock options of a v1 mount that are not controllers.
const NOT_CONTROLLERS: &[&str] = &[
    "rw",
    "ro",
    "xattr",
    "noprefix",
    "clone_children",
    "cpuset_v2_mode",
    "favordynmods",
];

pub(super) fn hierarchies(mountinfo_text: &str) -> Vec<Hierarchy> {
    let mut found = Vec::new();
    for entry in mountinfo::parse(mountinfo_text) {
        let v2 = match entry.fstype.as_str() {
            "cgroup" => false,
            "cgroup2" => true,
            _ => continue,
        };
        let Some(name) = entry.mount_point.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let controllers: Vec<&str> = if v2 {
            Vec::new()
        } else {
            entry
                .super_options
                .split(',')
                .filter(|o| !NOT_CONTROLLERS.contains(o) && !o.starts_with("release_agent="))
                .collect()
        };
        let mut key: Vec<String> = controllers.iter().map(|c| (*c).to_owned()).collect();
        key.sort();
        // The same hierarchy mounted twice (bind mounts of it) is listed once.
        if found.iter().any(|h: &Hierarchy| h.v2 == v2 && h.key == key) {
            continue;
        }
        found.push(Hierarchy {
            name: name.to_owned(),
            mount_point: entry.mount_point.clone(),
            root: entry.root.clone(),
            v2,
            data: controllers.join(","),
            key,
        });
    }
    found
}

/// The calling process's cgroup in each hierarchy, from /proc/self/cgroup text:
/// `(sorted controllers, path)`.
fn own_cgroups(text: &str) -> Vec<(Vec<String>, String)> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, ':');
            let (_id, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
            let mut key: Vec<String> = controllers
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            key.sort();
            Some((key, path.to_owned()))
        })
        .collect()
}

/// The host directory of our own cgroup in `hierarchy`.
fn own_dir(hierarchy: &Hierarchy, own: &[(Vec<String>, String)]) -> Option<PathBuf> {
    let (_, path) = own.iter().find(|(key, _)| *key == hierarchy.key)?;
    let below_root = Path::new(path).strip_prefix(&hierarchy.root).ok()?;
    Some(hierarchy.mount_point.join(below_root))
}

fn read_own_cgroups() -> Result<Vec<(Vec<String>, String)>, Errno> {
    // procfs reports size 0, so std would read in growing small chunks; one big read does.
    let flags = OFlags::RDONLY | OFlags::CLOEXEC;
    let fd = rustix::fs::open("/proc/self/cgroup", flags, Mode::empty())?;
    let mut buf = [0u8; 4096];
    let mut text = Vec::new();
    loop {
        let n = rustix::io::read(&fd, &mut buf)?;
        if n == 0 {
            break;
        }
        text.extend_from_slice(&buf[..n]);
    }
    Ok(own_cgroups(&String::from_utf8_lossy(&text)))
}

/// Mounts the `cgroup` entry `step` (before pivot_root).
pub(super) fn mount_cgroup(
    ctx: &Ctx<'_>,
    step: &MountStep,
    host: &HostCgroups,
) -> Result<(), RootfsError> {
    let fail = |what, errno| RootfsError::Mount {
        destination: step.destination.clone(),
        what,
        errno,
    };
    let dest = open_in_root(
        ctx.root,
        &step.destination,
        OFlags::PATH | OFlags::DIRECTORY,
        Create::Dir,
    )
    .map_err(|errno| fail("resolving the destination", errno))?;
    ctx.check_not_in_proc(step, dest.fd.as_fd())?;
    match host {
        HostCgroups::Unified => mount_unified(ctx, step, dest.fd.as_fd()),
        HostCgroups::Legacy(hierarchies) => mount_legacy(ctx, step, dest.fd.as_fd(), hierarchies),
    }
}

fn mount_unified(ctx: &Ctx<'_>, step: &MountStep, dest: BorrowedFd<'_>) -> Result<(), RootfsError> {
    let fail = |what, errno| RootfsError::Mount {
        destination: step.destination.clone(),
        what,
        errno,
    };
    match mount(
        "cgroup2",
        ProcFdPath::new(dest).as_c_str(),
        "cgroup2",
        step.flags,
        None,
    ) {
        // In a user namespace without its own cgroup namespace the kernel
        // refuses a fresh mount: bind the host's, as runc does. (With a cgroup
        // namespace, binding would show more than the container's cgroup.)
        Err(Errno::PERM | Errno::BUSY) if !ctx.plan.cgroup_namespace => {
            let attrs = bind_attrs(step.flags, MountFlags::empty());
            let tree = bind_tree(Path::new(CGROUP_ROOT), dest, false, attrs, None)
                .map_err(|errno| fail("binding the host's cgroup2", errno))?;
            set_propagation(tree.as_fd(), &step.propagation)
                .map_err(|errno| fail("propagation", errno))
        }
        Err(errno) => Err(fail("mount cgroup2", errno)),
        Ok(()) => {
            if step.propagation.is_empty() {
                return Ok(());
            }
            let top = open_in_root(
                ctx.root,
                &step.destination,
                OFlags::PATH | OFlags::DIRECTORY,
                Create::Nothing,
            )
            .map_err(|errno| fail("reopening", errno))?;
            set_propagation(top.fd.as_fd(), &step.propagation)
                .map_err(|errno| fail("propagation", errno))
        }
    }
}

fn mount_legacy(
    ctx: &Ctx<'_>,
    step: &MountStep,
    dest: BorrowedFd<'_>,
    hierarchies: &[Hierarchy],
) -> Result<(), RootfsError> {
    let fail = |what, errno| RootfsError::Mount {
        destination: step.destination.clone(),
        what,
        errno,
    };
    let base = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    mount(
        "tmpfs",
        ProcFdPath::new(dest).as_c_str(),
        "tmpfs",
        base,
        Some(c"mode=755"),
    )
    .map_err(|errno| fail("mount tmpfs", errno))?;
    let tmpfs = open_in_root(
        ctx.root,
        &step.destination,
        OFlags::PATH | OFlags::DIRECTORY,
        Create::Nothing,
    )
    .map_err(|errno| fail("reopening the tmpfs", errno))?
    .fd;
    set_propagation(tmpfs.as_fd(), &step.propagation)
        .map_err(|errno| fail("propagation", errno))?;
    let own = if ctx.plan.cgroup_namespace {
        None
    } else {
        Some(read_own_cgroups().map_err(|errno| fail("reading /proc/self/cgroup", errno))?)
    };
    for hierarchy in hierarchies {
        let sub = step.destination.join(&hierarchy.name);
        let fail = |what, errno| RootfsError::Mount {
            destination: sub.clone(),
            what,
            errno,
        };
        mkdirat(&tmpfs, hierarchy.name.as_str(), Mode::from_raw_mode(0o755))
            .map_err(|errno| fail("mkdir", errno))?;
        let target = openat(
            &tmpfs,
            hierarchy.name.as_str(),
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|errno| fail("opening the mountpoint", errno))?;
        mount_hierarchy(step, hierarchy, target.as_fd(), own.as_deref())
            .map_err(|errno| fail("mounting the hierarchy", errno))?;
        // Co-mounted controllers get a link per controller (cpu -> cpu,cpuacct).
        if hierarchy.name.contains(',') {
            for controller in hierarchy.name.split(',') {
                match symlinkat(hierarchy.name.as_str(), &tmpfs, controller) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(errno) => return Err(fail("symlink", errno)),
                }
            }
        }
    }
    if step.flags.contains(MountFlags::RDONLY) {
        let ro = rustix::mount::MountAttrFlags::MOUNT_ATTR_RDONLY;
        change_attrs(tmpfs.as_fd(), ro, rustix::mount::MountAttrFlags::empty())
            .map_err(|errno| fail("making the tmpfs read-only", errno))?;
    }
    Ok(())
}

/// In a cgroup namespace (`own` is `None`) a fresh mount, which the
/// namespace roots at the container's cgroup; without one, a bind of our own
/// cgroup directory (`own` lists them).
fn mount_hierarchy(
    step: &MountStep,
    h: &Hierarchy,
    target: BorrowedFd<'_>,
    own: Option<&[(Vec<String>, String)]>,
) -> Result<(), Errno> {
    match own {
        Some(own) => {
            let source = own_dir(h, own).ok_or(Errno::NOENT)?;
            bind_tree(
                &source,
                target,
                true,
                bind_attrs(step.flags, MountFlags::empty()),
                None,
            )
            .map(drop)
        }
        None => {
            let (fstype, data) = if h.v2 {
                ("cgroup2", None)
            } else {
                ("cgroup", Some(h.data.as_str()))
            };
            let data = data
                .map(std::ffi::CString::new)
                .transpose()
                .map_err(|_| Errno::INVAL)?;
            mount(
                fstype,
                ProcFdPath::new(target).as_c_str(),
                fstype,
                step.flags,
                data.as_deref(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
50 23 0:32 /sub /mnt/memory-again rw - cgroup cgroup rw,memory
";

    #[test]
    fn hybrid_layout_lists_each_hierarchy_once() {
        let h = hierarchies(HYBRID);
        let names: Vec<_> = h.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["cpu,cpuacct", "memory", "systemd", "unified"]);
        assert_eq!(h[0].data, "cpu,cpuacct");
        assert_eq!(
            h[2].data, "name=systemd",
            "xattr is an option, not a controller"
        );
        assert!(h[3].v2 && h[3].key.is_empty());
    }

    #[test]
    fn layout_from_brig_cgroups_matches_our_own_parse() {
        let mounts = brig_cgroups::Mounts::from_mountinfo(HYBRID, Path::new(CGROUP_ROOT));
        assert_eq!(
            HostCgroups::from_mounts(&mounts),
            HostCgroups::Legacy(hierarchies(HYBRID))
        );
    }

    #[test]
    fn own_cgroup_dirs_come_from_proc_self_cgroup() {
        let h = hierarchies(HYBRID);
        let own = own_cgroups(
            "4:memory:/brig/c1\n2:cpuacct,cpu:/brig/c1\n1:name=systemd:/user\n0::/brig/c1\n",
        );
        assert_eq!(
            own_dir(&h[0], &own),
            Some(PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/brig/c1"))
        );
        assert_eq!(
            own_dir(&h[1], &own),
            Some(PathBuf::from("/sys/fs/cgroup/memory/brig/c1"))
        );
        assert_eq!(
            own_dir(&h[2], &own),
            Some(PathBuf::from("/sys/fs/cgroup/systemd/user"))
        );
        assert_eq!(
            own_dir(&h[3], &own),
            Some(PathBuf::from("/sys/fs/cgroup/unified/brig/c1"))
        );
    }
}
