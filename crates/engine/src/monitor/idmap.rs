//! `--userns auto` without copying or chowning the image: every image
//! layer is mounted *idmapped* (Linux 5.12+, overlayfs layers 5.19+)
//! through a user namespace that has the container's mapping, and
//! overlayfs is stacked on those mounts. The shared layers stay owned by
//! the image's IDs on disk; the container's root (host ID `start`) sees
//! them as its own, and what it writes lands in its own layer with host IDs
//! of its range. The mounts live in the monitor's private mount namespace.

use brig_snapshot::MountSpec;
use brig_sys::mount::{MountAttr, MountAttrFlags, MountTarget, mount_setattr};
use rustix::mount::{MoveMountFlags, OpenTreeFlags};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};

/// A user namespace mapping container IDs 0..size to host IDs start..,
/// kept alive by its descriptor.
pub(super) fn mapped_userns(start: u32, size: u32) -> Result<OwnedFd> {
    let flags = u64::from(rustix::thread::UnshareFlags::NEWUSER.bits());
    super::nschild::with_child_in(flags, |pid| {
        let line = format!("0 {start} {size}\n");
        for map in ["uid_map", "gid_map"] {
            let p = format!("/proc/{pid}/{map}");
            std::fs::write(&p, &line).ctx("write", p)?;
        }
        let ns_path = format!("/proc/{pid}/ns/user");
        let file = std::fs::File::open(&ns_path).ctx("open", &ns_path)?;
        Ok(OwnedFd::from(file))
    })
}

/// Idmapped copies of the container's volumes under `scratch` (kept
/// across restarts): files its root creates are stored as root, so a
/// volume means the same in every container, whatever its ID range.
/// Returns (volume directory, idmapped directory) pairs.
pub(super) fn idmapped_volumes(
    volumes: &[PathBuf],
    scratch: &Path,
    userns: &OwnedFd,
) -> Result<Vec<(PathBuf, PathBuf)>> {
    let mut out = Vec::new();
    for (i, data) in volumes.iter().enumerate() {
        let dest = scratch.join(format!("v{i}"));
        if !crate::rootfs::is_mount_point(&dest) {
            idmapped(data, &dest, userns)?;
        }
        out.push((data.clone(), dest));
    }
    Ok(out)
}

/// An idmapped copy of the mount at `src`, attached at `dest`.
fn idmapped(src: &Path, dest: &Path, userns: &OwnedFd) -> Result<()> {
    let tree = rustix::mount::open_tree(
        rustix::fs::CWD,
        src,
        OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
    )
    .ctx("clone the mount of", src)?;
    let attr = MountAttr {
        set: MountAttrFlags::MOUNT_ATTR_IDMAP,
        userns: Some(userns.as_fd()),
        ..MountAttr::default()
    };
    mount_setattr(MountTarget::Fd(tree.as_fd()), false, &attr)
        .ctx("idmap (needs Linux 5.12+)", src)?;
    std::fs::create_dir_all(dest).ctx("create directory", dest)?;
    rustix::mount::move_mount(
        tree.as_fd(),
        "",
        rustix::fs::CWD,
        dest,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .ctx("attach", dest)
}

/// The snapshot's mount specs rewritten onto idmapped copies of every
/// layer and of the snapshot directory, made under `scratch`.
pub(super) fn idmapped_specs(
    specs: &[MountSpec],
    scratch: &Path,
    userns: &OwnedFd,
    start: u32,
) -> Result<Vec<MountSpec>> {
    let mut out = Vec::new();
    for spec in specs {
        match spec {
            MountSpec::Overlay {
                lowerdirs,
                upperdir,
                workdir,
                options,
            } => {
                let mut lowers = Vec::new();
                for (i, l) in lowerdirs.iter().enumerate() {
                    let dest = scratch.join(format!("l{i}"));
                    idmapped(l, &dest, userns)?;
                    lowers.push(dest);
                }
                // The container's own layer is not idmapped: overlayfs
                // creates its work files as the mounter (host root, which
                // the mapping lacks). Its files are stored with host IDs
                // of the range; its root directory must belong to the
                // container's root.
                let root = rustix::fs::Uid::from_raw(start);
                let group = rustix::fs::Gid::from_raw(start);
                rustix::fs::chown(upperdir, Some(root), Some(group)).ctx("chown", upperdir)?;
                out.push(MountSpec::Overlay {
                    lowerdirs: lowers,
                    upperdir: upperdir.clone(),
                    workdir: workdir.clone(),
                    options: options.clone(),
                });
            }
            MountSpec::Bind { source, readonly } => {
                let dest = scratch.join("bind");
                idmapped(source, &dest, userns)?;
                out.push(MountSpec::Bind {
                    source: dest,
                    readonly: *readonly,
                });
            }
        }
    }
    Ok(out)
}
