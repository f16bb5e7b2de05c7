//! The container's root filesystem: mounts, /dev, pivot_root, masked and
//! read-only paths, sysctls. Runs in the container's init process, inside
//! its new mount namespace, before the user program is executed.
//!
//! Call order (from the init code):
//! 1. [`RootfsPlan::from_spec`] in the parent, before anything is created:
//!    validation and every string conversion, so the child only makes syscalls;
//! 2. [`prepare`] right after the mount namespace exists (host paths still
//!    visible, including the host's /proc, which mounts go through);
//! 3. createContainer hooks (still before pivot);
//! 4. [`pivot`];
//! 5. [`finalize`] (late read-only mounts, read-only root, sysctl,
//!    read-only and masked paths);
//! 6. [`bind_console`] when the process has a terminal (after 4).
//!
//! What the init code must provide around these calls:
//! - `prepare` needs CAP_SYS_ADMIN over the new mount namespace and the
//!   host's /proc at /proc (new filesystems are mounted on
//!   `/proc/self/fd/N`). It keeps no fd and no cwd change; it sets umask 0
//!   while it works and restores the caller's.
//! - With a user namespace: create the mount namespace with or after it (so
//!   the user namespace owns it) and write the uid/gid maps before `prepare`
//!   (files are created as the mapped root; an unmapped fsuid gets
//!   EOVERFLOW). proc needs the init to be in its new pid namespace already,
//!   mqueue an IPC namespace and sysfs a network namespace owned by that
//!   user namespace (without one /sys is bound from the host, like runc).
//! - A `cgroup` mount without a cgroup namespace binds the init's own cgroup
//!   directories (read from /proc/self/cgroup), so the init must already be
//!   in its cgroups when `prepare` runs.
//! - `pivot` leaves the cwd at the new `/`, and moves stdio fds that are the
//!   host's /dev/null onto the container's. `finalize` and `bind_console`
//!   only use paths inside the container.
//!
//! Safety: every mount destination and device path is resolved inside the
//! root by the kernel (`openat2` with `RESOLVE_IN_ROOT`), then mounted through
//! the resolved fd, so neither a symlink in the image nor `..` can move a
//! mount onto the host. Mounts that resolve into /proc are refused.
//!
//! Speed: no mountinfo parsing on the normal path (only for a cgroup mount on
//! a v1 host, in the parent, and for `--no-pivot`); one `openat2` per mount;
//! bind attributes set with `mount_setattr` on the detached tree (no remount
//! dance); the old root is re-slaved before its unmount only when the root
//! propagation makes that necessary.

mod apply;
mod cgroup;
mod copyup;
mod devices;
mod error;
mod escape;
mod finalize;
mod idmapped;
mod label;
mod mountinfo;
mod options;
mod paths;
mod pivot;
mod plan;
mod resolve;
mod sysctl;

#[cfg(test)]
mod root_tests;

use std::path::PathBuf;

pub use apply::prepare;
pub use error::RootfsError;
pub use finalize::{bind_console, finalize};
pub use pivot::pivot;
pub use plan::RootfsPlan;

/// How the container is run, beyond config.json.
#[derive(Debug, Clone, Default)]
pub struct RootfsOptions {
    /// `--no-pivot`: move the rootfs onto `/` and chroot instead of pivot_root.
    pub no_pivot: bool,
    /// The process has a terminal: a /dev/console placeholder is created.
    pub terminal: bool,
    /// The init runs in a user namespace: device nodes are bind-mounted from
    /// the host instead of made with mknod, sysfs falls back to a bind of /sys.
    pub in_user_namespace: bool,
    /// The bundle directory: relative bind-mount sources are relative to it
    /// (runtime spec). Empty: relative to the current directory.
    pub bundle: PathBuf,
    /// The host's cgroup mounts when the caller already has them (the cgroup
    /// manager detects them too); otherwise a `cgroup` mount makes
    /// `from_spec` read /proc/self/mountinfo itself on v1/hybrid hosts.
    pub host_cgroups: Option<brig_cgroups::Mounts>,
}
