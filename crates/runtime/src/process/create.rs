//! The parent side of `create`: validate everything, make the state
//! directory, clone the init process into its namespaces, answer its
//! messages, record the state. On any failure nothing is left behind.

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use oci_spec::runtime::LinuxNamespaceType;
use rustix::fs::{Mode, OFlags};

use super::init::{self, InitContext};
use super::plan::ProcessPlan;
use super::protocol::{self, Channel, ToInit, ToParent};
use crate::bundle::Bundle;
use crate::error::{Error, Result};
use crate::hooks::{self, HookKind};
use crate::idmap;
use crate::namespaces::NamespacePlan;
use crate::proc::ProcessId;
use crate::report;
use crate::rootfs::{RootfsOptions, RootfsPlan};
use crate::state::{ContainerDir, Phase, Record, Store};

#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub systemd_cgroup: bool,
}

/// A created container whose init waits for `start`.
#[derive(Debug)]
pub struct Created {
    pub dir: ContainerDir,
    pub record: Record,
    /// Still open to init: it reports failures between `start` and exec here.
    pub channel: Channel,
    /// With [`Start::AtOnce`]: the exec fifo's reading end (init found its
    /// start byte already there) and the cgroup's OOM kill count before.
    pub started: Option<(OwnedFd, Option<u64>)>,
}

/// Whether init waits for `start` (`create`) or executes the program as
/// soon as it is ready (`run`: no round trip through the runtime).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    OnRequest,
    AtOnce,
}

/// Undoes a half-made container unless disarmed.
struct Cleanup<'a> {
    dir: Option<&'a ContainerDir>,
    child: Option<ProcessId>,
    cgroup: Option<brig_cgroups::AnyManager>,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if let Some(child) = self.child.and_then(|c| c.pidfd()) {
            let _ = crate::proc::signal(&child, libc::SIGKILL);
            let _ = crate::proc::wait_exit(&child, std::time::Duration::from_secs(5));
        }
        if let Some(cg) = &self.cgroup {
            use brig_cgroups::CgroupManager;
            let _ = cg.remove();
        }
        if let Some(dir) = self.dir {
            let _ = std::fs::remove_dir_all(&dir.path);
        }
    }
}

pub fn create(store: &Store, opts: &CreateOptions) -> Result<Created> {
    create_with_console(
        store,
        opts,
        Bundle::load(&opts.bundle)?,
        None,
        Start::OnRequest,
    )
}

