//! Mount descriptions returned by snapshotters, and the helpers that turn
//! them into mounts.
//!
//! Images with 100+ layers: mount(2) takes all overlay options as one
//! string of at most a page (4096 bytes), which 100 layer paths exceed.
//! brig mounts overlay with the new mount API instead, one
//! `fsconfig(FSCONFIG_SET_STRING, "lowerdir+", dir)` per layer (Linux 6.8+),
//! so the number of layers is limited only by overlay itself (500). On older
//! kernels it falls back to mount(2) when the options fit in a page.

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::io::Errno;
use rustix::mount::{
    FsMountFlags, FsOpenFlags, MountAttrFlags, MountFlags, MoveMountFlags, UnmountFlags,
};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The most bytes mount(2) accepts as option data.
const PAGE: usize = 4096;

/// How to mount (part of) a container's root filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MountSpec {
    /// An overlay: `lowerdirs` topmost first (as overlayfs orders them),
    /// plus the container's own `upperdir` and `workdir`. `options` are
    /// further overlay options (`userxattr` for unprivileged layers).
    Overlay {
        lowerdirs: Vec<PathBuf>,
        upperdir: PathBuf,
        workdir: PathBuf,
        options: Vec<String>,
    },
    /// A bind mount of a directory (the copy snapshotter's rootfs).
    Bind { source: PathBuf, readonly: bool },
}

impl MountSpec {
    /// Mounts this spec on `target` (needs CAP_SYS_ADMIN).
    pub fn mount_at(&self, target: &Path) -> Result<()> {
        match self {
            MountSpec::Overlay { .. } => match self.mount_overlay_fsconfig(target) {
                Err(Error::Mount { source, .. })
                    if source.raw_os_error() == Some(Errno::INVAL.raw_os_error())
                        && self.legacy_options().is_some() =>
                {
                    self.mount_overlay_legacy(target)
                }
                other => other,
            },
            MountSpec::Bind { source, readonly } => {
                let err = |source: Errno, hint: &str| Error::Mount {
                    fstype: "bind",
                    target: target.to_owned(),
                    hint: hint.to_owned(),
                    source: source.into(),
                };
                rustix::mount::mount_bind(source, target)
                    .map_err(|e| err(e, "bind mount of the snapshot"))?;
                if *readonly {
                    rustix::mount::mount_remount(target, MountFlags::BIND | MountFlags::RDONLY, "")
                        .map_err(|e| err(e, "read-only remount"))?;
                }
                Ok(())
            }
        }
    }

    /// The option string for mount(2), or `None` when it would exceed a
    /// page (or this is not an overlay).
    pub fn legacy_options(&self) -> Option<String> {
        let MountSpec::Overlay {
            lowerdirs,
            upperdir,
            workdir,
            options,
        } = self
        else {
            return None;
        };
        let lower: Vec<String> = lowerdirs.iter().map(|p| escape(p)).collect();
        let mut data = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.join(":"),
            escape(upperdir),
            escape(workdir)
        );
        for o in options {
            data.push(',');
            data.push_str(o);
        }
        (data.len() < PAGE).then_some(data)
    }

    fn mount_overlay_fsconfig(&self, target: &Path) -> Result<()> {
        let MountSpec::Overlay {
            lowerdirs,
            upperdir,
            workdir,
            options,
        } = self
        else {
            return Ok(());
        };
        let fail = |fs: Option<&OwnedFd>, e: Errno, step: &str| Error::Mount {
            fstype: "overlay",
            target: target.to_owned(),
            hint: format!("{step}{}", fs.map(kernel_messages).unwrap_or_default()),
            source: e.into(),
        };
        let fs = rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)
            .map_err(|e| fail(None, e, "fsopen overlay"))?;
        for dir in lowerdirs {
            rustix::mount::fsconfig_set_string(&fs, "lowerdir+", dir.as_os_str())
                .map_err(|e| fail(Some(&fs), e, &format!("lowerdir+ {}", dir.display())))?;
        }
        rustix::mount::fsconfig_set_string(&fs, "upperdir", upperdir.as_os_str())
            .map_err(|e| fail(Some(&fs), e, "upperdir"))?;
        rustix::mount::fsconfig_set_string(&fs, "workdir", workdir.as_os_str())
            .map_err(|e| fail(Some(&fs), e, "workdir"))?;
        for o in options {
            match o.split_once('=') {
                Some((k, v)) => rustix::mount::fsconfig_set_string(&fs, k, v),
                None => rustix::mount::fsconfig_set_flag(&fs, o.as_str()),
            }
            .map_err(|e| fail(Some(&fs), e, &format!("option {o}")))?;
        }
        rustix::mount::fsconfig_create(&fs).map_err(|e| fail(Some(&fs), e, "create"))?;
        let mnt =
            rustix::mount::fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty())
                .map_err(|e| fail(Some(&fs), e, "fsmount"))?;
        rustix::mount::move_mount(
            mnt.as_fd(),
            "",
            rustix::fs::CWD,
            target,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )
        .map_err(|e| fail(None, e, "move_mount"))
    }

    fn mount_overlay_legacy(&self, target: &Path) -> Result<()> {
        let data = self.legacy_options().unwrap_or_default();
        let data = CString::new(data).map_err(|_| Error::Mount {
            fstype: "overlay",
            target: target.to_owned(),
            hint: "a path contains a NUL byte".to_owned(),
            source: Errno::INVAL.into(),
        })?;
        rustix::mount::mount(
            "overlay",
            target,
            "overlay",
            MountFlags::empty(),
            data.as_c_str(),
        )
        .map_err(|e| Error::Mount {
            fstype: "overlay",
            target: target.to_owned(),
            hint: "mount(2) fallback".to_owned(),
            source: e.into(),
        })
    }
}

/// Overlay separates lower dirs with ':' and options with ','.
fn escape(p: &Path) -> String {
    let s = String::from_utf8_lossy(p.as_os_str().as_bytes());
    s.replace('\\', "\\\\")
        .replace(':', "\\:")
        .replace(',', "\\,")
}

/// The error messages the kernel left in a filesystem context.
fn kernel_messages(fs: &OwnedFd) -> String {
    let mut out = String::new();
    let mut buf = [0u8; 1024];
    let mut file = std::fs::File::from(match fs.try_clone() {
        Ok(f) => f,
        Err(_) => return out,
    });
    while let Ok(n) = file.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.push_str("; kernel: ");
        out.push_str(String::from_utf8_lossy(&buf[..n]).trim());
    }
    out
}

/// Unmounts `target` (detaching it if busy).
pub fn unmount(target: &Path) -> Result<()> {
    rustix::mount::unmount(target, UnmountFlags::DETACH)
        .map_err(|e| Error::io("unmount", target, e))
}

/// Mounts a snapshot's specs on `target`; unmounts them when dropped.
#[derive(Debug)]
pub struct MountGuard {
    target: PathBuf,
    count: usize,
}

impl MountGuard {
    /// Mounts `specs` in order on `target`.
    pub fn mount(specs: &[MountSpec], target: &Path) -> Result<Self> {
        let mut guard = MountGuard {
            target: target.to_owned(),
            count: 0,
        };
        for spec in specs {
            spec.mount_at(target)?;
            guard.count += 1;
        }
        Ok(guard)
    }

    pub fn target(&self) -> &Path {
        &self.target
    }
}

impl Drop for MountGuard {
    fn drop(&mut self) {
        for _ in 0..self.count {
            let _ = unmount(&self.target);
        }
    }
}
