//! One start of the container: mount its root filesystem, seed volumes,
//! resolve its user, check its command, make and attach its network
//! namespace, write the OCI config, run the runtime (`run --detach`, or
//! `create`, network, `start` where the runtime must make the namespace).

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use brig_snapshot::Snapshotter;

use super::io::{self, Held};
use super::run::Monitor;
use crate::config::{MountConfig, NetworkMode};
use crate::error::{Error, IoContext, Result};
use crate::health::Health;
use crate::network::{self, NetworkContext};
use crate::proc::ProcessId;
use crate::record::{ContainerRecord, State};
use crate::rootfs::{self, Root};
use crate::runtime::OciRuntime;
use crate::spec::{self, SpecInput};
use crate::users::{self, ResolvedUser};

/// Largest `/etc/passwd` or `/etc/group` read.
const MAX_ACCOUNT_FILE: u64 = 4 << 20;
/// How long a foreground `run` may take to attach.
const ATTACH_WAIT: Duration = Duration::from_secs(60);

/// A started container.
#[derive(Debug)]
pub(super) struct Running {
    pub pid: i32,
    pub pidfd: OwnedFd,
    pub held: Held,
}

/// Unmounts the root filesystem unless disarmed (a failed start).
struct MountedRoot<'a> {
    path: &'a Path,
    armed: bool,
}

impl Drop for MountedRoot<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = rootfs::unmount_all(self.path);
        }
    }
}

/// Starts the container once. `first` is the monitor's first start (the
/// one its caller waits for).
pub(super) fn start(m: &mut Monitor, first: bool) -> Result<Running> {
    crate::timing::mark("monitor: start");
    let rec = m
        .ctx
        .db
        .container(&m.id)?
        .ok_or_else(|| Error::NoSuchContainer(m.id.clone()))?;
    let runtime = m.ctx.runtime(&rec);
    let rootfs_path = m.ctx.paths.rootfs(&rec.id);
    let bundle = m.ctx.paths.bundle(&rec.id);
    // Whatever a crashed earlier run left behind.
    if m.ctx.paths.runtime_root().join(&rec.id).exists() {
        let _ = runtime.delete(&rec.id, true);
    }
    let range = m.ctx.db.userns_range(&rec.id)?;
    let own_netns = premade_netns(&rec, range.is_some());
    let netns_path = bundle.join(super::netns::FILE);
    let mut mounted = MountedRoot {
        path: &rootfs_path,
        armed: false,
    };
    let monitor: &Monitor = m;
    std::thread::scope(|s| {
        // The network namespace and its veths, addresses and routes
        // (mostly kernel work) on the other core while the root filesystem
        // and the config are made here.
        let network = s.spawn(|| prepare_network(monitor, &rec, own_netns, &netns_path));
        let prepared = std::fs::create_dir_all(&rootfs_path)
            .ctx("create directory", &rootfs_path)
            .and_then(|()| prepare_root(monitor, &rec, first, range, own_netns, &mut mounted));
        let network = network
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        prepared.and(network)
    })?;
    crate::timing::mark("monitor: root, config and network ready");

    // Nothing to do between the runtime's create and start (the host's
    // network, or a network namespace made and attached beforehand): one
    // execution of the runtime instead of two.
    let one_step = own_netns || matches!(rec.config.network, NetworkMode::Host);
    let running = launch(m, &rec, &runtime, &bundle, one_step, first)?;
    record_running(m, &rec, running.pid)?;
    mounted.armed = false;
    m.ready.send(Ok(()));
    crate::timing::mark("monitor: running recorded, ready sent");
    Ok(running)
}

/// The hosts files, and the network namespace the monitor makes (`lo`
/// up, or the bridges attached).
fn prepare_network(
    m: &Monitor,
    rec: &ContainerRecord,
    own_netns: bool,
    netns_path: &Path,
) -> Result<()> {
    if own_netns {
        // Bridges bring up `lo` along with eth0.
        let loopback = matches!(rec.config.network, NetworkMode::None);
        super::netns::make_netns(netns_path, loopback)?;
    }
    // Before the attach, which adds the network's names to `hosts`.
    let bundle = m.ctx.paths.bundle(&rec.id);
    crate::hostfiles::write(&bundle, &rec.config.hostname, &rec.config.network)?;
    if own_netns && matches!(rec.config.network, NetworkMode::Bridge(_)) {
        network::for_mode(&m.ctx, &rec.config.network)
            .attach(&network_context(rec, netns_path.to_path_buf()))?;
    }
    Ok(())
}

