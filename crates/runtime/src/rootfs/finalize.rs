//! [`finalize`] (after pivot_root): read-only mounts that had to stay
//! writable, the read-only root, sysctls, read-only and masked paths; and
//! [`bind_console`]. Paths are looked up in the container's own `/` now, so
//! no symlink can leave it.

use std::os::fd::AsFd;
use std::path::Path;

use brig_sys::mount::{MountAttr, MountTarget, mount_setattr};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::{MountAttrFlags, MountFlags, mount, mount_bind, mount_bind_recursive};

use super::RootfsError;
use super::apply::change_attrs;
use super::plan::RootfsPlan;

/// Finishes the root filesystem, in runc's order: read-only mounts and root,
/// then sysctls (before /proc/sys turns read-only), read-only paths, masked paths.
pub fn finalize(plan: &RootfsPlan) -> Result<(), RootfsError> {
    for step in plan.mounts.iter().filter(|m| m.readonly_late) {
        make_readonly(&step.destination).map_err(|errno| RootfsError::Mount {
            destination: step.destination.clone(),
            what: "making it read-only",
            errno,
        })?;
    }
    if plan.readonly_root {
        make_readonly(Path::new("/")).map_err(|errno| RootfsError::Protect {
            field: "root.readonly",
            path: "/".into(),
            errno,
        })?;
    }
    for sysctl in &plan.sysctls {
        write_sysctl(&sysctl.path, &sysctl.value).map_err(|errno| RootfsError::Sysctl {
            name: sysctl.name.clone(),
            path: sysctl.path.clone(),
            errno,
        })?;
    }
    for path in &plan.readonly_paths {
        readonly_path(path).map_err(|errno| RootfsError::Protect {
            field: "linux.readonlyPaths",
            path: path.clone(),
            errno,
        })?;
    }
    for path in &plan.masked_paths {
        mask_path(path).map_err(|errno| RootfsError::Protect {
            field: "linux.maskedPaths",
            path: path.clone(),
            errno,
        })?;
    }
    Ok(())
}

/// Makes the mount at `path` read-only, keeping its other flags.
fn make_readonly(path: &Path) -> Result<(), Errno> {
    let ro = MountAttr {
        set: MountAttrFlags::MOUNT_ATTR_RDONLY,
        ..MountAttr::default()
    };
    let result = rustix::path::Arg::into_with_c_str(path, |c_path| {
        mount_setattr(
            MountTarget::Path {
                path: c_path,
                nofollow: false,
            },
            false,
            &ro,
        )
        .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))
    });
    match result {
        // Before Linux 5.12: a bind remount that keeps the mount's flags.
        Err(Errno::NOSYS) => {
            let fd = rustix::fs::open(path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())?;
            change_attrs(
                fd.as_fd(),
                MountAttrFlags::MOUNT_ATTR_RDONLY,
                MountAttrFlags::empty(),
            )
        }
        other => other,
    }
}

/// A read-only bind of `path` onto itself; a missing path is skipped.
fn readonly_path(path: &Path) -> Result<(), Errno> {
    match mount_bind_recursive(path, path) {
        Err(Errno::NOENT) => Ok(()),
        Err(errno) => Err(errno),
        Ok(()) => make_readonly(path),
    }
}

/// /dev/null over a file, an empty read-only tmpfs over a directory; a
/// missing path is skipped.
fn mask_path(path: &Path) -> Result<(), Errno> {
    match mount_bind("/dev/null", path) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(Errno::NOTDIR) => mount("tmpfs", path, "tmpfs", MountFlags::RDONLY, None),
        Err(errno) => Err(errno),
    }
}

fn write_sysctl(path: &Path, value: &str) -> Result<(), Errno> {
    let fd = rustix::fs::open(
        path,
        OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut rest = value.as_bytes();
    while !rest.is_empty() {
        let written = rustix::io::write(&fd, rest)?;
        if written == 0 {
            return Err(Errno::IO);
        }
        rest = &rest[written..];
    }
    Ok(())
}

/// Binds the terminal's pty `slave` (a path in the container's devpts) onto
/// /dev/console, after [`super::pivot`]. The placeholder file is made by
/// `prepare` when the plan has `terminal`; it is created here otherwise.
pub fn bind_console(slave: &Path) -> Result<(), RootfsError> {
    let fail = |errno| RootfsError::Console {
        slave: slave.to_path_buf(),
        errno,
    };
    let console = Path::new("/dev/console");
    match rustix::fs::open(
        console,
        OFlags::CREATE | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o666),
    ) {
        // Read-only /dev without the placeholder: the bind below says what is wrong.
        Ok(_) | Err(Errno::ROFS) => {}
        Err(errno) => return Err(fail(errno)),
    }
    mount_bind(slave, console).map_err(fail)
}
