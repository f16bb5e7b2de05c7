//! `mount_setattr(2)` (Linux 5.12), which rustix does not wrap: change the
//! attributes (read-only, nosuid, ..., propagation, idmap) of a mount or of a
//! whole mount tree in one call, without `MS_REMOUNT`'s "reset every flag" semantics.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

pub use rustix::mount::{MountAttrFlags, MountPropagationFlags};

/// `AT_RECURSIVE`: apply to the whole tree below the mount too.
const AT_RECURSIVE: u32 = 0x8000;
const AT_EMPTY_PATH: u32 = 0x1000;
const AT_SYMLINK_NOFOLLOW: u32 = 0x100;

/// What [`mount_setattr`] should change.
#[derive(Debug, Clone, Copy)]
pub struct MountAttr<'a> {
    /// Attributes to set (`MOUNT_ATTR_*`).
    pub set: MountAttrFlags,
    /// Attributes to clear; an access-time mode needs `MOUNT_ATTR__ATIME` here.
    pub clear: MountAttrFlags,
    /// One of `MS_SHARED`, `MS_SLAVE`, `MS_PRIVATE`, `MS_UNBINDABLE` (without `MS_REC`),
    /// or empty to leave propagation alone.
    pub propagation: MountPropagationFlags,
    /// The user namespace of an idmapped mount (with `MOUNT_ATTR_IDMAP` in `set`).
    pub userns: Option<BorrowedFd<'a>>,
}

impl Default for MountAttr<'_> {
    fn default() -> Self {
        Self {
            set: MountAttrFlags::empty(),
            clear: MountAttrFlags::empty(),
            propagation: MountPropagationFlags::empty(),
            userns: None,
        }
    }
}

#[repr(C)]
struct RawMountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Where [`mount_setattr`] finds the mount.
#[derive(Debug, Clone, Copy)]
pub enum MountTarget<'a> {
    /// The mount whose root `fd` refers to (a mount fd from `open_tree`/`fsmount`,
    /// or any fd opened at a mount's root).
    Fd(BorrowedFd<'a>),
    /// The mount at `path`, looked up like `mount(2)` does (symlinks followed
    /// unless `nofollow`); relative paths from the current directory.
    Path { path: &'a CStr, nofollow: bool },
}

/// Changes the attributes of one mount, or with `recursive` of the mount and
/// every mount below it.
pub fn mount_setattr(
    target: MountTarget<'_>,
    recursive: bool,
    attr: &MountAttr<'_>,
) -> io::Result<()> {
    let (dirfd, path, mut flags) = match target {
        MountTarget::Fd(fd) => (fd.as_raw_fd(), c"", AT_EMPTY_PATH),
        MountTarget::Path { path, nofollow } => (
            libc::AT_FDCWD,
            path,
            if nofollow { AT_SYMLINK_NOFOLLOW } else { 0 },
        ),
    };
    if recursive {
        flags |= AT_RECURSIVE;
    }
    let mut raw = RawMountAttr {
        attr_set: u64::from(attr.set.bits()),
        attr_clr: u64::from(attr.clear.bits()),
        propagation: u64::from(attr.propagation.bits()),
        userns_fd: attr.userns.map_or(0, |fd| fd.as_fd().as_raw_fd() as u64),
    };
    // SAFETY: `path` is a valid NUL-terminated string and `raw` a properly
    // sized, initialised mount_attr; both outlive the call, which only reads them.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd,
            path.as_ptr(),
            flags,
            &mut raw as *mut RawMountAttr,
            std::mem::size_of::<RawMountAttr>(),
        )
    };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
