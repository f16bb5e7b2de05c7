//! `exec`: a new process joins a running container's namespaces (and cgroup)
//! and runs with its own process spec.

use std::convert::Infallible;
use std::fs;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use oci_spec::runtime::Process;
use rustix::thread::ThreadNameSpaceType as Ns;

use super::plan::{ProcessPlan, resolve_program};
use super::protocol::{self, Channel, ToInit, WireError};
use super::wait;
use crate::error::{Error, Result};
use crate::state::{Status, Store};
use crate::tty;

#[derive(Debug, Clone)]
pub struct ExecOptions {
    pub id: String,
    pub process: Process,
    pub console_socket: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
}

/// Namespaces in which `pid` differs from us: the ones to join.
fn differing_namespaces(pid: i32) -> Ns {
    let table = [
        ("user", Ns::USER),
        ("mnt", Ns::MOUNT),
        ("pid", Ns::PROCESS_ID),
        ("net", Ns::NETWORK),
        ("ipc", Ns::INTER_PROCESS_COMMUNICATION),
        ("uts", Ns::HOST_NAME_AND_NIS_DOMAIN_NAME),
        ("cgroup", Ns::CONTROL_GROUP),
        ("time", Ns::TIME),
    ];
    let mut flags = Ns::empty();
    for (name, flag) in table {
        let theirs = fs::read_link(format!("/proc/{pid}/ns/{name}"));
        let ours = fs::read_link(format!("/proc/self/ns/{name}"));
        if let (Ok(theirs), Ok(ours)) = (theirs, ours)
            && theirs != ours
        {
            flags |= flag;
        }
    }
    flags
}

/// Runs the process; returns its exit status, or 0 when detached.
pub fn exec(store: &Store, opts: &ExecOptions) -> Result<i32> {
    let dir = store.open(&opts.id)?;
    let record = dir.load()?;
    let status = dir.status(&record);
    if !matches!(status, Status::Created | Status::Running) {
        return Err(Error::WrongState {
            id: opts.id.clone(),
            status: status.as_str(),
            action: "exec (it must be created or running)",
        });
    }
    let init = record
        .init
        .ok_or_else(|| Error::NotFound(opts.id.clone()))?;
    let pidfd = init.pidfd().ok_or_else(|| Error::WrongState {
        id: opts.id.clone(),
        status: "stopped",
        action: "exec",
    })?;
    let config = dir.path.join("exec process");
    let plan = ProcessPlan::from_spec(&opts.process, &config, crate::caps::last_cap())?;
    let plan = plan.confine(&record.config, &opts.process, &config)?;
    // A seccomp agent gets the container's state with the listener.
    let agent_state = if plan.notifies_agent() {
        crate::report::oci_state_json(&record, "running")
    } else {
        String::new()
    };
    let ns = differing_namespaces(init.pid);
    let sigfd = if opts.detach {
        None
    } else {
        Some(wait::block_signals()?)
    };
    let (console, local) = console_for(opts, plan.terminal)?;
    let (parent_end, child_end) = protocol::pair().map_err(|e| Error::sys("socketpair", e))?;

    // Pid and time namespaces apply to children: enter them for the fork only.
    let mut for_children = ns & (Ns::PROCESS_ID | Ns::TIME);
    if !for_children.is_empty() && crate::rootless::is_rootless() {
        // Rootless: only inside the container's user namespace may we join
        // its pid namespace. There is no way back, and nothing the runtime
        // does afterwards needs the host's user namespace.
        for_children |= ns & Ns::USER;
    }
    if !for_children.is_empty() {
        rustix::thread::move_into_thread_name_spaces(pidfd.as_fd(), for_children)
            .map_err(|e| Error::sys("joining the container's pid namespace", e))?;
    }
    // The child enters the container's cgroup by itself (see brig_cgroups::entry).
    let entry = match &record.cgroup {
        Some(cg) => cg.entry()?,
        None => brig_cgroups::Entry::default(),
    };
    let forked = brig_sys::clone3(&brig_sys::CloneArgs {
        namespaces: 0,
        cgroup: entry.clone_into(),
    })
    .map_err(|e| Error::sys("clone3 of the exec process", e))?;
    let pid = match forked {
        brig_sys::ForkResult::Child => {
            drop(parent_end);
            let ctx = ExecChild {
                pidfd: pidfd.as_fd(),
                ns: ns - for_children,
                plan: &plan,
                console: console.as_ref().map(|c| c.as_fd()),
                preserve_fds: opts.preserve_fds,
                agent_state: &agent_state,
                cgroup_tasks: entry.tasks(),
            };
            if !matches!(child_end.recv::<ToInit>(), Ok(Some(ToInit::Go { .. }))) {
                brig_sys::process::exit_immediately(1);
            }
            child_main(&ctx, &child_end)
        }
        brig_sys::ForkResult::Parent { pid } => pid,
    };
    drop(child_end);
    drop(dir);
    // Our copy of a seccomp agent's connection: only the child may send on it.
    drop(plan);
    drop(entry);
    parent_end
        .send(&ToInit::Go {
            hook_state: String::new(),
        })
        .map_err(|e| Error::sys("writing to the exec process", std::io::Error::other(e)))?;
    if let Some(err) = wait_started(&parent_end)? {
        let _ = rustix::process::waitpid(
            rustix::process::Pid::from_raw(pid),
            rustix::process::WaitOptions::empty(),
        );
        return Err(Error::Init(err));
    }
    if let Some(path) = &opts.pid_file {
        super::create::write_pid_file(path, pid)?;
    }
    let master = match &local {
        Some(sock) => {
            Some(tty::recv_fd(sock).map_err(|e| Error::sys("receiving the terminal", e))?)
        }
        None => None,
    };
    match sigfd {
        None => Ok(0),
        Some(sigfd) => wait::supervise(pid, &sigfd, master),
    }
}

