//! Idmapped bind mounts: `mounts[].uidMappings`/`gidMappings` with the
//! `idmap` (top mount only) or `ridmap` (whole `rbind` tree) option.
//!
//! The kernel only idmaps a *detached* mount, and only for a caller with
//! CAP_SYS_ADMIN over the source's filesystem (for a host filesystem: host
//! root). So the runtime does it before the container exists: it clones the
//! source (`open_tree(OPEN_TREE_CLONE)`), sets `MOUNT_ATTR_IDMAP` with a
//! helper user namespace that has the mount's mappings, and keeps the
//! descriptor. The init process inherits it and attaches it with
//! `move_mount` like any other bind. A mapping `containerID -> hostID`
//! shows a file stored with owner `containerID` as owned by `hostID`; with
//! the container's own mappings the container sees the stored owners.
//! Without mount mappings, `idmap` uses the container's `linux.uidMappings`.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

use brig_sys::mount::{MountAttr, MountAttrFlags, MountTarget, mount_setattr};
use oci_spec::runtime::{Linux, LinuxIdMapping, Mount};
use rustix::io::Errno;
use rustix::mount::{OpenTreeFlags, open_tree};

use super::RootfsError;
use super::options::ParsedOptions;
use super::plan::{MountKind, RootfsPlan};

/// The mappings of one idmapped bind mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct IdmapPlan {
    pub uid: Vec<LinuxIdMapping>,
    pub gid: Vec<LinuxIdMapping>,
    /// `ridmap`: every mount of the cloned tree, not only its top.
    pub recursive: bool,
}

/// The idmap of one `mounts[]` entry, `None` when it is a plain mount.
pub(super) fn plan(
    mount: &Mount,
    options: &ParsedOptions,
    linux: &Linux,
    is_bind: bool,
) -> Result<Option<IdmapPlan>, &'static str> {
    let (uid, gid) = (mount.uid_mappings(), mount.gid_mappings());
    if uid.is_none() && gid.is_none() && !options.idmap {
        return Ok(None);
    }
    if !is_bind {
        return Err("uidMappings/gidMappings and idmap apply to bind mounts only");
    }
    let (uid, gid) = match (uid, gid) {
        (Some(u), Some(g)) => (u.clone(), g.clone()),
        (None, None) => {
            // `idmap` alone: the container's own user namespace mappings.
            let (u, g) = (linux.uid_mappings(), linux.gid_mappings());
            match (u, g) {
                (Some(u), Some(g)) if !u.is_empty() && !g.is_empty() => (u.clone(), g.clone()),
                _ => {
                    return Err(
                        "idmap without uidMappings/gidMappings needs linux.uidMappings and linux.gidMappings to take them from",
                    );
                }
            }
        }
        _ => return Err("uidMappings and gidMappings must be given together"),
    };
    for maps in [&uid, &gid] {
        if maps.is_empty() {
            return Err("uidMappings and gidMappings must not be empty");
        }
        if maps.iter().any(|m| m.size() == 0) {
            return Err("an id mapping has size 0");
        }
        if overlapping(maps) {
            return Err("id mappings overlap");
        }
    }
    Ok(Some(IdmapPlan {
        uid,
        gid,
        recursive: options.idmap_recursive,
    }))
}

fn overlapping(maps: &[LinuxIdMapping]) -> bool {
    let range = |start: u32, size: u32| (u64::from(start), u64::from(start) + u64::from(size));
    maps.iter().enumerate().any(|(i, a)| {
        maps[i + 1..].iter().any(|b| {
            let (ai, ai_end) = range(a.container_id(), a.size());
            let (bi, bi_end) = range(b.container_id(), b.size());
            let (ao, ao_end) = range(a.host_id(), a.size());
            let (bo, bo_end) = range(b.host_id(), b.size());
            (ai < bi_end && bi < ai_end) || (ao < bo_end && bo < ao_end)
        })
    })
}

impl RootfsPlan {
    /// Clones and idmaps the source of every idmapped bind mount. Runs in
    /// the runtime (host root) before the container's init is cloned; init
    /// inherits the descriptors. A no-op when no mount is idmapped.
    pub fn open_idmapped_trees(&mut self) -> Result<(), RootfsError> {
        let mut namespaces: Vec<(IdmapPlan, OwnedFd)> = Vec::new();
        for (index, step) in self.mounts.iter_mut().enumerate() {
            let (Some(idmap), MountKind::Bind { source, recursive }) = (&step.idmap, &step.kind)
            else {
                continue;
            };
            let fail = |what, errno, hint| RootfsError::Idmap {
                index,
                destination: step.destination.clone(),
                bind_source: source.clone(),
                what,
                errno,
                hint,
            };
            if !rustix::process::geteuid().is_root() {
                let hint = " (idmapped mounts need the runtime to run as root: only host root may idmap a host filesystem)";
                return Err(fail("checking privileges", Errno::PERM, hint));
            }
            let key = IdmapPlan {
                recursive: false,
                ..idmap.clone()
            };
            let userns = match namespaces.iter().position(|(k, _)| *k == key) {
                Some(i) => i,
                None => {
                    let fd = crate::idmap::helper_userns(&key.uid, &key.gid).map_err(|e| {
                        let errno = Errno::from_io_error(&e).unwrap_or(Errno::INVAL);
                        fail("creating a user namespace with its mappings", errno, "")
                    })?;
                    namespaces.push((key, fd));
                    namespaces.len() - 1
                }
            };
            let tree = idmapped_tree(source, *recursive, idmap.recursive, &namespaces[userns].1)
                .map_err(|(what, errno)| fail(what, errno, hint_for(errno)))?;
            step.idmapped_tree = Some(Arc::new(tree));
        }
        Ok(())
    }
}