/// Like [`create`], with an already connected console socket (`run` with a
/// terminal and no `--console-socket` proxies the terminal itself).
pub(crate) fn create_with_console(
    store: &Store,
    opts: &CreateOptions,
    bundle: Bundle,
    console: Option<UnixStream>,
    start: Start,
) -> Result<Created> {
    let config = bundle.config_path();
    let ns = NamespacePlan::from_spec(&bundle.spec, &config)?;
    let process_spec = bundle
        .spec
        .process()
        .as_ref()
        .ok_or_else(|| crate::bundle::config_error(&config, "process", "is required"))?;
    let process = ProcessPlan::from_spec(process_spec, &config, crate::caps::last_cap())?;
    let cgroup = crate::cgroup::plan(&bundle.spec, &opts.id, opts.systemd_cgroup)?;
    let mut rootfs = RootfsPlan::from_spec(
        &bundle.spec,
        &bundle.rootfs,
        RootfsOptions {
            no_pivot: opts.no_pivot,
            terminal: process.terminal,
            in_user_namespace: ns.creates(LinuxNamespaceType::User)
                || ns.joins(LinuxNamespaceType::User),
            bundle: bundle.dir.clone(),
            host_cgroups: Some(cgroup.mounts.clone()),
        },
    )?;
    crate::idmap::validate(&bundle.spec, &config)?;
    // Needs host root: done before the clone, init inherits the descriptors.
    rootfs.open_idmapped_trees()?;
    // Last of the plans: with SCMP_ACT_NOTIFY it connects to the seccomp agent.
    let process = process.confine(&bundle.spec, process_spec, &config)?;
    if let Some(label) = &process.lsm.mount_label {
        rootfs.set_mount_label(label)?;
    }
    let console = match console {
        Some(c) => Some(c),
        None => connect_console(opts, process.terminal)?,
    };

    let dir = store.create(&opts.id)?;
    let mut cleanup = Cleanup {
        dir: Some(&dir),
        child: None,
        cgroup: None,
    };
    let mut cg = cgroup.manager;
    let mut record = Record {
        id: opts.id.clone(),
        phase: Phase::Creating,
        init: None,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: crate::state::rfc3339_now(),
        annotations: bundle.spec.annotations().clone().unwrap_or_default(),
        cgroup: Some(cg.clone()),
        config: bundle.spec.clone(),
    };
    // Recorded before the cgroup exists: a `delete --force` after a crash
    // at any later point finds what to remove.
    dir.save(&record)?;
    // Armed before creating: a create that fails half-way is undone too.
    cleanup.cgroup = Some(cg.clone());
    // False only when rootless without permission (see rootless.rs).
    let has_cgroup = crate::rootless::create_cgroup(&mut cg, &bundle.spec)?;
    cleanup.cgroup = has_cgroup.then(|| cg.clone());
    let entry = if has_cgroup {
        use brig_cgroups::CgroupManager;
        if let Some(resources) = crate::cgroup::resources_with_devices(&bundle.spec) {
            cg.set_resources(&resources)?;
        }
        // The child enters the cgroup by itself (brig_cgroups::entry says why).
        cg.entry()?
    } else {
        brig_cgroups::Entry::default()
    };
    let oom_baseline = crate::cgroup::OomBaseline::take(has_cgroup.then_some(&cg));
    let fifo = make_fifo(&dir)?;
    let started = match start {
        Start::OnRequest => None,
        // Both stages count from the same baseline: nothing ran in between.
        Start::AtOnce => Some((
            start_at_once(&dir, &fifo)?,
            oom_baseline.as_ref().map(|b| b.kills()),
        )),
    };
    let listen = socket_activation();
    let (parent_end, child_end) = protocol::pair().map_err(|e| Error::sys("socketpair", e))?;
    let ctx = InitContext {
        spec: &bundle.spec,
        ns: &ns,
        rootfs: &rootfs,
        process: &process,
        fifo: fifo.as_fd(),
        console: console.as_ref().map(|c| c.as_fd()),
        extra_env: listen.env,
        preserve_fds: opts.preserve_fds + listen.fds,
        new_keyring: (!opts.no_new_keyring)
            .then(|| CString::new(format!("_ses.{}", opts.id)).unwrap_or_default()),
        cgroup_tasks: entry.tasks(),
    };
    let pid = spawn_init(&ctx, child_end, &ns, entry.clone_into())?;
    let init = ProcessId::of(pid).ok_or_else(|| Error::Init(init_vanished()))?;
    cleanup.child = Some(init);

    record.init = Some(init);
    record.cgroup = has_cgroup.then(|| cg.clone());
    // Persist the pid first: a `delete --force` after a crash must find the process.
    dir.save(&record)?;
    if ns.creates(LinuxNamespaceType::User) {
        idmap::write_maps(pid, &bundle.spec, &config)?;
    }
    drive_init(&parent_end, &record).map_err(|e| match &oom_baseline {
        Some(oom) if oom.killed() => {
            crate::cgroup::oom_killed("creating the container", &bundle.spec)
        }
        _ => e,
    })?;

    record.phase = Phase::Created;
    dir.save(&record)?;
    if let Some(path) = &opts.pid_file {
        write_pid_file(path, pid)?;
    }
    cleanup.dir = None;
    cleanup.child = None;
    cleanup.cgroup = None;
    drop(cleanup);
    Ok(Created {
        dir,
        record,
        channel: parent_end,
        started,
    })
}

/// Answers init's messages until it is ready (or fails).
fn drive_init(chan: &Channel, record: &Record) -> Result<()> {
    let hooks = record.config.hooks().as_ref();
    let needs_state = !hooks::of(hooks, HookKind::CreateContainer).is_empty()
        || !hooks::of(hooks, HookKind::StartContainer).is_empty()
        || crate::seccomp::notifies(&record.config);
    let hook_state = if needs_state {
        report::oci_state_json(record, "created")
    } else {
        String::new()
    };
    send(chan, &ToInit::Go { hook_state })?;
    loop {
        match chan.recv::<ToParent>() {
            Ok(Some(ToParent::Ready)) => return Ok(()),
            Ok(Some(ToParent::MountsReady)) => {
                let state = report::oci_state_json(record, "creating");
                #[allow(deprecated)]
                hooks::run_all(hooks, HookKind::Prestart, state.as_bytes())?;
                hooks::run_all(hooks, HookKind::CreateRuntime, state.as_bytes())?;
                send(chan, &ToInit::HooksDone)?;
            }
            Ok(Some(ToParent::Error(e))) => return Err(Error::Init(e)),
            Ok(None) => return Err(Error::Init(init_vanished())),
            Err(e) => return Err(Error::sys("reading from init", std::io::Error::other(e))),
        }
    }
}