fn console_for(
    opts: &ExecOptions,
    terminal: bool,
) -> Result<(Option<UnixStream>, Option<UnixStream>)> {
    match (&opts.console_socket, terminal, opts.detach) {
        (Some(path), true, _) => {
            let sock = UnixStream::connect(path)
                .map_err(|e| Error::io("cannot connect to console socket", path, e))?;
            Ok((Some(sock), None))
        }
        (None, true, false) => {
            let (ours, theirs) = UnixStream::pair().map_err(|e| Error::sys("socketpair", e))?;
            Ok((Some(theirs), Some(ours)))
        }
        (None, true, true) => Err(Error::InvalidFlag {
            flag: "--console-socket",
            reason: "a detached exec with a terminal needs a console socket".into(),
        }),
        (_, false, _) => Ok((None, None)),
    }
}

/// The child's report: `None` when the program was executed.
pub(crate) fn wait_started(chan: &Channel) -> Result<Option<WireError>> {
    match chan.recv::<protocol::ToParent>() {
        Ok(None) => Ok(None),
        Ok(Some(protocol::ToParent::Error(e))) => Ok(Some(e)),
        Ok(Some(_)) => Ok(None),
        Err(e) => Err(Error::sys(
            "reading from the exec process",
            std::io::Error::other(e),
        )),
    }
}

struct ExecChild<'a> {
    pidfd: BorrowedFd<'a>,
    ns: Ns,
    plan: &'a ProcessPlan,
    console: Option<BorrowedFd<'a>>,
    preserve_fds: u32,
    agent_state: &'a str,
    /// v1 `tasks` files of the container's cgroup, joined first thing.
    cgroup_tasks: Vec<BorrowedFd<'a>>,
}

fn child_main(ctx: &ExecChild<'_>, chan: &Channel) -> ! {
    let err = match child_run(ctx) {
        Ok(never) => match never {},
        Err(err) => err,
    };
    let _ = chan.send(&protocol::ToParent::Error(err));
    brig_sys::process::exit_immediately(1)
}

fn fail(stage: &str, err: impl Into<std::io::Error>) -> WireError {
    WireError::io(stage, err)
}

fn child_run(ctx: &ExecChild<'_>) -> std::result::Result<Infallible, WireError> {
    brig_cgroups::join_self(&ctx.cgroup_tasks)
        .map_err(|e| fail("joining the container's cgroup", e))?;
    // Non-dumpable before entering: the container must not reach our binary via /proc/<pid>/exe.
    brig_sys::caps::set_dumpable(false).map_err(|e| fail("making the process non-dumpable", e))?;
    let agent_pid = ctx.plan.agent_pid();
    if !ctx.ns.is_empty() {
        rustix::thread::move_into_thread_name_spaces(ctx.pidfd, ctx.ns)
            .map_err(|e| fail("joining the container's namespaces", e))?;
    }
    rustix::process::setsid().map_err(|e| fail("creating a session", e))?;
    let plan = ctx.plan;
    plan.apply_rlimits()
        .map_err(|e| fail("setting rlimits", e))?;
    if plan.terminal {
        let socket = ctx
            .console
            .ok_or_else(|| fail("setting up the terminal", std::io::ErrorKind::NotFound))?;
        let pty = tty::open_pty().map_err(|e| fail("creating the terminal", e))?;
        tty::send_fd(
            socket,
            pty.master.as_fd(),
            &pty.slave_path.to_string_lossy(),
        )
        .map_err(|e| fail("sending the terminal", e))?;
        tty::attach_stdio(pty.slave.as_fd()).map_err(|e| fail("attaching the terminal", e))?;
        drop::<OwnedFd>(pty.master);
    }
    rustix::process::chdir(&plan.cwd).map_err(|e| WireError {
        stage: "entering the working directory".into(),
        errno: Some(e.raw_os_error()),
        message: format!("{}: {}", plan.cwd.display(), std::io::Error::from(e)),
    })?;
    // CVE-2024-21626: a cwd reached through a descriptor of ours may be outside the root.
    let here = rustix::process::getcwd(Vec::new())
        .map_err(|e| fail("checking the working directory", e))?;
    if !here.to_bytes().starts_with(b"/") {
        return Err(WireError {
            stage: "checking the working directory".into(),
            errno: None,
            message: format!("{} is outside the container's root", plan.cwd.display()),
        });
    }
    let program =
        resolve_program(&plan.args[0].to_string_lossy(), plan.path_var()).map_err(|message| {
            WireError {
                stage: "starting container process".into(),
                errno: None,
                message,
            }
        })?;
    let env = super::plan::final_env(&plan.env, &[], plan.creds.uid);
    plan.confine_before_creds(ctx.agent_state, agent_pid)
        .map_err(|(step, e)| fail(step, e))?;
    // A rootless container's user namespace may deny setgroups.
    let setgroups = super::init::setgroups_allowed();
    plan.creds
        .apply(setgroups)
        .map_err(|(step, e)| fail(step, e))?;
    brig_sys::fd::cloexec_from(3 + ctx.preserve_fds).map_err(|e| fail("closing descriptors", e))?;
    brig_sys::signal::reset_all().map_err(|e| fail("resetting signals", e))?;
    plan.confine_last(ctx.agent_state, agent_pid)
        .map_err(|(step, e)| fail(step, e))?;
    Err(fail(
        "starting container process",
        brig_sys::execve(&program, &plan.args, &env),
    ))
}
