//! [`AnyManager`]: the backend for this machine's layout, picked at run time,
//! and the entry point the runtime uses.

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use crate::error::{CgroupError, Result};
use crate::freezer::FreezerState;
use crate::hybrid::HybridManager;
use crate::layout::{DEFAULT_ROOT, Layout, Mounts};
use crate::manager::{CgroupManager, CgroupMonitor};
use crate::oom::OomWatcher;
use crate::path::{CgroupPath, OwnCgroups};
use crate::stats::Stats;
use crate::systemd::{SystemdPath, systemd_driver};
use crate::v1::V1Manager;
use crate::v2::V2Manager;

/// One container's cgroup with whichever backend the layout needs.
/// Serialisable, so the runtime can keep it in its state and rebuild it in
/// a later command (`update`, `pause`, `delete`) with everything `create`
/// learnt (notably which parent directories it made).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "layout", rename_all = "lowercase")]
pub enum AnyManager {
    V1(V1Manager),
    V2(V2Manager),
    Hybrid(HybridManager),
}

impl AnyManager {
    /// The manager for a container on this machine (`/sys/fs/cgroup`):
    /// `cgroups_path` is `linux.cgroupsPath` (see [`crate::path`] for the
    /// default), `systemd` is `--systemd-cgroup`.
    pub fn for_container(
        cgroups_path: Option<&str>,
        container_id: &str,
        systemd: bool,
    ) -> Result<Self> {
        Self::for_container_at(Path::new(DEFAULT_ROOT), cgroups_path, container_id, systemd)
    }

    /// Like [`AnyManager::for_container`] with the cgroup root at `root`.
    pub fn for_container_at(
        root: &Path,
        cgroups_path: Option<&str>,
        container_id: &str,
        systemd: bool,
    ) -> Result<Self> {
        if systemd {
            let path = SystemdPath::for_container(cgroups_path, container_id)?;
            let never = systemd_driver(&path)?;
            match never {}
        }
        let path = CgroupPath::for_container(cgroups_path, container_id)?;
        let mounts = Mounts::detect(root)?;
        let own = match path {
            CgroupPath::Relative(_) => Some(OwnCgroups::read()?),
            CgroupPath::Absolute(_) => None,
        };
        Self::from_mounts(&mounts, &path, own.as_ref())
    }

    /// The manager for `path` on already detected (or hand-made) `mounts`.
    pub fn from_mounts(
        mounts: &Mounts,
        path: &CgroupPath,
        own: Option<&OwnCgroups>,
    ) -> Result<Self> {
        let no_fs = || CgroupError::NoCgroupFs {
            root: mounts
                .v1
                .first()
                .map(|m| m.mount_point.clone())
                .unwrap_or_default(),
            reason: "no cgroup hierarchy is mounted".into(),
        };
        let layout = mounts.layout().ok_or_else(no_fs)?;
        Ok(match (layout, &mounts.unified) {
            (Layout::V1, _) => Self::V1(V1Manager::new(&mounts.v1, path, own)?),
            (Layout::V2, Some(unified)) => Self::V2(V2Manager::new(unified, path, own)?),
            (Layout::Hybrid, Some(unified)) => Self::Hybrid(HybridManager::new(
                V1Manager::new(&mounts.v1, path, own)?,
                V2Manager::new(unified, path, own)?,
                unified.controllers.clone(),
            )),
            (Layout::V2 | Layout::Hybrid, None) => return Err(no_fs()),
        })
    }

    /// The layout of this manager's backend.
    pub fn layout(&self) -> Layout {
        match self {
            Self::V1(_) => Layout::V1,
            Self::V2(_) => Layout::V2,
            Self::Hybrid(_) => Layout::Hybrid,
        }
    }

    /// Every directory of the container's cgroup, keyed like runc's state
    /// `cgroup_paths` (controller list, or `""` for the cgroup2 directory).
    pub fn paths(&self) -> Vec<(String, PathBuf)> {
        let v1 = |m: &V1Manager| -> Vec<(String, PathBuf)> {
            m.dirs()
                .iter()
                .map(|d| {
                    let mut names: Vec<String> = d
                        .controllers
                        .iter()
                        .map(|c| c.v1_name().to_owned())
                        .collect();
                    names.extend(d.name.as_ref().map(|n| format!("name={n}")));
                    (names.join(","), d.dir.clone())
                })
                .collect()
        };
        match self {
            Self::V1(m) => v1(m),
            Self::V2(m) => vec![(String::new(), m.dir().to_path_buf())],
            Self::Hybrid(m) => {
                let mut paths = v1(m.v1());
                paths.push((String::new(), m.v2().dir().to_path_buf()));
                paths
            }
        }
    }

    fn manager(&self) -> &dyn Backend {
        match self {
            Self::V1(m) => m,
            Self::V2(m) => m,
            Self::Hybrid(m) => m,
        }
    }
}

/// Both traits at once, so `AnyManager` can delegate through one reference.
trait Backend: CgroupManager + CgroupMonitor {}
impl<T: CgroupManager + CgroupMonitor> Backend for T {}

impl CgroupManager for AnyManager {
    fn create(&mut self) -> Result<()> {
        match self {
            Self::V1(m) => m.create(),
            Self::V2(m) => m.create(),
            Self::Hybrid(m) => m.create(),
        }
    }

    fn add_task(&self, pid: i32) -> Result<()> {
        self.manager().add_task(pid)
    }

    fn set_resources(&self, resources: &LinuxResources) -> Result<()> {
        self.manager().set_resources(resources)
    }

    fn freeze(&self, state: FreezerState) -> Result<()> {
        self.manager().freeze(state)
    }

    fn remove(&self) -> Result<()> {
        self.manager().remove()
    }
}

impl CgroupMonitor for AnyManager {
    fn pids(&self) -> Result<Vec<i32>> {
        self.manager().pids()
    }

    fn stats(&self) -> Result<Stats> {
        self.manager().stats()
    }

    fn freezer_state(&self) -> Result<FreezerState> {
        self.manager().freezer_state()
    }

    fn oom_kill_count(&self) -> Result<u64> {
        self.manager().oom_kill_count()
    }

    fn oom_watcher(&self) -> Result<OomWatcher> {
        self.manager().oom_watcher()
    }
}
