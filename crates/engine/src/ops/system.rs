//! `system df`, `system prune`, `system info`, and `container prune`.

use std::collections::HashSet;
use std::path::Path;

use brig_image::ImageStore;
use brig_snapshot::Snapshotter;
use serde::Serialize;
use serde_json::{Value, json};

use crate::engine::Engine;
use crate::error::Result;
use crate::record::State;

/// One row of `system df`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DfRow {
    pub kind: &'static str,
    pub total: usize,
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
}

/// What `system prune` removed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PruneReport {
    pub containers: Vec<String>,
    pub images: Vec<String>,
    pub volumes: Vec<String>,
    /// Snapshots and bundles no record owned (left by crashes).
    pub orphans: Vec<String>,
    pub bytes_freed: u64,
}

fn usage(path: &Path) -> u64 {
    brig_snapshot::usage::disk_usage(path)
}

impl Engine {
    /// `container prune`: every container that is not running.
    pub fn container_prune(&self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for c in self.ctx.db.containers()? {
            if matches!(c.state, State::Created | State::Exited) {
                self.remove(&c.id, false, false)?;
                removed.push(c.id);
            }
        }
        Ok(removed)
    }

    /// `system df`.
    pub fn df(&self) -> Result<Vec<DfRow>> {
        let images = ImageStore::open(self.ctx.paths.root(), &self.ctx.paths.db())?;
        let containers = self.ctx.db.containers()?;
        let used_images: HashSet<&str> = containers.iter().map(|c| c.image_id.as_str()).collect();
        let mut img = DfRow {
            kind: "Images",
            ..Default::default()
        };
        for i in images.images()? {
            img.total += 1;
            img.size += i.size;
            if used_images.contains(i.id.as_ref()) {
                img.active += 1;
            } else {
                img.reclaimable += i.size;
            }
        }
        let snapshots = self.ctx.snapshotter()?;
        let mut ctr = DfRow {
            kind: "Containers",
            ..Default::default()
        };
        for c in &containers {
            let size = snapshots.usage(&c.id).unwrap_or(0) + usage(&self.ctx.paths.bundle(&c.id));
            ctr.total += 1;
            ctr.size += size;
            if c.state.has_monitor() {
                ctr.active += 1;
            } else {
                ctr.reclaimable += size;
            }
        }
        let mut vol = DfRow {
            kind: "Local Volumes",
            ..Default::default()
        };
        for v in self.volume_list()? {
            let size = usage(&v.mountpoint);
            vol.total += 1;
            vol.size += size;
            if v.containers.is_empty() {
                vol.reclaimable += size;
            } else {
                vol.active += 1;
            }
        }
        Ok(vec![img, ctr, vol])
    }

    /// `system prune [--all] [--volumes]`: stopped containers, crash
    /// leftovers, images without a name (every unused image with `all`),
    /// unpacked layers no image uses, and with `volumes` unused anonymous volumes.
    pub fn system_prune(&self, all: bool, volumes: bool) -> Result<PruneReport> {
        let mut report = PruneReport {
            containers: self.container_prune()?,
            ..Default::default()
        };
        report.orphans = self.remove_orphans()?;
        let images = ImageStore::open(self.ctx.paths.root(), &self.ctx.paths.db())?;
        let in_use: HashSet<brig_image::Digest> = self
            .ctx
            .db
            .containers()?
            .iter()
            .filter_map(|c| brig_image::parse_digest(&c.image_id).ok())
            .collect();
        let pruned = images.prune(all, &in_use)?;
        report.images = pruned.deleted.iter().map(|d| d.to_string()).collect();
        report.bytes_freed += pruned.gc.bytes_freed;
        let layers = self.ctx.layers()?;
        let snapshots = self.ctx.snapshotter()?;
        let snapshotters: [&dyn Snapshotter; 1] = [&snapshots];
        let gc = brig_snapshot::collect_unused_layers(&layers, &images, &snapshotters)?;
        report.bytes_freed += gc.bytes_freed;
        if volumes {
            report.volumes = self.volume_prune(false)?;
        }
        Ok(report)
    }

    /// Snapshots and bundle directories without a container record (a
    /// crash between steps that the record could not describe).
    fn remove_orphans(&self) -> Result<Vec<String>> {
        let known: HashSet<String> = self
            .ctx
            .db
            .containers()?
            .into_iter()
            .map(|c| c.id)
            .collect();
        let mut removed = Vec::new();
        let snapshots = self.ctx.snapshotter()?;
        for s in snapshots.list()? {
            if !known.contains(&s.id) {
                snapshots.remove(&s.id)?;
                removed.push(s.id);
            }
        }
        if let Ok(dir) = std::fs::read_dir(self.ctx.paths.containers_dir()) {
            for e in dir.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                if !known.contains(&id) {
                    let _ = std::fs::remove_dir_all(e.path());
                    if !removed.contains(&id) {
                        removed.push(id);
                    }
                }
            }
        }
        Ok(removed)
    }

    /// `system info`.
    pub fn info(&self) -> Result<Value> {
        let containers = self.ctx.db.containers()?;
        let count = |s: State| containers.iter().filter(|c| c.state == s).count();
        let images = ImageStore::open(self.ctx.paths.root(), &self.ctx.paths.db())?
            .images()?
            .len();
        let runtime = crate::runtime::find_runtime(self.runtime.as_deref())
            .map(|p| p.display().to_string())
            .unwrap_or_else(|e| e.to_string());
        let uname = rustix::system::uname();
        let layout = brig_cgroups::Mounts::detect(Path::new(brig_cgroups::DEFAULT_ROOT))
            .ok()
            .and_then(|m| m.layout())
            .map(|l| format!("{l:?}").to_ascii_lowercase())
            .unwrap_or_else(|| "none".to_owned());
        let mut security = vec![
            "name=seccomp,profile=builtin".to_owned(),
            "name=cgroupns".to_owned(),
        ];
        if Path::new("/sys/kernel/security/apparmor").exists() {
            security.push("name=apparmor".to_owned());
        }
        if Path::new("/sys/fs/selinux/enforce").exists() {
            security.push("name=selinux".to_owned());
        }
        Ok(json!({
            "Containers": containers.len(),
            "ContainersRunning": count(State::Running),
            "ContainersPaused": count(State::Paused),
            "ContainersStopped": count(State::Exited) + count(State::Created),
            "Images": images,
            "Driver": "overlay",
            "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": layout,
            "DefaultRuntime": runtime,
            "SecurityOptions": security,
            "KernelVersion": uname.release().to_string_lossy(),
            "OperatingSystem": "linux",
            "Architecture": std::env::consts::ARCH,
            "NCPU": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "DockerRootDir": self.ctx.paths.root(),
            "RunRoot": self.ctx.paths.runroot(),
            "DefaultCapabilities": crate::caps::DEFAULT,
            "DefaultPidsLimit": crate::spec::DEFAULT_PIDS_LIMIT,
            "Name": uname.nodename().to_string_lossy(),
            "ServerVersion": env!("CARGO_PKG_VERSION"),
        }))
    }
}
