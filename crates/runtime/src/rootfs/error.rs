//! What can go wrong while planning or building the root filesystem. Every
//! variant names the config.json field, mount destination or path at fault.

use std::path::PathBuf;

use rustix::io::Errno;

/// An error of the `rootfs` module: a refused config.json value (from
/// [`super::RootfsPlan::from_spec`]) or a failed syscall while building the root.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// `root.path` or the rootfs argument is unusable.
    #[error("rootfs {path}: {reason}")]
    InvalidRootfs { path: PathBuf, reason: &'static str },

    /// A `mounts[].destination` is refused before anything is mounted.
    #[error("mounts[{index}].destination {destination:?}: {reason}")]
    InvalidDestination {
        index: usize,
        destination: PathBuf,
        reason: &'static str,
    },

    /// A destination goes through an image symlink that points at the host.
    #[error(
        "mounts[{index}].destination {destination:?}: the image's symlink {link:?} points outside the root ({target:?}); refusing to mount through it"
    )]
    SymlinkEscape {
        index: usize,
        destination: PathBuf,
        link: PathBuf,
        target: PathBuf,
    },

    /// A `mounts[].options` entry is unknown or contradicts the mount type.
    #[error("mounts[{index}] ({destination}): option {option:?}: {reason}")]
    InvalidOption {
        index: usize,
        destination: PathBuf,
        option: String,
        reason: &'static str,
    },

    /// A `mounts[]` entry lacks something its type needs, or asks for
    /// something brig does not do.
    #[error("mounts[{index}] ({destination}): {reason}")]
    InvalidMount {
        index: usize,
        destination: PathBuf,
        reason: &'static str,
    },

    /// `linux.rootfsPropagation` is not one of the propagation names.
    #[error(
        "linux.rootfsPropagation {value:?}: {reason} \
         (expected shared, slave, private, unbindable or their r-prefixed forms)"
    )]
    InvalidPropagation { value: String, reason: &'static str },

    /// A `linux.devices[]` entry is refused.
    #[error("linux.devices[{index}] ({path}): {reason}")]
    InvalidDevice {
        index: usize,
        path: PathBuf,
        reason: &'static str,
    },

    /// A `linux.maskedPaths` or `linux.readonlyPaths` entry is refused.
    #[error("linux.{field} entry {path:?}: {reason}")]
    InvalidPath {
        field: &'static str,
        path: String,
        reason: &'static str,
    },

    /// A `linux.sysctl` key is refused.
    #[error("linux.sysctl {name:?}: {reason}")]
    InvalidSysctl { name: String, reason: String },

    /// Reading the host's cgroup layout (for a `cgroup` mount) failed.
    #[error("reading the host's cgroup mounts ({path}): {errno}")]
    HostCgroups { path: &'static str, errno: Errno },

    /// A mount could not be made. `what` says which step failed.
    #[error("mounting {destination} ({what}): {errno}")]
    Mount {
        destination: PathBuf,
        what: &'static str,
        errno: Errno,
    },

    /// The source of a bind mount cannot be used (missing, or not mountable).
    #[error("mounting {destination}: bind source {bind_source}: {errno}")]
    BindSource {
        destination: PathBuf,
        bind_source: PathBuf,
        errno: Errno,
    },

    /// An idmapped bind mount could not be prepared (by the runtime, before
    /// the container exists).
    #[error(
        "mounts[{index}] ({destination}): idmapped mount of {bind_source}: {what}: {errno}{hint}"
    )]
    Idmap {
        index: usize,
        destination: PathBuf,
        bind_source: PathBuf,
        what: &'static str,
        errno: Errno,
        hint: &'static str,
    },

    /// A mount destination resolved into /proc, where only a few lxcfs-style
    /// files may be covered (a symlink in the image may point there).
    #[error("mounting {destination}: it resolves inside /proc, where mounts are not allowed")]
    MountInProc { destination: PathBuf },

    /// Preparing the root itself (propagation, bind onto itself) failed.
    #[error("preparing the root filesystem {path} ({what}): {errno}")]
    Root {
        path: PathBuf,
        what: &'static str,
        errno: Errno,
    },

    /// A device node, /dev symlink or the console placeholder could not be created.
    #[error("creating {path} ({what}): {errno}")]
    Device {
        path: PathBuf,
        what: &'static str,
        errno: Errno,
    },

    /// pivot_root (or chroot with --no-pivot) failed.
    #[error("entering the root filesystem ({what}): {errno}")]
    Pivot { what: &'static str, errno: Errno },

    /// A `linux.readonlyPaths`/`linux.maskedPaths` entry, or `root.readonly`,
    /// could not be applied (`field` names which).
    #[error("{field} {path}: {errno}")]
    Protect {
        field: &'static str,
        path: PathBuf,
        errno: Errno,
    },

    /// Writing a `linux.sysctl` value failed.
    #[error("linux.sysctl {name:?}: writing {path}: {errno}")]
    Sysctl {
        name: String,
        path: PathBuf,
        errno: Errno,
    },

    /// Binding the terminal onto /dev/console failed.
    #[error("binding the terminal {slave} on /dev/console: {errno}")]
    Console { slave: PathBuf, errno: Errno },
}

impl RootfsError {
    /// The OS error behind a failed syscall, for the error message sent
    /// across the fork; `None` for refused config values.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Self::HostCgroups { errno, .. }
            | Self::Mount { errno, .. }
            | Self::BindSource { errno, .. }
            | Self::Idmap { errno, .. }
            | Self::Root { errno, .. }
            | Self::Device { errno, .. }
            | Self::Pivot { errno, .. }
            | Self::Protect { errno, .. }
            | Self::Sysctl { errno, .. }
            | Self::Console { errno, .. } => Some(errno.raw_os_error()),
            Self::InvalidRootfs { .. }
            | Self::InvalidDestination { .. }
            | Self::SymlinkEscape { .. }
            | Self::InvalidOption { .. }
            | Self::InvalidMount { .. }
            | Self::InvalidPropagation { .. }
            | Self::InvalidDevice { .. }
            | Self::InvalidPath { .. }
            | Self::InvalidSysctl { .. }
            | Self::MountInProc { .. } => None,
        }
    }
}
