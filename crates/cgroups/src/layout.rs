//! Which cgroup layout this machine has and where each controller lives.
//!
//! Detection reads two things: `statfs` of the root (a cgroup2 magic means
//! pure v2) and `/proc/self/mountinfo` (which v1 hierarchies and which
//! cgroup2 mount sit under the root, with their controllers). Everything
//! after reading is pure, so tests build [`Mounts`] by hand for fake trees.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::controller::Controller;
use crate::error::{CgroupError, Result};

/// Where cgroups are mounted unless told otherwise.
pub const DEFAULT_ROOT: &str = "/sys/fs/cgroup";

const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// The three layouts users run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    /// Only v1 hierarchies, one per controller (or co-mounted group).
    V1,
    /// One unified cgroup2 hierarchy at the root.
    V2,
    /// v1 controllers plus a cgroup2 mount (usually `<root>/unified`) that
    /// holds whichever controllers are not bound to v1.
    Hybrid,
}

/// One mounted v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct V1Mount {
    /// Where it is mounted, e.g. `/sys/fs/cgroup/cpu,cpuacct`.
    pub mount_point: PathBuf,
    /// The part of the hierarchy the mount shows (mountinfo field 4), `/` normally.
    pub mount_root: String,
    /// Its controllers; a named hierarchy has none.
    pub controllers: Vec<Controller>,
    /// `name=...` of a named hierarchy such as `name=systemd`.
    pub name: Option<String>,
}

impl V1Mount {
    /// The controller list as `/proc/self/cgroup` writes it, for matching.
    pub fn proc_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .controllers
            .iter()
            .map(|c| c.v1_name().to_owned())
            .collect();
        if let Some(name) = &self.name {
            names.push(format!("name={name}"));
        }
        names
    }
}

/// The mounted cgroup2 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnifiedMount {
    /// Where it is mounted (the root itself on pure v2).
    pub mount_point: PathBuf,
    /// The part of the hierarchy the mount shows, `/` normally.
    pub mount_root: String,
    /// Controllers available at its root (`cgroup.controllers`).
    pub controllers: Vec<Controller>,
}

/// Every cgroup hierarchy mounted under one root.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Mounts {
    /// v1 hierarchies (controllers and named ones).
    pub v1: Vec<V1Mount>,
    /// The cgroup2 mount, if any.
    pub unified: Option<UnifiedMount>,
}

impl Mounts {
    /// Detects what is mounted under `root` (normally [`DEFAULT_ROOT`]).
    pub fn detect(root: &Path) -> Result<Self> {
        let fs = rustix::fs::statfs(root)
            .map_err(|e| CgroupError::io("statfs", root, std::io::Error::from(e)))?;
        let mountinfo_path = "/proc/self/mountinfo";
        let mountinfo = std::fs::read_to_string(mountinfo_path)
            .map_err(|e| CgroupError::io("read", mountinfo_path, e))?;
        let mut mounts = Self::from_mountinfo(&mountinfo, root);
        if fs.f_type as i64 == CGROUP2_SUPER_MAGIC {
            let mount_root = mounts
                .unified
                .take()
                .filter(|u| u.mount_point == root)
                .map(|u| u.mount_root);
            mounts = Self {
                v1: Vec::new(),
                unified: Some(UnifiedMount {
                    mount_point: root.to_path_buf(),
                    mount_root: mount_root.unwrap_or_else(|| "/".into()),
                    controllers: Vec::new(),
                }),
            };
        }
        mounts
            .v1
            .retain(|m| magic_is(&m.mount_point, CGROUP_SUPER_MAGIC));
        if let Some(unified) = &mut mounts.unified {
            if !magic_is(&unified.mount_point, CGROUP2_SUPER_MAGIC) {
                mounts.unified = None;
            } else {
                unified.controllers =
                    read_v2_controllers(&unified.mount_point.join("cgroup.controllers"))?;
            }
        }
        if mounts.layout().is_none() {
            return Err(CgroupError::NoCgroupFs {
                root: root.to_path_buf(),
                reason:
                    "neither a cgroup2 filesystem nor v1 controller hierarchies are mounted there"
                        .into(),
            });
        }
        Ok(mounts)
    }

    /// Reads the cgroup mounts under `root` from the text of
    /// `/proc/self/mountinfo`. The unified mount's controllers are left empty
    /// (they come from its `cgroup.controllers`).
    pub fn from_mountinfo(text: &str, root: &Path) -> Self {
        let mut mounts = Self::default();
        for line in text.lines() {
            let Some(entry) = MountEntry::parse(line) else {
                continue;
            };
            if !entry.mount_point.starts_with(root) {
                continue;
            }
            match entry.fstype {
                "cgroup2" if mounts.unified.is_none() => {
                    mounts.unified = Some(UnifiedMount {
                        mount_point: entry.mount_point,
                        mount_root: entry.mount_root,
                        controllers: Vec::new(),
                    });
                }
                "cgroup" => {
                    let mount = entry.v1_mount();
                    let duplicate = mounts
                        .v1
                        .iter()
                        .any(|m| m.controllers == mount.controllers && m.name == mount.name);
                    if !duplicate && (mount.name.is_some() || !mount.controllers.is_empty()) {
                        mounts.v1.push(mount);
                    }
                }
                _ => {}
            }
        }
        mounts
    }

