//! The container's /dev: default device nodes, `linux.devices`, the standard
//! symlinks and the /dev/console placeholder.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use rustix::fs::{
    AtFlags, FileType, Gid, Mode, OFlags, Uid, chownat, makedev, mkdirat, mknodat, openat,
    symlinkat,
};
use rustix::io::Errno;
use rustix::mount::{MoveMountFlags, OpenTreeFlags, move_mount, open_tree};

use super::RootfsError;
use super::paths::clean_absolute;
use super::resolve::{Create, open_in_root};

/// One device node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DeviceNode {
    /// Absolute, cleaned path inside the container.
    pub path: PathBuf,
    pub kind: FileType,
    pub major: u32,
    pub minor: u32,
    /// Permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Everything brig creates in /dev when /dev is not bind-mounted from the host.
#[derive(Debug, Clone)]
pub(super) struct DevPlan {
    pub devices: Vec<DeviceNode>,
    /// `/dev/core -> /proc/kcore` (only when the kernel has /proc/kcore, as runc does).
    pub kcore: bool,
    /// Create the /dev/console placeholder (the process uses a terminal).
    pub console: bool,
    /// Create /dev/shm: no mount makes it.
    pub shm_dir: bool,
}

/// The nodes every container gets (runc's list), 0666 root:root.
fn default_devices() -> Vec<DeviceNode> {
    const DEFAULTS: &[(&str, u32, u32)] = &[
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ];
    DEFAULTS
        .iter()
        .map(|&(path, major, minor)| DeviceNode {
            path: PathBuf::from(path),
            kind: FileType::CharacterDevice,
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect()
}

/// The default nodes, then `linux.devices` (an entry with the same path
/// replaces a default). `/dev/ptmx` is skipped: it is always the symlink to
/// the container's own devpts.
pub(super) fn plan_devices(spec_devices: &[LinuxDevice]) -> Result<Vec<DeviceNode>, RootfsError> {
    let mut nodes = default_devices();
    for (index, device) in spec_devices.iter().enumerate() {
        let node = plan_device(index, device)?;
        if node.path == Path::new("/dev/ptmx") {
            continue;
        }
        match nodes.iter_mut().find(|n| n.path == node.path) {
            Some(existing) => *existing = node,
            None => nodes.push(node),
        }
    }
    Ok(nodes)
}

fn plan_device(index: usize, device: &LinuxDevice) -> Result<DeviceNode, RootfsError> {
    let invalid = |reason| RootfsError::InvalidDevice {
        index,
        path: device.path().clone(),
        reason,
    };
    let path = clean_absolute(device.path()).ok_or_else(|| invalid("the path must be absolute"))?;
    if path == Path::new("/") {
        return Err(invalid("the path must name a file, not the root"));
    }
    let kind = match device.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => FileType::CharacterDevice,
        LinuxDeviceType::B => FileType::BlockDevice,
        LinuxDeviceType::P => FileType::Fifo,
        LinuxDeviceType::A => {
            return Err(invalid(
                "type \"a\" is for cgroup rules; a node needs c, b, u or p",
            ));
        }
    };
    let number = |n: i64| {
        u32::try_from(n).map_err(|_| invalid("major and minor must be between 0 and 4294967295"))
    };
    let (major, minor) = if kind == FileType::Fifo {
        (0, 0)
    } else {
        (number(device.major())?, number(device.minor())?)
    };
    let mode = device.file_mode().unwrap_or(0o666);
    if mode & !0o177_777 != 0 {
        return Err(invalid("fileMode has bits beyond a file mode"));
    }
    Ok(DeviceNode {
        path,
        kind,
        major,
        minor,
        mode: mode & 0o7777,
        uid: device.uid().unwrap_or(0),
        gid: device.gid().unwrap_or(0),
    })
}

/// The symlinks of a standard /dev: `(name in /dev, target)`.
const DEV_SYMLINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];

/// Fills the container's /dev (before pivot_root; `root` is the rootfs).
/// In a user namespace, mknod is not allowed: nodes are bind-mounted from the
/// host's identical paths instead, like runc does.
pub(super) fn create_dev(
    root: BorrowedFd<'_>,
    plan: &DevPlan,
    bind_from_host: bool,
) -> Result<(), RootfsError> {
    let dev_path = Path::new("/dev");
    let dev = open_in_root(
        root,
        dev_path,
        OFlags::PATH | OFlags::DIRECTORY,
        Create::Dir,
    )
    .map_err(|errno| RootfsError::Device {
        path: dev_path.into(),
        what: "opening /dev",
        errno,
    })?
    .fd;
    for node in &plan.devices {
        create_node(root, dev.as_fd(), node, bind_from_host)?;
    }
    let links = DEV_SYMLINKS
        .iter()
        .copied()
        .chain(plan.kcore.then_some(("core", "/proc/kcore")));
    for (name, target) in links {
        ignore_exists(symlinkat(target, &dev, name)).map_err(|errno| RootfsError::Device {
            path: dev_path.join(name),
            what: "symlink",
            errno,
        })?;
    }
    if plan.shm_dir {
        ignore_exists(mkdirat(&dev, "shm", Mode::from_raw_mode(0o1777))).map_err(|errno| {
            RootfsError::Device {
                path: dev_path.join("shm"),
                what: "mkdir",
                errno,
            }
        })?;
    }
    if plan.console {
        // An empty file to bind the terminal on later; made now, while /dev is surely writable.
        ignore_exists(create_empty_file(dev.as_fd(), OsStr::new("console"), 0o666).map(drop))
            .map_err(|errno| RootfsError::Device {
                path: dev_path.join("console"),
                what: "creating the placeholder",
                errno,
            })?;
    }
    Ok(())
}