/// Mounts and checks the root filesystem (arming `mounted`), seeds
/// volumes and writes the OCI config.
fn prepare_root(
    m: &Monitor,
    rec: &ContainerRecord,
    first: bool,
    range: Option<(u32, u32)>,
    own_netns: bool,
    mounted: &mut MountedRoot<'_>,
) -> Result<()> {
    let scratch = m.ctx.paths.rootfs_dir().join(format!("{}.idmap", rec.id));
    let userns = mount_root(m, rec, first, range, &scratch)?;
    mounted.armed = true;
    crate::timing::mark("monitor: rootfs mounted");
    let root = Root::open(mounted.path)?;
    seed_volumes(m, rec, &root)?;
    let volume_maps = match range {
        Some((start, size)) if has_volumes(rec) => {
            let fd = match userns {
                Some(fd) => fd,
                None => super::idmap::mapped_userns(start, size)?,
            };
            super::idmap::idmapped_volumes(&volume_dirs(m, rec), &scratch, &fd)?
        }
        _ => Vec::new(),
    };
    let user = resolve_user(rec, &root)?;
    rootfs::check_command(
        &root,
        &rec.config.args[0],
        &rec.config.env,
        &rec.config.working_dir,
    )?;
    drop(root);
    crate::timing::mark("monitor: rootfs checked");
    let bundle = m.ctx.paths.bundle(&rec.id);
    write_config(m, rec, &user, &bundle, &volume_maps, own_netns)?;
    crate::timing::mark("monitor: config written");
    Ok(())
}

/// Runs the runtime (`create`, then network and attach client, then
/// `start`; or one `run --detach`) and watches the container's init.
fn launch(
    m: &mut Monitor,
    rec: &ContainerRecord,
    runtime: &OciRuntime,
    bundle: &Path,
    one_step: bool,
    first: bool,
) -> Result<Running> {
    let console = m.ctx.paths.console_socket(&rec.id);
    let (create_io, pending) = io::prepare(rec.config.tty, rec.config.open_stdin, &console)?;
    let pid_file = bundle.join("init.pid");
    let _ = std::fs::remove_file(&pid_file);
    let create = if one_step {
        OciRuntime::run_detached
    } else {
        OciRuntime::create
    };
    create(
        runtime,
        &rec.id,
        bundle,
        &pid_file,
        &m.ctx.paths.runtime_log(&rec.id),
        create_io,
    )?;
    crate::timing::mark("monitor: runtime created");
    let created = (|| {
        let held = pending.finish(&console)?;
        let pid = read_pid(&pid_file)?;
        let pidfd = rustix::process::pidfd_open(
            rustix::process::Pid::from_raw(pid)
                .ok_or_else(|| Error::Spec("bad init pid".into()))?,
            rustix::process::PidfdFlags::empty(),
        )
        .ctx("watch the container's init", format!("/proc/{pid}"))?;
        if !one_step {
            let netns = format!("/proc/{pid}/ns/net").into();
            network::for_mode(&m.ctx, &rec.config.network).attach(&network_context(rec, netns))?;
        }
        if first && m.args.attach_wait {
            m.ready.send(Ok(()));
            m.clients.wait_for_first(ATTACH_WAIT);
        }
        if !one_step {
            runtime.start(&rec.id)?;
        }
        crate::timing::mark("monitor: runtime started");
        Ok(Running { pid, pidfd, held })
    })();
    if created.is_err() {
        let _ = runtime.delete(&rec.id, true);
    }
    created
}

fn network_context(rec: &ContainerRecord, netns: PathBuf) -> NetworkContext<'_> {
    NetworkContext {
        id: &rec.id,
        name: &rec.name,
        hostname: &rec.config.hostname,
        netns,
        ports: &rec.config.ports,
    }
}

/// Mounts the root filesystem (a restart reuses our mount; a first start
/// clears what the host left); with `--userns auto`, on idmapped layers.
/// Returns the user namespace made for that, if any.
fn mount_root(
    m: &Monitor,
    rec: &ContainerRecord,
    first: bool,
    range: Option<(u32, u32)>,
    scratch: &Path,
) -> Result<Option<OwnedFd>> {
    let rootfs_path = m.ctx.paths.rootfs(&rec.id);
    if !first && rootfs::is_mount_point(&rootfs_path) {
        return Ok(None);
    }
    rootfs::unmount_all(&rootfs_path)?;
    let mut specs = m.ctx.snapshotter()?.mounts(&rec.id)?;
    let mut userns = None;
    if let Some((start, size)) = range {
        let fd = userns.insert(super::idmap::mapped_userns(start, size)?);
        specs = super::idmap::idmapped_specs(&specs, scratch, fd, start)?;
    }
    for spec in specs {
        spec.mount_at(&rootfs_path)?;
    }
    Ok(userns)
}

fn resolve_user(rec: &ContainerRecord, root: &Root) -> Result<ResolvedUser> {
    let passwd = root
        .read_to_string("/etc/passwd", MAX_ACCOUNT_FILE)?
        .unwrap_or_default();
    let group = root
        .read_to_string("/etc/group", MAX_ACCOUNT_FILE)?
        .unwrap_or_default();
    users::resolve_user(&rec.config.user, &rec.config.group_add, &passwd, &group)
}

