//! [`prepare`]: the root's propagation, the rootfs bound onto itself, every
//! entry of `mounts` and /dev, before pivot_root (host paths still visible).
//!
//! Destinations are resolved inside the root (see `resolve`), then mounted
//! through the resolved fd: `move_mount` for binds, `/proc/self/fd/N` as the
//! mount(2) target for new filesystems.

use std::cell::Cell;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use brig_sys::mount::{MountAttr, MountTarget, mount_setattr};
use rustix::fs::{FileType, Mode, OFlags, StatVfsMountFlags, fchmod, fstat, fstatfs, fstatvfs};
use rustix::io::Errno;
use rustix::mount::{
    MountAttrFlags, MountFlags, MountPropagationFlags, MoveMountFlags, OpenTreeFlags, mount,
    mount_bind_recursive, mount_change, move_mount, open_tree,
};

use super::RootfsError;
use super::cgroup;
use super::copyup::copy_dir_contents;
use super::devices::create_dev;
use super::paths::fs_magic;
use super::plan::{MountKind, MountStep, PROC_MOUNT_ALLOWLIST, RootfsPlan};
use super::resolve::{Create, ProcFdPath, Resolved, create_in_root, open_in_root};

const PROC_SUPER_MAGIC: i64 = 0x9fa0;
const MS_REMOUNT: MountFlags = MountFlags::from_bits_retain(32);

/// Builds the container's mounts and /dev; see the module docs of `rootfs`.
pub fn prepare(plan: &RootfsPlan) -> Result<(), RootfsError> {
    // Nodes and mountpoints get exactly the modes asked for; one umask call instead of a chmod each.
    let old_umask = rustix::process::umask(Mode::empty());
    let result = prepare_with_umask_0(plan);
    rustix::process::umask(old_umask);
    result
}

fn prepare_with_umask_0(plan: &RootfsPlan) -> Result<(), RootfsError> {
    let fail = |what, errno| RootfsError::Root {
        path: plan.rootfs.clone(),
        what,
        errno,
    };
    mount_change("/", plan.root_propagation)
        .map_err(|errno| fail("setting the propagation of /", errno))?;
    if !is_recursive_slave_or_private(plan.root_propagation) {
        // pivot_root refuses a shared parent mount, and our bind must not propagate to the host.
        make_parent_mount_private(&plan.rootfs)
            .map_err(|errno| fail("making its parent mount private", errno))?;
    }
    mount_bind_recursive(&plan.rootfs, &plan.rootfs)
        .map_err(|errno| fail("binding it onto itself", errno))?;
    // Opened after the bind, so lookups through it see the mounts made below.
    let root = rustix::fs::open(
        &plan.rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|errno| fail("opening it", errno))?;
    let ctx = Ctx {
        root: root.as_fd(),
        plan,
        proc_mounted: Cell::new(false),
    };
    for step in &plan.mounts {
        apply_step(&ctx, step)?;
    }
    if let Some(dev) = &plan.dev {
        create_dev(root.as_fd(), dev, plan.in_user_namespace)?;
    }
    Ok(())
}

pub(super) fn is_recursive_slave_or_private(flags: MountPropagationFlags) -> bool {
    flags.contains(MountPropagationFlags::REC)
        && flags.intersects(MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::PRIVATE)
}

/// Makes the mount holding `path` private, climbing to the nearest mountpoint.
fn make_parent_mount_private(path: &Path) -> Result<(), Errno> {
    let mut current = Some(path);
    while let Some(dir) = current {
        match mount_change(dir, MountPropagationFlags::PRIVATE) {
            Err(Errno::INVAL) => current = dir.parent(),
            other => return other,
        }
    }
    Ok(())
}

/// State shared by the mount steps of one `prepare`.
#[derive(Debug)]
pub(super) struct Ctx<'a> {
    pub root: BorrowedFd<'a>,
    pub plan: &'a RootfsPlan,
    /// A procfs is mounted in the root: later destinations must not land in it.
    proc_mounted: Cell<bool>,
}

impl Ctx<'_> {
    /// Refuses a destination that resolved into the container's procfs
    /// (e.g. through a symlink in the image), except the lxcfs-style files.
    pub fn check_not_in_proc(
        &self,
        step: &MountStep,
        dest: BorrowedFd<'_>,
    ) -> Result<(), RootfsError> {
        if !self.proc_mounted.get() {
            return Ok(());
        }
        let statfs = fstatfs(dest).map_err(|errno| RootfsError::Mount {
            destination: step.destination.clone(),
            what: "checking the destination's filesystem",
            errno,
        })?;
        let allowed = PROC_MOUNT_ALLOWLIST
            .iter()
            .any(|p| step.destination == Path::new(p));
        if fs_magic(&statfs) == PROC_SUPER_MAGIC && !allowed {
            return Err(RootfsError::MountInProc {
                destination: step.destination.clone(),
            });
        }
        Ok(())
    }
}