    /// The layout these mounts make, or `None` when nothing usable is mounted.
    /// Named-only v1 hierarchies (`name=systemd`) do not make a layout v1.
    pub fn layout(&self) -> Option<Layout> {
        let v1_controllers = self.v1.iter().any(|m| !m.controllers.is_empty());
        match (v1_controllers, &self.unified) {
            (true, Some(_)) => Some(Layout::Hybrid),
            (true, None) => Some(Layout::V1),
            (false, Some(_)) => Some(Layout::V2),
            (false, None) => None,
        }
    }

    /// The v1 hierarchy carrying `controller`, if it is bound to v1.
    pub fn v1_mount_of(&self, controller: Controller) -> Option<&V1Mount> {
        self.v1.iter().find(|m| m.controllers.contains(&controller))
    }
}

/// Parses a `cgroup.controllers` file; unknown names are skipped.
pub(crate) fn read_v2_controllers(path: &Path) -> Result<Vec<Controller>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text
            .split_whitespace()
            .filter_map(Controller::from_v2_name)
            .collect()),
        // A directory that is not (yet) a real cgroup2 dir, as in fake trees.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(CgroupError::io("read", path, e)),
    }
}

fn magic_is(path: &Path, magic: i64) -> bool {
    rustix::fs::statfs(path).is_ok_and(|fs| fs.f_type == magic)
}

/// The fields of one mountinfo line that matter here.
struct MountEntry<'a> {
    mount_root: String,
    mount_point: PathBuf,
    fstype: &'a str,
    super_options: &'a str,
}

impl<'a> MountEntry<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let (left, right) = line.split_once(" - ")?;
        let left: Vec<&str> = left.split(' ').collect();
        let mut right = right.split(' ');
        let fstype = right.next()?;
        let _source = right.next()?;
        let super_options = right.next().unwrap_or("");
        Some(Self {
            mount_root: unescape(left.get(3)?),
            mount_point: PathBuf::from(unescape(left.get(4)?)),
            fstype,
            super_options,
        })
    }

    fn v1_mount(self) -> V1Mount {
        let mut controllers = Vec::new();
        let mut name = None;
        for option in self.super_options.split(',') {
            if let Some(n) = option.strip_prefix("name=") {
                name = Some(n.to_owned());
            } else if let Some(c) = Controller::from_v1_name(option) {
                controllers.push(c);
            }
        }
        V1Mount {
            mount_point: self.mount_point,
            mount_root: self.mount_root,
            controllers,
            name,
        }
    }
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            let s = std::str::from_utf8(d).ok()?;
            u8::from_str_radix(s, 8).ok()
        });
        match (bytes[i], octal) {
            (b'\\', Some(b)) => {
                out.push(b);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 22 0:40 / /mnt/other rw - cgroup cgroup rw,pids
";

    #[test]
    fn hybrid_mountinfo_gives_v1_controllers_and_a_unified_mount() {
        let m = Mounts::from_mountinfo(HYBRID, Path::new("/sys/fs/cgroup"));
        assert_eq!(m.layout(), Some(Layout::Hybrid));
        assert_eq!(m.v1.len(), 4);
        assert_eq!(
            m.v1_mount_of(Controller::Memory).unwrap().mount_point,
            Path::new("/sys/fs/cgroup/memory")
        );
        assert!(
            m.v1_mount_of(Controller::Pids).is_none(),
            "mounts outside the root are ignored"
        );
        let systemd = m.v1.iter().find(|v| v.name.is_some()).unwrap();
        assert_eq!(systemd.proc_names(), vec!["name=systemd".to_owned()]);
        assert_eq!(
            m.unified.unwrap().mount_point,
            Path::new("/sys/fs/cgroup/unified")
        );
    }

    #[test]
    fn comounted_controllers_share_one_hierarchy() {
        let text = "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
        let m = Mounts::from_mountinfo(text, Path::new("/sys/fs/cgroup"));
        assert_eq!(m.layout(), Some(Layout::V1));
        assert_eq!(
            m.v1[0].controllers,
            vec![Controller::Cpu, Controller::Cpuacct]
        );
        assert_eq!(
            m.v1[0].proc_names(),
            vec!["cpu".to_owned(), "cpuacct".to_owned()]
        );
    }

    #[test]
    fn pure_v2_mountinfo() {
        let text = "30 23 0:26 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
        let m = Mounts::from_mountinfo(text, Path::new("/sys/fs/cgroup"));
        assert_eq!(m.layout(), Some(Layout::V2));
    }

    #[test]
    fn named_only_v1_with_cgroup2_is_v2() {
        let text = "\
40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";
        let m = Mounts::from_mountinfo(text, Path::new("/sys/fs/cgroup"));
        assert_eq!(m.layout(), Some(Layout::V2));
    }

    #[test]
    fn escaped_mount_points_and_roots() {
        let text = "32 31 0:29 /a\\040b /sys/fs/cgroup/my\\040cpu rw - cgroup cgroup rw,cpu\n";
        let m = Mounts::from_mountinfo(text, Path::new("/sys/fs/cgroup"));
        assert_eq!(m.v1[0].mount_point, Path::new("/sys/fs/cgroup/my cpu"));
        assert_eq!(m.v1[0].mount_root, "/a b");
    }

    #[test]
    fn nothing_mounted_is_no_layout() {
        assert_eq!(
            Mounts::from_mountinfo("", Path::new("/sys/fs/cgroup")).layout(),
            None
        );
    }

    #[test]
    fn detect_on_a_plain_directory_fails_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let err = Mounts::detect(dir.path()).unwrap_err();
        assert!(matches!(err, CgroupError::NoCgroupFs { .. }), "{err}");
    }
}
