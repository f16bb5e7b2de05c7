//! `linux.cgroupsPath` for the cgroupfs driver: parsing, defaults, and where
//! it lands inside each mounted hierarchy.
//!
//! - An absolute path (`/a/b`) is taken from the root of each hierarchy, as
//!   runc does.
//! - A relative path (`a/b`) is taken from the runtime's own cgroup in each
//!   hierarchy (`/proc/self/cgroup`), as runc does.
//! - No path: `/brig/<container id>` (absolute, so the container's cgroup
//!   does not depend on where the runtime itself was started); the shared
//!   `/brig` parent stays once made.
//!
//! `..` components are refused, `.` and repeated slashes are dropped, and a
//! path naming the hierarchy root itself is refused (removing it would kill
//! everything on the machine).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{CgroupError, Result};

/// The parent of containers' cgroups when the spec gives no path.
pub const DEFAULT_PARENT: &str = "/brig";

/// A validated cgroupfs-driver path, not yet placed in a hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CgroupPath {
    /// From each hierarchy's root; always starts with `/`.
    Absolute(String),
    /// From the runtime's own cgroup; never starts with `/`.
    Relative(String),
}

impl CgroupPath {
    /// Parses `linux.cgroupsPath`.
    pub fn parse(raw: &str) -> Result<Self> {
        let bad = |reason: &str| CgroupError::InvalidPath {
            path: raw.to_owned(),
            reason: reason.to_owned(),
        };
        if raw.contains('\0') {
            return Err(bad("it contains a NUL byte"));
        }
        let mut parts = Vec::new();
        for part in raw.split('/') {
            match part {
                "" | "." => {}
                ".." => return Err(bad("'..' is not allowed")),
                p => parts.push(p),
            }
        }
        if parts.is_empty() {
            return Err(bad(
                "it names the cgroup root; give the container its own cgroup",
            ));
        }
        let joined = parts.join("/");
        Ok(if raw.starts_with('/') {
            Self::Absolute(format!("/{joined}"))
        } else {
            Self::Relative(joined)
        })
    }

    /// The spec's path if given, else `/brig/<id>`.
    pub fn for_container(cgroups_path: Option<&str>, container_id: &str) -> Result<Self> {
        match cgroups_path {
            Some(raw) if !raw.is_empty() => Self::parse(raw),
            _ => {
                check_id(container_id)?;
                Ok(Self::Absolute(format!("{DEFAULT_PARENT}/{container_id}")))
            }
        }
    }

    /// Whether this is the default placement `/brig/<id>`, whose shared
    /// `/brig` parent stays once made (as Docker's `/docker`): making and
    /// removing it in every hierarchy on each run cost ~1 ms. Other paths'
    /// parents are removed only if `create` made them.
    pub fn under_shared_parent(&self) -> bool {
        let parent = DEFAULT_PARENT.trim_start_matches('/');
        matches!(self, Self::Absolute(_))
            && self.components().count() == 2
            && self.components().next() == Some(parent)
    }

    /// The path's components, in order.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.as_str().trim_start_matches('/').split('/')
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Absolute(p) | Self::Relative(p) => p,
        }
    }

    /// The directory of this cgroup in a hierarchy mounted at `mount_point`
    /// whose mount shows the hierarchy from `mount_root` (mountinfo field 4);
    /// `own` is the runtime's own cgroup in that hierarchy (needed for
    /// relative paths only).
    pub fn dir_in(
        &self,
        mount_point: &Path,
        mount_root: &str,
        own: Option<&str>,
    ) -> Result<PathBuf> {
        let mut dir = mount_point.to_path_buf();
        if let Self::Relative(rel) = self {
            let own = own.ok_or_else(|| CgroupError::InvalidPath {
                path: rel.clone(),
                reason: format!(
                    "it is relative, but the runtime's own cgroup in {} is unknown",
                    mount_point.display()
                ),
            })?;
            let inside = own
                .strip_prefix(mount_root.trim_end_matches('/'))
                .unwrap_or(own);
            dir.extend(inside.split('/').filter(|p| !p.is_empty()));
        }
        dir.extend(self.components());
        Ok(dir)
    }
}

fn check_id(id: &str) -> Result<()> {
    if id.is_empty() || id == "." || id == ".." || id.contains('/') || id.contains('\0') {
        return Err(CgroupError::InvalidPath {
            path: format!("{DEFAULT_PARENT}/{id}"),
            reason: format!("the container id {id:?} cannot name a cgroup"),
        });
    }
    Ok(())
}

/// The runtime's own cgroups, from `/proc/self/cgroup`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnCgroups {
    /// v1 hierarchies: sorted controller list (e.g. `cpu,cpuacct`) -> path.
    pub v1: HashMap<String, String>,
    /// The v2 (`0::`) path, when there is a unified hierarchy.
    pub unified: Option<String>,
}