fn apply_step(ctx: &Ctx<'_>, step: &MountStep) -> Result<(), RootfsError> {
    match &step.kind {
        MountKind::Bind { source, recursive } => mount_bind(ctx, step, source, *recursive),
        MountKind::Filesystem {
            fstype,
            source,
            tmpcopyup,
        } => mount_filesystem(ctx, step, fstype, source, *tmpcopyup),
        MountKind::Cgroup => match &ctx.plan.host_cgroups {
            Some(host) => cgroup::mount_cgroup(ctx, step, host),
            None => Err(RootfsError::Mount {
                destination: step.destination.clone(),
                what: "the host's cgroup layout was not planned",
                errno: Errno::INVAL,
            }),
        },
    }
}

fn mount_bind(
    ctx: &Ctx<'_>,
    step: &MountStep,
    source: &Path,
    recursive: bool,
) -> Result<(), RootfsError> {
    let fail = |what, errno| RootfsError::Mount {
        destination: step.destination.clone(),
        what,
        errno,
    };
    if step.remount {
        // `bind,remount`: only change the mount already there.
        let dest = open_in_root(ctx.root, &step.destination, OFlags::PATH, Create::Nothing)
            .map_err(|errno| fail("resolving the destination", errno))?;
        change_attrs(dest.fd.as_fd(), step.attrs.0, step.attrs.1)
            .map_err(|errno| fail("changing attributes", errno))?;
        return set_propagation(dest.fd.as_fd(), &step.propagation)
            .map_err(|errno| fail("propagation", errno));
    }
    let dest = match open_in_root(ctx.root, &step.destination, OFlags::PATH, Create::Nothing) {
        Ok(dest) => dest,
        Err(Errno::NOENT) => {
            // The mountpoint is a directory or a file, like the source.
            let source_stat =
                rustix::fs::stat(source).map_err(|errno| fail("looking at the source", errno))?;
            let create = match FileType::from_raw_mode(source_stat.st_mode) {
                FileType::Directory => Create::Dir,
                _ => Create::File,
            };
            let fd = create_in_root(ctx.root, &step.destination, OFlags::PATH, create)
                .map_err(|errno| fail("creating the mountpoint", errno))?;
            Resolved { fd, existed: false }
        }
        Err(errno) => return Err(fail("resolving the destination", errno)),
    };
    ctx.check_not_in_proc(step, dest.fd.as_fd())?;
    let (set, clear) = step.recursive_attrs;
    let recursive_attrs = (!set.is_empty() || !clear.is_empty()).then_some(step.recursive_attrs);
    let cloned;
    let tree = match (&step.idmapped_tree, &step.idmap) {
        // Cloned and idmapped by the runtime (see `idmapped.rs`).
        (Some(tree), _) => &**tree,
        (None, Some(_)) => {
            return Err(fail(
                "the runtime did not prepare the idmapped source",
                Errno::INVAL,
            ));
        }
        (None, None) => {
            cloned = clone_tree(source, recursive).map_err(|errno| RootfsError::BindSource {
                destination: step.destination.clone(),
                bind_source: source.to_path_buf(),
                errno,
            })?;
            &cloned
        }
    };
    attach_tree(tree, dest.fd.as_fd(), step.attrs, recursive_attrs)
        .map_err(|errno| fail("bind mount", errno))?;
    set_propagation(tree.as_fd(), &step.propagation).map_err(|errno| fail("propagation", errno))
}

/// A detached copy of the mount tree at `source` (one mount unless `recursive`).
fn clone_tree(source: &Path, recursive: bool) -> Result<OwnedFd, Errno> {
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    open_tree(rustix::fs::CWD, source, flags)
}

/// Clones `source` (with its submounts when `recursive`), sets its attributes
/// while still detached, and attaches it on `target`. Returns the mount's fd.
pub(super) fn bind_tree(
    source: &Path,
    target: BorrowedFd<'_>,
    recursive: bool,
    attrs: (MountAttrFlags, MountAttrFlags),
    recursive_attrs: Option<(MountAttrFlags, MountAttrFlags)>,
) -> Result<OwnedFd, Errno> {
    let tree = clone_tree(source, recursive)?;
    attach_tree(&tree, target, attrs, recursive_attrs)?;
    Ok(tree)
}

