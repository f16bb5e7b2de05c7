//! The container's init process, from `clone3` to `execve`. Runs in the
//! child, single-threaded; every failure goes back to the parent as a
//! [`WireError`] (see `protocol.rs` for the conversation).

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd};

use oci_spec::runtime::LinuxNamespaceType;

use super::plan::{ProcessPlan, resolve_program};
use super::protocol::{Channel, ToInit, ToParent, WireError};
use crate::hooks::{self, HookKind};
use crate::namespaces::{self, NamespacePlan};
use crate::rootfs::{self, RootfsPlan};
use crate::tty;

/// Everything init needs, prepared by the parent before the fork.
#[derive(Debug)]
pub(crate) struct InitContext<'a> {
    pub spec: &'a oci_spec::runtime::Spec,
    pub ns: &'a NamespacePlan,
    pub rootfs: &'a RootfsPlan,
    pub process: &'a ProcessPlan,
    /// The exec fifo, opened read-write so that opening never blocks.
    pub fifo: BorrowedFd<'a>,
    /// Connected `--console-socket`, when the process has a terminal.
    pub console: Option<BorrowedFd<'a>>,
    /// Extra environment (LISTEN_FDS) for preserved descriptors.
    pub extra_env: Vec<CString>,
    /// Descriptors 3..3+n stay open in the container.
    pub preserve_fds: u32,
    pub new_keyring: Option<CString>,
    /// v1 `tasks` files of the container's cgroup, joined first thing.
    pub cgroup_tasks: Vec<BorrowedFd<'a>>,
}

/// Runs init and never returns: the process becomes the container's program or exits.
pub(crate) fn main(ctx: &InitContext<'_>, chan: &Channel) -> ! {
    let err = match run(ctx, chan) {
        Ok(never) => match never {},
        Err(err) => err,
    };
    // After `create` returned nobody may read the channel: say it on stderr too.
    if chan.send(&ToParent::Error(err.clone())).is_err() {
        eprintln!("error: container init failed: {err}");
    }
    brig_sys::process::exit_immediately(1)
}

fn wire(stage: &str, err: impl Into<std::io::Error>) -> WireError {
    WireError::io(stage, err)
}

fn wire_msg(stage: &str, message: impl ToString) -> WireError {
    WireError::msg(stage, message)
}

fn recv(chan: &Channel) -> Result<ToInit, WireError> {
    match chan.recv::<ToInit>() {
        Ok(Some(msg)) => Ok(msg),
        Ok(None) => Err(wire_msg("waiting for the runtime", "the runtime exited")),
        Err(e) => Err(wire_msg("waiting for the runtime", e)),
    }
}

fn run(ctx: &InitContext<'_>, chan: &Channel) -> Result<Infallible, WireError> {
    // Before anything is charged to the runtime's cgroup; runs while the
    // parent writes the id maps.
    brig_cgroups::join_self(&ctx.cgroup_tasks)
        .map_err(|e| wire("joining the container's cgroup", e))?;
    let ToInit::Go { hook_state } = recv(chan)? else {
        return Err(wire_msg("waiting for the runtime", "unexpected message"));
    };
    // Until exec, /proc/1/exe is the runtime binary: keep other container processes away from it.
    brig_sys::caps::set_dumpable(false).map_err(|e| wire("making init non-dumpable", e))?;
    let agent_pid = ctx.process.agent_pid();
    enter_namespaces(ctx)?;
    if ctx.ns.creates(LinuxNamespaceType::Cgroup) {
        brig_sys::process::unshare(libc::CLONE_NEWCGROUP as u64)
            .map_err(|e| wire("creating the cgroup namespace", e))?;
    }
    rustix::process::setsid().map_err(|e| wire("creating a session", e))?;
    if let Some(name) = &ctx.new_keyring {
        brig_sys::keyring::join_session(name).map_err(|e| wire("creating a session keyring", e))?;
    }
    set_identity_of_host(ctx)?;
    set_limits(ctx.process)?;

    rootfs::prepare(ctx.rootfs).map_err(|e| rootfs_err("preparing the root filesystem", e))?;
    let hooks = ctx.spec.hooks().as_ref();
    #[allow(deprecated)]
    let parent_hooks = !hooks::of(hooks, HookKind::Prestart).is_empty()
        || !hooks::of(hooks, HookKind::CreateRuntime).is_empty();
    if parent_hooks {
        send(chan, &ToParent::MountsReady)?;
        if recv(chan)? != ToInit::HooksDone {
            return Err(wire_msg(
                "waiting for the runtime's hooks",
                "unexpected message",
            ));
        }
    }
    hooks::run_all(hooks, HookKind::CreateContainer, hook_state.as_bytes())
        .map_err(|e| wire_msg("running createContainer hooks", e))?;
    rootfs::pivot(ctx.rootfs).map_err(|e| rootfs_err("changing root", e))?;
    if ctx.process.terminal {
        setup_console(ctx)?;
    }
    rootfs::finalize(ctx.rootfs).map_err(|e| rootfs_err("finishing the root filesystem", e))?;
    enter_cwd(ctx.process)?;
    let program = resolve_program(
        &ctx.process.args[0].to_string_lossy(),
        ctx.process.path_var(),
    )
    .map_err(|msg| wire_msg("starting container process", msg))?;
    send(chan, &ToParent::Ready)?;

    wait_for_start(ctx.fifo)?;
    hooks::run_all(hooks, HookKind::StartContainer, hook_state.as_bytes())
        .map_err(|e| wire_msg("running startContainer hooks", e))?;
    exec(ctx, &program, &hook_state, agent_pid)
}

