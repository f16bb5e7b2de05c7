//! Undoing a container, step by step and idempotently, so that an
//! interrupted `rm`, a crashed `run` or a reboot is finished by whoever
//! comes next (each step succeeds when there is nothing left to do).

use brig_cgroups::{AnyManager, CgroupManager, CgroupMonitor};
use brig_snapshot::Snapshotter;

use crate::config::MountConfig;
use crate::ctx::Ctx;
use crate::error::{Error, IoContext, Result};
use crate::record::ContainerRecord;
use crate::rootfs;

/// The cgroup path brig gives every container.
pub fn cgroups_path(id: &str) -> String {
    format!("/brig/{id}")
}

/// Ends what is left of a container's last run: the runtime's record, any
/// process still in its cgroup, the cgroup and the root filesystem mount.
/// Only for containers that must not run.
pub fn release_run(ctx: &Ctx, rec: &ContainerRecord) -> Result<()> {
    release_runtime(ctx, rec)?;
    if matches!(rec.config.network, crate::config::NetworkMode::Bridge(_)) {
        crate::network::bridge::delete_stale_links(&rec.id)?;
    }
    let mount_point = ctx.paths.rootfs(&rec.id);
    rootfs::unmount_all(&mount_point)?;
    let _ = std::fs::remove_dir(&mount_point);
    Ok(())
}

/// [`release_run`] without the unmount (a monitor's mount goes with it).
pub fn release_runtime(ctx: &Ctx, rec: &ContainerRecord) -> Result<()> {
    force_delete(ctx, rec)?;
    // Addresses, veths, ports and names a crashed monitor did not give back.
    crate::network::release(ctx, &rec.id)
}

/// The runtime's `delete --force`, and the cgroup: after /run was wiped
/// the runtime knows nothing, the cgroup still does.
fn force_delete(ctx: &Ctx, rec: &ContainerRecord) -> Result<()> {
    let runtime = ctx.runtime(rec);
    let _ = runtime.delete(&rec.id, true);
    crate::timing::mark("release: runtime deleted");
    if let Ok(cg) = AnyManager::for_container(Some(&cgroups_path(&rec.id)), &rec.id, false) {
        cg.remove()?;
    }
    Ok(())
}

/// The end of a run whose init exited, without executing the runtime;
/// the network is the caller's (the monitor detaches it meanwhile).
/// For a stopped container whose configuration has no hooks (brig
/// writes none), the runtime's `delete` removes the cgroup and its state
/// directory: that is done here directly (runc's `delete` alone costs
/// ~30 ms). A cgroup with processes left (e.g. a shared PID namespace)
/// goes through the runtime's `delete --force`.
pub fn release_exited_run(ctx: &Ctx, rec: &ContainerRecord) -> Result<()> {
    let cg = AnyManager::for_container(Some(&cgroups_path(&rec.id)), &rec.id, false);
    let empty = cg
        .as_ref()
        .is_ok_and(|cg| cg.pids().is_ok_and(|pids| pids.is_empty()));
    if !empty {
        return force_delete(ctx, rec);
    }
    if let Ok(cg) = cg {
        cg.remove()?;
    }
    let state = ctx.paths.runtime_root().join(&rec.id);
    match std::fs::remove_dir_all(&state) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::io("remove the runtime's state", state, e));
        }
        _ => {}
    }
    Ok(())
}

/// Unmounts and removes a container's root filesystem mount point (with
/// `idmap`, its directory of idmapped layers). Only for a container that
/// does not run, under its lock: removing a directory also detaches what
/// other mount namespaces have mounted on it.
pub fn remove_mount_point(path: &std::path::Path, idmap: bool) -> Result<()> {
    if idmap && let Ok(children) = std::fs::read_dir(path) {
        for child in children.flatten() {
            rootfs::unmount_all(&child.path())?;
            let _ = std::fs::remove_dir(child.path());
        }
    }
    rootfs::unmount_all(path)?;
    let _ = std::fs::remove_dir(path);
    Ok(())
}

/// Removes the monitor's socket files (its own exit, or a dead monitor's).
pub fn remove_sockets(ctx: &Ctx, id: &str) {
    for sock in [ctx.paths.attach_socket(id), ctx.paths.console_socket(id)] {
        let _ = std::fs::remove_file(sock);
    }
}

/// Removes a container completely: its run, snapshot, bundle, anonymous
/// volumes (with `volumes`), record and lock.
pub fn remove_container(ctx: &Ctx, rec: &ContainerRecord, volumes: bool) -> Result<()> {
    release_run(ctx, rec)?;
    remove_released(ctx, rec, volumes)
}

/// [`remove_container`] for a container whose run was just released.
pub fn remove_released(ctx: &Ctx, rec: &ContainerRecord, volumes: bool) -> Result<()> {
    remove_sockets(ctx, &rec.id);
    match ctx.snapshotter()?.remove(&rec.id) {
        Ok(()) | Err(brig_snapshot::Error::SnapshotNotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let bundle = ctx.paths.bundle(&rec.id);
    match std::fs::remove_dir_all(&bundle) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::io("remove", bundle, e));
        }
        _ => {}
    }
    if volumes {
        remove_anonymous_volumes(ctx, rec)?;
    }
    ctx.db.delete_container(&rec.id)?;
    crate::lock::ContainerLock::remove_file(&ctx.paths.locks_dir(), &rec.id);
    ctx.event(rec, "destroy", &[]);
    Ok(())
}

fn remove_anonymous_volumes(ctx: &Ctx, rec: &ContainerRecord) -> Result<()> {
    let others = ctx.db.containers()?;
    for m in &rec.config.mounts {
        let MountConfig::Volume {
            name,
            anonymous: true,
            ..
        } = m
        else {
            continue;
        };
        let used = others
            .iter()
            .filter(|c| c.id != rec.id)
            .any(|c| uses_volume(c, name));
        if !used {
            remove_volume_data(ctx, name)?;
        }
    }
    Ok(())
}

/// Whether a container mounts volume `name`.
pub fn uses_volume(rec: &ContainerRecord, name: &str) -> bool {
    rec.config
        .mounts
        .iter()
        .any(|m| matches!(m, MountConfig::Volume { name: n, .. } if n == name))
}

/// Deletes a volume's directory and record.
pub fn remove_volume_data(ctx: &Ctx, name: &str) -> Result<()> {
    let dir = ctx.paths.volumes_dir().join(name);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::io("remove volume", dir, e));
        }
        _ => {}
    }
    if ctx.db.delete_volume(name)? {
        ctx.object_event("volume", name, "destroy");
    }
    Ok(())
}

/// Creates a volume's directory (and record) unless it exists.
pub fn ensure_volume(
    ctx: &Ctx,
    name: &str,
    anonymous: bool,
    labels: std::collections::BTreeMap<String, String>,
) -> Result<bool> {
    let data = ctx.paths.volume_data(name);
    std::fs::create_dir_all(&data).ctx("create volume", &data)?;
    let created = ctx.db.insert_volume(&crate::db::VolumeRecord {
        name: name.to_owned(),
        created_at: crate::time::now_ns(),
        labels,
        options: Default::default(),
        anonymous,
        seeded: false,
    })?;
    if created {
        ctx.object_event("volume", name, "create");
    }
    Ok(created)
}