/// Sets the attributes of the detached `tree` and attaches it on `target`.
fn attach_tree(
    tree: &OwnedFd,
    target: BorrowedFd<'_>,
    attrs: (MountAttrFlags, MountAttrFlags),
    recursive_attrs: Option<(MountAttrFlags, MountAttrFlags)>,
) -> Result<(), Errno> {
    let mut attrs_after_attach = false;
    if !attrs.0.is_empty() || !attrs.1.is_empty() {
        match setattr(tree.as_fd(), false, attrs) {
            Err(Errno::NOSYS) => attrs_after_attach = true,
            other => other?,
        }
    }
    if let Some(recursive_attrs) = recursive_attrs {
        setattr(tree.as_fd(), true, recursive_attrs)?;
    }
    let both_fds =
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH;
    move_mount(tree, "", target, "", both_fds)?;
    if attrs_after_attach {
        // Before Linux 5.12: only an attached mount can be remounted.
        remount_keeping_flags(tree.as_fd(), attrs.0, attrs.1)?;
    }
    Ok(())
}

fn setattr(
    mnt: BorrowedFd<'_>,
    recursive: bool,
    (set, clear): (MountAttrFlags, MountAttrFlags),
) -> Result<(), Errno> {
    let attr = MountAttr {
        set,
        clear,
        ..MountAttr::default()
    };
    mount_setattr(MountTarget::Fd(mnt), recursive, &attr)
        .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))
}

/// Sets and clears attributes of the (attached) mount `mnt` and nothing else.
pub(super) fn change_attrs(
    mnt: BorrowedFd<'_>,
    set: MountAttrFlags,
    clear: MountAttrFlags,
) -> Result<(), Errno> {
    match setattr(mnt, false, (set, clear)) {
        Err(Errno::NOSYS) => remount_keeping_flags(mnt, set, clear),
        other => other,
    }
}

/// Before Linux 5.12 (no mount_setattr): a bind remount resets every
/// per-mount flag, so pass the ones the mount has (the locked ones in a
/// user namespace must be kept, or the kernel refuses).
fn remount_keeping_flags(
    mnt: BorrowedFd<'_>,
    set: MountAttrFlags,
    clear: MountAttrFlags,
) -> Result<(), Errno> {
    const KEPT: &[(StatVfsMountFlags, MountFlags)] = &[
        (StatVfsMountFlags::RDONLY, MountFlags::RDONLY),
        (StatVfsMountFlags::NOSUID, MountFlags::NOSUID),
        (StatVfsMountFlags::NODEV, MountFlags::NODEV),
        (StatVfsMountFlags::NOEXEC, MountFlags::NOEXEC),
        (StatVfsMountFlags::NOATIME, MountFlags::NOATIME),
        (StatVfsMountFlags::NODIRATIME, MountFlags::NODIRATIME),
        (StatVfsMountFlags::RELATIME, MountFlags::RELATIME),
    ];
    const SIMPLE: &[(MountAttrFlags, MountFlags)] = &[
        (MountAttrFlags::MOUNT_ATTR_RDONLY, MountFlags::RDONLY),
        (MountAttrFlags::MOUNT_ATTR_NOSUID, MountFlags::NOSUID),
        (MountAttrFlags::MOUNT_ATTR_NODEV, MountFlags::NODEV),
        (MountAttrFlags::MOUNT_ATTR_NOEXEC, MountFlags::NOEXEC),
        (
            MountAttrFlags::MOUNT_ATTR_NODIRATIME,
            MountFlags::NODIRATIME,
        ),
        (
            MountAttrFlags::MOUNT_ATTR_NOSYMFOLLOW,
            MountFlags::NOSYMFOLLOW,
        ),
    ];
    let current = fstatvfs(mnt)?.f_flag;
    let mut flags = MountFlags::BIND | MS_REMOUNT;
    for &(st, ms) in KEPT {
        if current.contains(st) {
            flags |= ms;
        }
    }
    for &(attr, ms) in SIMPLE {
        if set.contains(attr) {
            flags |= ms;
        } else if clear.contains(attr) {
            flags.remove(ms);
        }
    }
    if clear.contains(MountAttrFlags::MOUNT_ATTR__ATIME) {
        flags.remove(MountFlags::NOATIME | MountFlags::RELATIME | MountFlags::STRICTATIME);
        let mode = set & MountAttrFlags::MOUNT_ATTR__ATIME;
        flags |= if mode == MountAttrFlags::MOUNT_ATTR_NOATIME {
            MountFlags::NOATIME
        } else if mode == MountAttrFlags::MOUNT_ATTR_STRICTATIME {
            MountFlags::STRICTATIME
        } else {
            MountFlags::RELATIME
        };
    }
    mount("", ProcFdPath::new(mnt).as_c_str(), "", flags, None)
}