impl OwnCgroups {
    /// Reads `/proc/self/cgroup`.
    pub fn read() -> Result<Self> {
        let path = "/proc/self/cgroup";
        let text = std::fs::read_to_string(path).map_err(|e| CgroupError::io("read", path, e))?;
        Ok(Self::parse(&text))
    }

    /// Parses the text of `/proc/<pid>/cgroup`.
    pub fn parse(text: &str) -> Self {
        let mut own = Self::default();
        for line in text.lines() {
            let mut fields = line.splitn(3, ':');
            let (Some(_id), Some(controllers), Some(path)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            if controllers.is_empty() {
                own.unified = Some(path.to_owned());
            } else {
                own.v1
                    .insert(sorted_key(controllers.split(',')), path.to_owned());
            }
        }
        own
    }

    /// Our cgroup in the v1 hierarchy carrying exactly `controllers`.
    pub fn v1_path<'a>(&self, controllers: impl IntoIterator<Item = &'a str>) -> Option<&str> {
        self.v1.get(&sorted_key(controllers)).map(String::as_str)
    }
}

fn sorted_key<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut names: Vec<&str> = names.into_iter().collect();
    names.sort_unstable();
    names.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths_are_normalised() {
        assert_eq!(
            CgroupPath::parse("/a//b/./c/").unwrap(),
            CgroupPath::Absolute("/a/b/c".into())
        );
    }

    #[test]
    fn relative_paths_stay_relative() {
        assert_eq!(
            CgroupPath::parse("a/b").unwrap(),
            CgroupPath::Relative("a/b".into())
        );
    }

    #[test]
    fn dot_dot_and_root_are_refused() {
        for raw in ["/a/../b", "..", "a/..", "/", "", "//."] {
            let err = CgroupPath::parse(raw).unwrap_err();
            assert!(
                matches!(err, CgroupError::InvalidPath { .. }),
                "{raw}: {err}"
            );
            assert!(err.to_string().contains("linux.cgroupsPath"), "{err}");
        }
    }

    #[test]
    fn only_the_default_placement_has_a_shared_parent() {
        assert!(
            CgroupPath::for_container(None, "c1")
                .unwrap()
                .under_shared_parent()
        );
        for other in ["/brig/x/y", "/a/c1", "brig/c1"] {
            assert!(
                !CgroupPath::parse(other).unwrap().under_shared_parent(),
                "{other}"
            );
        }
    }

    #[test]
    fn default_is_under_brig() {
        assert_eq!(
            CgroupPath::for_container(None, "c1").unwrap(),
            CgroupPath::Absolute("/brig/c1".into())
        );
        assert_eq!(
            CgroupPath::for_container(Some(""), "c1").unwrap().as_str(),
            "/brig/c1"
        );
        assert!(CgroupPath::for_container(None, "../x").is_err());
    }

    #[test]
    fn absolute_path_lands_under_the_mount_point() {
        let p = CgroupPath::parse("/brig/c1").unwrap();
        let dir = p
            .dir_in(Path::new("/sys/fs/cgroup/memory"), "/", None)
            .unwrap();
        assert_eq!(dir, Path::new("/sys/fs/cgroup/memory/brig/c1"));
    }

    #[test]
    fn relative_path_lands_under_our_own_cgroup() {
        let own = OwnCgroups::parse(
            "4:memory:/process_api/x\n1:cpu,cpuacct:/user.slice\n0::/init.scope\n",
        );
        let p = CgroupPath::parse("c1").unwrap();
        let mem = p
            .dir_in(Path::new("/cg/memory"), "/", own.v1_path(["memory"]))
            .unwrap();
        assert_eq!(mem, Path::new("/cg/memory/process_api/x/c1"));
        let cpu = p
            .dir_in(Path::new("/cg/cpu"), "/", own.v1_path(["cpuacct", "cpu"]))
            .unwrap();
        assert_eq!(cpu, Path::new("/cg/cpu/user.slice/c1"));
        let v2 = p
            .dir_in(Path::new("/cg"), "/", own.unified.as_deref())
            .unwrap();
        assert_eq!(v2, Path::new("/cg/init.scope/c1"));
    }

    #[test]
    fn relative_path_strips_a_bind_mounted_root() {
        let p = CgroupPath::parse("c1").unwrap();
        let dir = p
            .dir_in(Path::new("/cg"), "/docker/abc", Some("/docker/abc/sub"))
            .unwrap();
        assert_eq!(dir, Path::new("/cg/sub/c1"));
    }

    #[test]
    fn relative_path_without_own_cgroup_is_an_error() {
        let p = CgroupPath::parse("c1").unwrap();
        assert!(p.dir_in(Path::new("/cg"), "/", None).is_err());
    }
}