/// A detached clone of `source` (with its submounts when `rbind`), idmapped
/// through `userns` (the whole tree when `ridmap`).
fn idmapped_tree(
    source: &Path,
    rbind: bool,
    ridmap: bool,
    userns: &OwnedFd,
) -> Result<OwnedFd, (&'static str, Errno)> {
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if rbind {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    let tree = open_tree(rustix::fs::CWD, source, flags).map_err(|e| ("cloning the source", e))?;
    let attr = MountAttr {
        set: MountAttrFlags::MOUNT_ATTR_IDMAP,
        userns: Some(userns.as_fd()),
        ..MountAttr::default()
    };
    mount_setattr(MountTarget::Fd(tree.as_fd()), ridmap, &attr).map_err(|e| {
        let errno = Errno::from_io_error(&e).unwrap_or(Errno::INVAL);
        ("setting MOUNT_ATTR_IDMAP", errno)
    })?;
    Ok(tree)
}

/// Why the kernel usually refuses an idmap, in words a user can act on.
fn hint_for(errno: Errno) -> &'static str {
    match errno {
        Errno::NOSYS => {
            " (the kernel has no mount_setattr: idmapped mounts need Linux 5.12 or newer)"
        }
        Errno::INVAL => {
            " (the source's filesystem cannot be idmapped on this kernel: ext4, xfs, btrfs, tmpfs (6.3+) and overlayfs can, proc, sysfs and most network filesystems cannot)"
        }
        Errno::PERM => {
            " (the source is already idmapped, or its filesystem is not owned by the runtime's user namespace)"
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::options::parse_options;
    use serde_json::json;

    fn plan_of(
        mount: serde_json::Value,
        linux: serde_json::Value,
    ) -> Result<Option<IdmapPlan>, &'static str> {
        let mount: Mount = serde_json::from_value(mount).unwrap();
        let linux: Linux = serde_json::from_value(linux).unwrap();
        let options = parse_options(mount.options().iter().flatten().map(String::as_str));
        let is_bind = options.bind.is_some();
        plan(&mount, &options, &linux, is_bind)
    }

    fn map(inside: u32, outside: u32, size: u32) -> serde_json::Value {
        json!([{"containerID": inside, "hostID": outside, "size": size}])
    }

    #[test]
    fn mount_mappings_are_used_and_ridmap_is_recursive() {
        let p = plan_of(
            json!({"destination": "/d", "source": "/s", "options": ["rbind", "ridmap"],
                   "uidMappings": map(0, 100000, 65536), "gidMappings": map(0, 200000, 10)}),
            json!({}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (p.uid[0].host_id(), p.gid[0].host_id(), p.gid[0].size()),
            (100000, 200000, 10)
        );
        assert!(p.recursive);
        // Mappings without the option still idmap (the spec's SHOULD), top mount only.
        let p = plan_of(
            json!({"destination": "/d", "source": "/s", "options": ["bind"],
                   "uidMappings": map(0, 1, 1), "gidMappings": map(0, 1, 1)}),
            json!({}),
        );
        assert!(!p.unwrap().unwrap().recursive);
    }

    #[test]
    fn idmap_alone_takes_the_container_mappings() {
        let linux = json!({"uidMappings": map(0, 300000, 5), "gidMappings": map(0, 400000, 5)});
        let p = plan_of(
            json!({"destination": "/d", "source": "/s", "options": ["bind", "idmap"]}),
            linux,
        )
        .unwrap()
        .unwrap();
        assert_eq!((p.uid[0].host_id(), p.gid[0].host_id()), (300000, 400000));
        let err = plan_of(
            json!({"destination": "/d", "source": "/s", "options": ["bind", "idmap"]}),
            json!({}),
        );
        assert!(err.unwrap_err().contains("needs linux.uidMappings"));
        assert_eq!(
            plan_of(
                json!({"destination": "/d", "source": "/s", "options": ["bind"]}),
                json!({})
            ),
            Ok(None)
        );
    }

    #[test]
    fn bad_idmaps_are_refused() {
        let cases = [
            (
                json!({"destination": "/d", "type": "tmpfs", "options": ["idmap"],
                    "uidMappings": map(0, 1, 1), "gidMappings": map(0, 1, 1)}),
                "bind mounts only",
            ),
            (
                json!({"destination": "/d", "source": "/s", "options": ["bind"],
                    "uidMappings": map(0, 1, 1)}),
                "given together",
            ),
            (
                json!({"destination": "/d", "source": "/s", "options": ["bind"],
                    "uidMappings": map(0, 1, 0), "gidMappings": map(0, 1, 1)}),
                "size 0",
            ),
            (
                json!({"destination": "/d", "source": "/s", "options": ["bind"],
                    "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10},
                                    {"containerID": 5, "hostID": 5000, "size": 10}],
                    "gidMappings": map(0, 1, 1)}),
                "overlap",
            ),
        ];
        for (mount, expected) in cases {
            let err = plan_of(mount, json!({})).unwrap_err();
            assert!(err.contains(expected), "{err}");
        }
    }
}