/// Applies `propagation` changes, in order, to the mount whose root is `mnt`.
pub(super) fn set_propagation(
    mnt: BorrowedFd<'_>,
    propagation: &[MountPropagationFlags],
) -> Result<(), Errno> {
    for &change in propagation {
        mount_change(ProcFdPath::new(mnt).as_c_str(), change)?;
    }
    Ok(())
}

fn mount_filesystem(
    ctx: &Ctx<'_>,
    step: &MountStep,
    fstype: &str,
    source: &str,
    tmpcopyup: bool,
) -> Result<(), RootfsError> {
    let fail = |what, errno| RootfsError::Mount {
        destination: step.destination.clone(),
        what,
        errno,
    };
    let plan = ctx.plan;
    if fstype == "sysfs" && plan.in_user_namespace && !plan.network_namespace {
        // The kernel lets a user namespace mount sysfs only with its own network namespace.
        return mount_bind(ctx, step, Path::new("/sys"), true);
    }
    // tmpcopyup reads the image's directory through this fd once the tmpfs covers it.
    let open_flags = if tmpcopyup {
        OFlags::RDONLY | OFlags::DIRECTORY
    } else {
        OFlags::PATH
    };
    let create = if step.remount {
        Create::Nothing
    } else {
        Create::Dir
    };
    let dest = open_in_root(ctx.root, &step.destination, open_flags, create)
        .map_err(|errno| fail("resolving the destination", errno))?;
    if fstype != "proc" {
        ctx.check_not_in_proc(step, dest.fd.as_fd())?;
    }
    let mut flags = step.flags;
    if step.remount {
        flags |= MS_REMOUNT;
    }
    let readonly_after_copy =
        tmpcopyup && flags.contains(MountFlags::RDONLY) && !step.readonly_late;
    if step.readonly_late || readonly_after_copy {
        flags.remove(MountFlags::RDONLY);
    }
    match mount(
        source,
        ProcFdPath::new(dest.fd.as_fd()).as_c_str(),
        fstype,
        flags,
        step.data.as_deref(),
    ) {
        Err(Errno::PERM) if fstype == "sysfs" && plan.in_user_namespace => {
            return mount_bind(ctx, step, Path::new("/sys"), true);
        }
        other => other.map_err(|errno| fail("mount", errno))?,
    }
    if fstype == "proc" {
        ctx.proc_mounted.set(true);
    }
    if fstype == "mqueue" {
        super::label::label_mqueue(plan, step)?;
    }
    let after = AfterMount {
        copy_up: tmpcopyup,
        readonly_after_copy,
        // runc gives a tmpfs without mode= the mode of the directory it covers.
        copy_mode: fstype == "tmpfs" && dest.existed && !step.remount && !has_mode_option(step),
    };
    finish_new_mount(ctx, step, dest.fd, after)
}

/// What is left to do once a new filesystem is mounted.
struct AfterMount {
    copy_up: bool,
    readonly_after_copy: bool,
    copy_mode: bool,
}

/// tmpcopyup, mode of the covered directory and propagation: all through
/// the new mount's root; `covered` is the directory under it.
fn finish_new_mount(
    ctx: &Ctx<'_>,
    step: &MountStep,
    covered: OwnedFd,
    after: AfterMount,
) -> Result<(), RootfsError> {
    let fail = |what, errno| RootfsError::Mount {
        destination: step.destination.clone(),
        what,
        errno,
    };
    if step.propagation.is_empty() && !after.copy_up && !after.copy_mode {
        return Ok(());
    }
    let top_flags = OFlags::RDONLY | OFlags::DIRECTORY;
    let top = open_in_root(ctx.root, &step.destination, top_flags, Create::Nothing)
        .map_err(|errno| fail("reopening the new mount", errno))?
        .fd;
    if after.copy_up {
        copy_dir_contents(covered.as_fd(), top.as_fd())
            .map_err(|errno| fail("tmpcopyup", errno))?;
    }
    if after.readonly_after_copy {
        let ro = MountAttrFlags::MOUNT_ATTR_RDONLY;
        change_attrs(top.as_fd(), ro, MountAttrFlags::empty())
            .map_err(|errno| fail("making it read-only", errno))?;
    }
    if after.copy_mode {
        let mode = fstat(&covered)
            .map_err(|errno| fail("stat of the covered directory", errno))?
            .st_mode;
        fchmod(&top, Mode::from_raw_mode(mode & 0o7777)).map_err(|errno| fail("chmod", errno))?;
    }
    set_propagation(top.as_fd(), &step.propagation).map_err(|errno| fail("propagation", errno))
}

fn has_mode_option(step: &MountStep) -> bool {
    let data = step
        .data
        .as_deref()
        .map(|d| d.to_bytes())
        .unwrap_or_default();
    data.split(|b| *b == b',')
        .any(|option| option.starts_with(b"mode="))
}
