//! Refusing mount destinations that an image's symlinks point at the host.
//!
//! Mounts are always resolved inside the root (openat2 `RESOLVE_IN_ROOT`),
//! so a symlink can never redirect one to the host. But a destination whose
//! path goes through a symlink aimed at a host path (an absolute target that
//! exists on the host and not in the image, or a relative one that climbs
//! above the root) is what an escape attempt looks like: silently mounting
//! somewhere else would surprise the user, so it is refused instead.

use std::path::{Component, Path, PathBuf};

use super::error::RootfsError;

/// Checks the components of `destination` (absolute, clean) under `rootfs`
/// up to and including the first symlink.
pub(super) fn check(rootfs: &Path, index: usize, destination: &Path) -> Result<(), RootfsError> {
    let mut inside = PathBuf::from("/");
    for component in destination.components() {
        let Component::Normal(name) = component else {
            continue;
        };
        inside.push(name);
        let on_host = rootfs.join(inside.strip_prefix("/").unwrap_or(&inside));
        let Ok(meta) = std::fs::symlink_metadata(&on_host) else {
            return Ok(());
        };
        if !meta.file_type().is_symlink() {
            continue;
        }
        let Ok(target) = std::fs::read_link(&on_host) else {
            return Ok(());
        };
        if points_at_host(rootfs, &inside, &target) {
            return Err(RootfsError::SymlinkEscape {
                index,
                destination: destination.to_path_buf(),
                link: inside,
                target,
            });
        }
        return Ok(());
    }
    Ok(())
}

fn points_at_host(rootfs: &Path, link: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        let in_image = rootfs.join(target.strip_prefix("/").unwrap_or(target));
        return std::fs::symlink_metadata(in_image).is_err()
            && std::fs::symlink_metadata(target).is_ok();
    }
    // A relative target climbs from the link's directory; above "/" is outside.
    let mut depth = link
        .parent()
        .map_or(0, |p| p.components().count().saturating_sub(1)) as isize;
    for component in target.components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_pointing_symlinks_are_refused_and_image_ones_allowed() {
        let root = tempfile::tempdir().unwrap();
        let host = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("run")).unwrap();
        std::fs::create_dir_all(r.join("var")).unwrap();
        std::os::unix::fs::symlink("/run", r.join("var/run")).unwrap();
        std::os::unix::fs::symlink(host.path(), r.join("escape")).unwrap();
        std::os::unix::fs::symlink("../../..", r.join("var/up")).unwrap();
        std::os::unix::fs::symlink("../run", r.join("var/rel")).unwrap();
        assert!(check(r, 0, Path::new("/var/run/x")).is_ok());
        assert!(check(r, 0, Path::new("/var/rel/x")).is_ok());
        assert!(check(r, 0, Path::new("/no/such/dir")).is_ok());
        let err = check(r, 3, Path::new("/escape/sub"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mounts[3]") && err.contains("/escape"),
            "{err}"
        );
        assert!(check(r, 0, Path::new("/var/up/etc")).is_err());
    }
}