fn create_node(
    root: BorrowedFd<'_>,
    dev: BorrowedFd<'_>,
    node: &DeviceNode,
    bind: bool,
) -> Result<(), RootfsError> {
    let error = |what, errno| RootfsError::Device {
        path: node.path.clone(),
        what,
        errno,
    };
    let name = node
        .path
        .file_name()
        .ok_or_else(|| error("naming the node", Errno::INVAL))?;
    let parent_path = node.path.parent().unwrap_or(Path::new("/"));
    // Nodes directly in /dev (nearly all) reuse the /dev fd; others get their directory made.
    let parent_fd;
    let parent = if parent_path == Path::new("/dev") {
        dev
    } else {
        parent_fd = open_in_root(
            root,
            parent_path,
            OFlags::PATH | OFlags::DIRECTORY,
            Create::Dir,
        )
        .map_err(|errno| error("creating its directory", errno))?
        .fd;
        parent_fd.as_fd()
    };
    if bind {
        return bind_host_node(parent, name, node)
            .map_err(|errno| error("bind-mounting from the host", errno));
    }
    let dev_number = makedev(node.major, node.minor);
    match mknodat(
        parent,
        name,
        node.kind,
        Mode::from_raw_mode(node.mode),
        dev_number,
    ) {
        Ok(()) => {}
        // runc's rule: an existing file is left alone.
        Err(Errno::EXIST) => return Ok(()),
        Err(Errno::PERM) => {
            return bind_host_node(parent, name, node)
                .map_err(|errno| error("bind-mounting from the host", errno));
        }
        Err(errno) => return Err(error("mknod", errno)),
    }
    if node.uid != 0 || node.gid != 0 {
        let owner = (Some(Uid::from_raw(node.uid)), Some(Gid::from_raw(node.gid)));
        chownat(parent, name, owner.0, owner.1, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|errno| error("chown", errno))?;
    }
    Ok(())
}

/// Binds the host's node at the same path onto an empty file (user namespaces).
fn bind_host_node(parent: BorrowedFd<'_>, name: &OsStr, node: &DeviceNode) -> Result<(), Errno> {
    let target = match create_empty_file(parent, name, 0o000) {
        Ok(fd) => fd,
        Err(Errno::EXIST) => openat(
            parent,
            name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?,
        Err(errno) => return Err(errno),
    };
    let tree = open_tree(
        rustix::fs::CWD,
        &node.path,
        OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
    )?;
    move_mount(
        &tree,
        "",
        &target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
}

fn create_empty_file(parent: BorrowedFd<'_>, name: &OsStr, mode: u32) -> Result<OwnedFd, Errno> {
    openat(
        parent,
        name,
        OFlags::CREATE | OFlags::EXCL | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )
}

fn ignore_exists(result: Result<(), Errno>) -> Result<(), Errno> {
    match result {
        Err(Errno::EXIST) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceBuilder;

    fn device(path: &str, typ: LinuxDeviceType, major: i64, minor: i64) -> LinuxDevice {
        LinuxDeviceBuilder::default()
            .path(path)
            .typ(typ)
            .major(major)
            .minor(minor)
            .build()
            .unwrap()
    }

    #[test]
    fn default_dev_list_is_runcs() {
        let nodes = plan_devices(&[]).unwrap();
        let names: Vec<_> = nodes.iter().map(|n| n.path.to_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "/dev/null",
                "/dev/zero",
                "/dev/full",
                "/dev/random",
                "/dev/urandom",
                "/dev/tty"
            ]
        );
        assert!(
            nodes
                .iter()
                .all(|n| n.kind == FileType::CharacterDevice && n.mode == 0o666)
        );
        assert_eq!((nodes[0].major, nodes[0].minor), (1, 3));
        assert_eq!((nodes[5].major, nodes[5].minor), (5, 0));
    }

    #[test]
    fn spec_devices_add_to_and_replace_defaults() {
        let mut null = device("/dev/null", LinuxDeviceType::C, 1, 3);
        null.set_file_mode(Some(0o600));
        let fuse = device("/dev/fuse", LinuxDeviceType::C, 10, 229);
        let tun = device("/dev/net/tun", LinuxDeviceType::U, 10, 200);
        let ptmx = device("/dev/ptmx", LinuxDeviceType::C, 5, 2);
        let nodes = plan_devices(&[null, fuse, tun, ptmx]).unwrap();
        assert_eq!(
            nodes.len(),
            8,
            "null replaced, fuse and tun added, ptmx skipped"
        );
        assert_eq!(nodes[0].mode, 0o600);
        assert_eq!(nodes[7].path, PathBuf::from("/dev/net/tun"));
        assert_eq!(nodes[7].kind, FileType::CharacterDevice);
    }

    #[test]
    fn bad_devices_are_refused_with_their_index() {
        let cases = [
            (device("dev/sda", LinuxDeviceType::B, 8, 0), "absolute"),
            (device("/dev/all", LinuxDeviceType::A, 0, 0), "type \"a\""),
            (
                device("/dev/neg", LinuxDeviceType::C, -1, 0),
                "major and minor",
            ),
            (device("/", LinuxDeviceType::C, 1, 3), "not the root"),
        ];
        for (dev, expected) in cases {
            let err = plan_devices(&[device("/dev/ok", LinuxDeviceType::P, 0, 0), dev])
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("linux.devices[1]") && err.contains(expected),
                "{err}"
            );
        }
    }

    #[test]
    fn device_paths_with_dotdot_are_cleaned() {
        let nodes =
            plan_devices(&[device("/dev/../../dev/./kvm", LinuxDeviceType::C, 10, 232)]).unwrap();
        assert_eq!(nodes.last().unwrap().path, PathBuf::from("/dev/kvm"));
    }
}