fn send(chan: &Channel, msg: &ToInit) -> Result<()> {
    chan.send(msg).map_err(|e| match e {
        protocol::ChannelError::Closed => Error::Init(init_vanished()),
        e => Error::sys("writing to init", std::io::Error::other(e)),
    })
}

fn init_vanished() -> protocol::WireError {
    protocol::WireError {
        stage: "starting".into(),
        errno: None,
        message: "the container's init process exited unexpectedly (was it killed, e.g. by the OOM killer?)".into(),
    }
}

/// Clones init into its namespaces; in the child this never returns.
fn spawn_init(
    ctx: &InitContext<'_>,
    child_end: Channel,
    ns: &NamespacePlan,
    cgroup: Option<std::os::fd::BorrowedFd<'_>>,
) -> Result<i32> {
    // A cgroup namespace is rooted where its creator is: init makes it only
    // once the parent has placed it in the container's cgroup.
    let mut flags = ns.new_flags & !(libc::CLONE_NEWCGROUP as u64);
    let restore = super::enter_for_children(ns.parent_joins())?;
    if ns.creates(LinuxNamespaceType::Time) {
        // Offsets can only be set before a process enters the namespace: make it ours-for-children first.
        super::new_time_namespace(ctx.spec)?;
        flags &= !brig_sys::process::CLONE_NEWTIME;
    }
    let forked = brig_sys::clone3(&brig_sys::CloneArgs {
        namespaces: flags,
        cgroup,
    });
    match forked {
        Ok(brig_sys::ForkResult::Child) => init::main(ctx, &child_end),
        Ok(brig_sys::ForkResult::Parent { pid }) => {
            drop(child_end);
            restore.restore()?;
            Ok(pid)
        }
        Err(e) => Err(Error::sys("clone3 of the container process", e)),
    }
}

/// Puts the start byte in the fifo before init exists; returns a reading
/// end to see it execute.
fn start_at_once(dir: &ContainerDir, fifo: &OwnedFd) -> Result<OwnedFd> {
    let path = dir.fifo_path();
    let reader = crate::container::open_fifo(&path, OFlags::RDONLY)?;
    rustix::io::write(fifo, b"0").map_err(|e| Error::io("cannot write", &path, e.into()))?;
    Ok(reader)
}

fn make_fifo(dir: &ContainerDir) -> Result<OwnedFd> {
    let path = dir.fifo_path();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &path,
        rustix::fs::FileType::Fifo,
        Mode::from_bits_truncate(0o600),
        0,
    )
    .map_err(|e| Error::io("cannot create", &path, e.into()))?;
    rustix::fs::open(&path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::io("cannot open", &path, e.into()))
}

fn connect_console(opts: &CreateOptions, terminal: bool) -> Result<Option<UnixStream>> {
    match (&opts.console_socket, terminal) {
        (Some(path), true) => UnixStream::connect(path)
            .map(Some)
            .map_err(|e| Error::io("cannot connect to console socket", path, e)),
        (None, true) => Err(Error::InvalidFlag {
            flag: "--console-socket",
            reason:
                "process.terminal is true, so a console socket is required to receive the terminal"
                    .into(),
        }),
        (_, false) => Ok(None),
    }
}

/// Descriptors passed to us by socket activation (`LISTEN_FDS`), passed on
/// to the container's program with the variables that announce them, as runc does.
struct Activation {
    fds: u32,
    env: Vec<CString>,
}

fn socket_activation() -> Activation {
    let fds = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0);
    let env = if fds == 0 {
        Vec::new()
    } else {
        [format!("LISTEN_FDS={fds}"), "LISTEN_PID=1".to_string()]
            .into_iter()
            .filter_map(|s| CString::new(s).ok())
            .collect()
    };
    Activation { fds, env }
}

pub(crate) fn write_pid_file(path: &std::path::Path, pid: i32) -> Result<()> {
    let tmp = path.with_extension("tmp-brig");
    std::fs::write(&tmp, pid.to_string())
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Error::io("cannot write pid file", path, e))
}