/// Named volumes start with the image's files at their mount point (once).
fn seed_volumes(m: &Monitor, rec: &ContainerRecord, root: &Root) -> Result<()> {
    for mount in &rec.config.mounts {
        let MountConfig::Volume {
            name,
            target,
            copy_up: true,
            ..
        } = mount
        else {
            continue;
        };
        let data = m.ctx.paths.volume_data(name);
        crate::cleanup::ensure_volume(&m.ctx, name, false, Default::default())?;
        let already = m.ctx.db.volume(name)?.is_some_and(|v| v.seeded);
        let empty = std::fs::read_dir(&data)
            .ctx("list", &data)?
            .next()
            .is_none();
        if !already && empty {
            rootfs::copy_into_volume(root, target, &data)?;
        }
        m.ctx.db.mark_volume_seeded(name)?;
    }
    Ok(())
}

/// Whether `--network none` or bridges get a network namespace made (and
/// set up) by the monitor before the runtime runs. Not in a user namespace
/// of its own nor with `net.*` sysctls: there the container's root must
/// own its network namespace, so the runtime makes it.
fn premade_netns(rec: &ContainerRecord, userns: bool) -> bool {
    matches!(
        rec.config.network,
        NetworkMode::None | NetworkMode::Bridge(_)
    ) && !userns
        && !rec.config.sysctls.keys().any(|k| k.starts_with("net."))
}

fn has_volumes(rec: &ContainerRecord) -> bool {
    rec.config
        .mounts
        .iter()
        .any(|m| matches!(m, MountConfig::Volume { .. }))
}

/// The data directories of the container's volumes, in mount order.
fn volume_dirs(m: &Monitor, rec: &ContainerRecord) -> Vec<PathBuf> {
    rec.config
        .mounts
        .iter()
        .filter_map(|mount| match mount {
            MountConfig::Volume { name, .. } => Some(m.ctx.paths.volume_data(name)),
            _ => None,
        })
        .collect()
}

/// Points the bind mounts of volume directories at their idmapped copies.
fn use_idmapped_volumes(spec: &mut oci_spec::runtime::Spec, maps: &[(PathBuf, PathBuf)]) {
    let Some(mounts) = spec.mounts_mut() else {
        return;
    };
    for mount in mounts.iter_mut() {
        let mapped = mount
            .source()
            .as_ref()
            .and_then(|src| maps.iter().find(|(data, _)| data == src));
        if let Some((_, idmapped)) = mapped {
            mount.set_source(Some(idmapped.clone()));
        }
    }
}

fn write_config(
    m: &Monitor,
    rec: &ContainerRecord,
    user: &ResolvedUser,
    bundle: &Path,
    volume_maps: &[(PathBuf, PathBuf)],
    own_netns: bool,
) -> Result<()> {
    let host = m.host_facts(rec.config.security.privileged);
    let userns = m.ctx.db.userns_range(&rec.id)?;
    let mut spec = spec::generate(&SpecInput {
        id: &rec.id,
        name: &rec.name,
        config: &rec.config,
        user,
        host: &host,
        paths: &m.ctx.paths,
        userns,
    })?;
    if let crate::config::NetworkMode::Container(target) = &rec.config.network {
        let path = crate::network::joined_netns(&m.ctx, target)?;
        crate::network::join_netns(&mut spec, path);
    }
    if let (Some((rows, cols)), Some(process)) = (m.args.console_size, spec.process_mut().as_mut())
        && rec.config.tty
    {
        let size = oci_spec::runtime::BoxBuilder::default()
            .height(u64::from(rows))
            .width(u64::from(cols))
            .build()
            .map_err(|e| Error::Spec(e.to_string()))?;
        process.set_console_size(Some(size));
    }
    use_idmapped_volumes(&mut spec, volume_maps);
    if own_netns {
        network::join_netns(&mut spec, bundle.join(super::netns::FILE));
    }
    let json = serde_json::to_vec_pretty(&spec).map_err(|e| Error::json("config.json", e))?;
    let tmp = bundle.join("config.json.tmp");
    let path = bundle.join("config.json");
    std::fs::write(&tmp, json).ctx("write", &tmp)?;
    std::fs::rename(&tmp, &path).ctx("rename into place", &path)
}

fn read_pid(path: &Path) -> Result<i32> {
    let text = std::fs::read_to_string(path).ctx("read", path)?;
    text.trim()
        .parse()
        .map_err(|_| Error::io("parse", path, std::io::Error::other("not a PID")))
}

fn record_running(m: &Monitor, rec: &ContainerRecord, pid: i32) -> Result<()> {
    let health = rec.config.healthcheck.as_ref().map(|_| Health::default());
    m.ctx.db.modify(&rec.id, |r| {
        r.state = State::Running;
        r.pid = Some(pid);
        r.monitor = Some(ProcessId::current());
        r.started_at = Some(crate::time::now_ns());
        r.exit_code = None;
        r.oom_killed = false;
        r.error = None;
        r.health = health;
        Ok(())
    })?;
    m.ctx.event(rec, "start", &[]);
    Ok(())
}