fn send(chan: &Channel, msg: &ToParent) -> Result<(), WireError> {
    chan.send(msg)
        .map_err(|e| wire_msg("talking to the runtime", e))
}

fn rootfs_err(stage: &str, e: rootfs::RootfsError) -> WireError {
    WireError {
        stage: stage.to_string(),
        errno: e.errno(),
        message: e.to_string(),
    }
}

fn enter_namespaces(ctx: &InitContext<'_>) -> Result<(), WireError> {
    for join in ctx.ns.child_joins() {
        namespaces::enter(join).map_err(|e| wire_msg("joining namespaces", e))?;
    }
    if ctx.ns.creates(LinuxNamespaceType::User) {
        // The parent has written our maps: become the namespace's root.
        let root_u = rustix::process::Uid::ROOT;
        let root_g = rustix::process::Gid::ROOT;
        rustix::thread::set_thread_res_gid(root_g, root_g, root_g)
            .map_err(|e| wire("becoming root in the user namespace", e))?;
        rustix::thread::set_thread_res_uid(root_u, root_u, root_u)
            .map_err(|e| wire("becoming root in the user namespace", e))?;
    }
    Ok(())
}

/// Hostname and domain name, in the container's uts namespace.
fn set_identity_of_host(ctx: &InitContext<'_>) -> Result<(), WireError> {
    if let Some(name) = ctx.spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        rustix::system::sethostname(name.as_bytes())
            .map_err(|e| wire("setting the hostname", e))?;
    }
    if let Some(name) = ctx.spec.domainname().as_deref().filter(|h| !h.is_empty()) {
        rustix::system::setdomainname(name.as_bytes())
            .map_err(|e| wire("setting the domain name", e))?;
    }
    Ok(())
}

fn set_limits(process: &ProcessPlan) -> Result<(), WireError> {
    process
        .apply_rlimits()
        .map_err(|e| wire("setting rlimits", e))?;
    if let Some(adj) = process.oom_score_adj {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| wire("setting oom_score_adj", e))?;
    }
    Ok(())
}

fn setup_console(ctx: &InitContext<'_>) -> Result<(), WireError> {
    let Some(socket) = ctx.console else {
        return Err(wire_msg("setting up the terminal", "no console socket"));
    };
    let pty = tty::open_pty().map_err(|e| wire("creating the terminal", e))?;
    if let Some(size) = ctx.spec.process().as_ref().and_then(|p| p.console_size()) {
        let winsize = rustix::termios::Winsize {
            ws_row: size.height() as u16,
            ws_col: size.width() as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&pty.master, winsize)
            .map_err(|e| wire("setting the terminal size", e))?;
    }
    rootfs::bind_console(&pty.slave_path).map_err(|e| rootfs_err("mounting /dev/console", e))?;
    tty::send_fd(
        socket,
        pty.master.as_fd(),
        &pty.slave_path.to_string_lossy(),
    )
    .map_err(|e| wire("sending the terminal to the console socket", e))?;
    tty::attach_stdio(pty.slave.as_fd()).map_err(|e| wire("attaching the terminal", e))?;
    Ok(())
}

/// Enters the working directory and makes sure it is inside the container
/// (CVE-2024-21626: a cwd reached through a leaked host descriptor is outside).
fn enter_cwd(process: &ProcessPlan) -> Result<(), WireError> {
    // Like runc, a missing working directory is created (inside the new root).
    if !process.cwd.exists() {
        let _ = std::fs::create_dir_all(&process.cwd);
    }
    rustix::process::chdir(&process.cwd).map_err(|e| {
        wire_msg(
            "entering the working directory",
            format!("{}: {}", process.cwd.display(), std::io::Error::from(e)),
        )
    })?;
    let here = rustix::process::getcwd(Vec::new())
        .map_err(|e| wire("checking the working directory", e))?;
    if !here.to_bytes().starts_with(b"/") {
        return Err(wire_msg(
            "checking the working directory",
            format!("{} is outside the container's root", process.cwd.display()),
        ));
    }
    Ok(())
}

/// Blocks until `start` writes to the exec fifo.
fn wait_for_start(fifo: BorrowedFd<'_>) -> Result<(), WireError> {
    let mut byte = [0u8; 1];
    loop {
        match rustix::io::read(fifo, &mut byte) {
            Ok(1) => return Ok(()),
            Ok(_) => return Err(wire_msg("waiting for start", "the exec fifo was closed")),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(wire("waiting for start", e)),
        }
    }
}

fn exec(
    ctx: &InitContext<'_>,
    program: &CString,
    state: &str,
    agent_pid: i32,
) -> Result<Infallible, WireError> {
    let process = ctx.process;
    let env = super::plan::final_env(&process.env, &ctx.extra_env, process.creds.uid);
    process
        .confine_before_creds(state, agent_pid)
        .map_err(|(step, e)| wire(step, e))?;
    let setgroups = !ctx.ns.creates(LinuxNamespaceType::User) || setgroups_allowed();
    process
        .creds
        .apply(setgroups)
        .map_err(|(step, e)| wire(step, e))?;
    brig_sys::fd::cloexec_from(3 + ctx.preserve_fds).map_err(|e| wire("closing descriptors", e))?;
    brig_sys::signal::reset_all().map_err(|e| wire("resetting signals", e))?;
    process
        .confine_last(state, agent_pid)
        .map_err(|(step, e)| wire(step, e))?;
    let err = brig_sys::execve(program, &process.args, &env);
    Err(wire("starting container process", err))
}

pub(super) fn setgroups_allowed() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").map_or(true, |s| s.trim() != "deny")
}
