//! [`pivot`]: make the prepared rootfs the process's `/`.

use rustix::fs::{Mode, OFlags, fstat};
use rustix::io::Errno;
use rustix::mount::{
    MountFlags, MountPropagationFlags, UnmountFlags, mount, mount_change, mount_move, unmount,
};
use rustix::process::{chdir, chroot, fchdir, pivot_root};

use super::RootfsError;
use super::apply::is_recursive_slave_or_private;
use super::mountinfo;
use super::plan::RootfsPlan;

/// Enters the root: pivot_root(".", ".") and a lazy unmount of the old root
/// (runc's way, no directory for the old root needed), or with `no_pivot` a
/// move of the rootfs onto `/` and chroot. Ends in `/` of the container.
/// When brig made /dev, stdio that pointed to the host's /dev/null is reopened
/// on the container's own.
pub fn pivot(plan: &RootfsPlan) -> Result<(), RootfsError> {
    let fail = |what| move |errno| RootfsError::Pivot { what, errno };
    chdir(&plan.rootfs).map_err(fail("chdir into the rootfs"))?;
    if plan.no_pivot {
        move_root(plan)?;
    } else {
        let old_root = rustix::fs::open(
            "/",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(fail("opening the old root"))?;
        pivot_root(".", ".").map_err(fail("pivot_root"))?;
        // The old root is now stacked on the new one; work on it through its fd.
        fchdir(&old_root).map_err(fail("fchdir to the old root"))?;
        if !is_recursive_slave_or_private(plan.root_propagation) {
            // Our unmount must not reach the host through shared mounts.
            mount_change(
                ".",
                MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
            )
            .map_err(fail("making the old root rslave"))?;
        }
        unmount(".", UnmountFlags::DETACH).map_err(fail("unmounting the old root"))?;
        chdir("/").map_err(fail("chdir /"))?;
    }
    if plan.propagation_given
        && !plan
            .root_propagation
            .contains(MountPropagationFlags::PRIVATE)
    {
        // rootfsPropagation is for the container's own root; prepare() applied it to the host's tree.
        mount_change("/", plan.root_propagation).map_err(fail("setting rootfsPropagation on /"))?;
    }
    if plan.dev.is_some() {
        reopen_dev_null().map_err(fail("reopening stdio on the container's /dev/null"))?;
    }
    Ok(())
}

/// `--no-pivot`: the host's full procfs and sysfs mounts would stay
/// reachable and let the container mount new ones; detach or cover them
/// first (as runc does), then move the rootfs onto `/` and chroot.
fn move_root(plan: &RootfsPlan) -> Result<(), RootfsError> {
    let fail = |what| move |errno| RootfsError::Pivot { what, errno };
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))
        .map_err(fail("reading /proc/self/mountinfo"))?;
    for entry in mountinfo::parse(&text) {
        let full_pseudo_fs =
            entry.root == "/" && (entry.fstype == "proc" || entry.fstype == "sysfs");
        if !full_pseudo_fs || entry.mount_point.starts_with(&plan.rootfs) {
            continue;
        }
        let point = entry.mount_point.as_path();
        match mount_change(
            point,
            MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
        ) {
            // A parent was already detached.
            Err(Errno::NOENT | Errno::INVAL) => continue,
            other => other.map_err(fail("making a host proc/sysfs mount rslave"))?,
        }
        match unmount(point, UnmountFlags::DETACH) {
            Err(Errno::INVAL | Errno::PERM) => {
                mount("tmpfs", point, "tmpfs", MountFlags::empty(), None)
                    .map_err(fail("covering a host proc/sysfs mount"))?
            }
            other => other.map_err(fail("unmounting a host proc/sysfs mount"))?,
        }
    }
    mount_move(&plan.rootfs, "/").map_err(fail("moving the rootfs onto /"))?;
    chroot(".").map_err(fail("chroot"))?;
    chdir("/").map_err(fail("chdir /"))
}

/// stdio on the host's /dev/null becomes the container's /dev/null, so the
/// container holds no host file (runc's reOpenDevNull).
fn reopen_dev_null() -> Result<(), Errno> {
    let null = rustix::fs::open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())?;
    let null_rdev = fstat(&null)?.st_rdev;
    let is_host_null = |fd| matches!(fstat(fd), Ok(st) if st.st_mode & 0o170_000 == 0o020_000 && st.st_rdev == null_rdev);
    if is_host_null(rustix::stdio::stdin()) {
        rustix::stdio::dup2_stdin(&null)?;
    }
    if is_host_null(rustix::stdio::stdout()) {
        rustix::stdio::dup2_stdout(&null)?;
    }
    if is_host_null(rustix::stdio::stderr()) {
        rustix::stdio::dup2_stderr(&null)?;
    }
    Ok(())
}
