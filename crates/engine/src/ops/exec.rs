//! `exec [-it] [-d] [-e] [-u] [-w]`: another process in a running
//! container, through the runtime's `exec`. Without a terminal the process
//! uses our stdio directly; with one, the runtime hands us the pty master
//! and we relay it.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::process::{Child, Stdio};

use rustix::event::{PollFd, PollFlags};

use crate::engine::{Engine, new_id};
use crate::error::{Error, IoContext, Result};
use crate::record::{ContainerRecord, State};
use crate::rootfs::{Root, check_command};
use crate::users::resolve_user;

/// `brig exec` options.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub command: Vec<String>,
    /// `-i`: forward our stdin.
    pub interactive: bool,
    /// `-t`: a terminal.
    pub tty: bool,
    /// `-d`: do not wait.
    pub detach: bool,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    /// `--privileged`: every capability for this process.
    pub privileged: bool,
}

impl Engine {
    /// Runs a process in the container; returns its exit code (0 with `detach`).
    pub fn exec(&self, reference: &str, opts: &ExecOptions) -> Result<i32> {
        let rec = self.find(reference)?;
        match rec.state {
            State::Running => {}
            State::Paused => {
                return Err(Error::wrong_state(&rec.id, rec.state, "unpause it first"));
            }
            s => return Err(Error::wrong_state(&rec.id, s, "start it first")),
        }
        let Some(program) = opts.command.first() else {
            return Err(Error::invalid("COMMAND", "", "give the command to run"));
        };
        let mut env = rec.config.env.clone();
        for e in &opts.env {
            if let Some(v) = crate::options::misc::expand_env(e, &|k| std::env::var(k).ok())? {
                let key = v.split('=').next().unwrap_or_default().to_owned();
                env.retain(|x| x.split('=').next() != Some(&key));
                env.push(v);
            }
        }
        let cwd = opts
            .workdir
            .clone()
            .unwrap_or_else(|| rec.config.working_dir.clone());
        // The container's own view: its volumes and tmpfs mounts included.
        let pid = rec
            .pid
            .ok_or_else(|| Error::wrong_state(&rec.id, rec.state, "it has no process"))?;
        let root = Root::open(std::path::Path::new(&format!("/proc/{pid}/root")))?;
        check_command(&root, program, &env, &cwd)?;
        let mut cmd = self.ctx.runtime(&rec).command(None);
        cmd.arg("exec");
        for e in &opts.env {
            if e.contains('=') {
                cmd.arg("--env").arg(e);
            } else if let Some(v) = env.iter().find(|v| v.starts_with(&format!("{e}="))) {
                cmd.arg("--env").arg(v);
            }
        }
        if let Some(w) = &opts.workdir {
            cmd.arg("--cwd").arg(w);
        }
        if let Some(u) = &opts.user {
            let passwd = root
                .read_to_string("/etc/passwd", 4 << 20)?
                .unwrap_or_default();
            let group = root
                .read_to_string("/etc/group", 4 << 20)?
                .unwrap_or_default();
            let user = resolve_user(u, &[], &passwd, &group)?;
            cmd.arg("--user").arg(format!("{}:{}", user.uid, user.gid));
            for g in &user.additional_gids {
                cmd.arg("--additional-gids").arg(g.to_string());
            }
        }
        if opts.privileged {
            for cap in crate::caps::known(crate::caps::host_cap_last_cap()) {
                cmd.arg("--cap").arg(cap);
            }
        }
        drop(root);
        self.ctx.event(
            &rec,
            &format!("exec_start: {}", opts.command.join(" ")),
            &[],
        );
        if opts.detach {
            cmd.arg("--detach").arg(&rec.id).args(&opts.command);
            let out = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .output()
                .ctx("run", "the OCI runtime")?;
            return if out.status.success() {
                Ok(0)
            } else {
                Err(Error::Runtime {
                    runtime: rec.config.runtime.display().to_string(),
                    command: "exec".into(),
                    status: String::new(),
                    message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                })
            };
        }
        if opts.tty {
            return self.exec_tty(&rec, cmd, opts);
        }
        cmd.arg(&rec.id).args(&opts.command);
        if !opts.interactive {
            cmd.stdin(Stdio::null());
        }
        let status = cmd.status().ctx("run", "the OCI runtime")?;
        Ok(exit_code(status))
    }

    fn exec_tty(
        &self,
        rec: &ContainerRecord,
        mut cmd: std::process::Command,
        opts: &ExecOptions,
    ) -> Result<i32> {
        let socket = self
            .ctx
            .paths
            .sock_dir()
            .join(format!("e{}.c", &new_id()[..12]));
        let listener = UnixListener::bind(&socket).ctx("listen on", &socket)?;
        let _cleanup = RemoveOnDrop(socket.clone());
        cmd.arg("--tty")
            .arg("--console-socket")
            .arg(&socket)
            .arg(&rec.id)
            .args(&opts.command);
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        let mut child = cmd.spawn().ctx("run", "the OCI runtime")?;
        let master = match accept_master(&listener, &mut child) {
            Ok(m) => m,
            Err(e) => {
                let status = child.wait().ctx("wait for", "the OCI runtime")?;
                return if status.success() {
                    Err(e)
                } else {
                    Ok(exit_code(status))
                };
            }
        };
        relay_pty(&master, opts.interactive, &child)?;
        let status = child.wait().ctx("wait for", "the OCI runtime")?;
        Ok(exit_code(status))
    }
}

struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Waits for the runtime to send the pty master (or to exit first).
fn accept_master(listener: &UnixListener, child: &mut Child) -> Result<OwnedFd> {
    listener
        .set_nonblocking(true)
        .ctx("configure", "console socket")?;
    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                return crate::monitor::receive_fd(&conn).ctx("receive", "the pty master");
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(Error::io("accept on", "console socket", e)),
        }
        if child
            .try_wait()
            .ctx("wait for", "the OCI runtime")?
            .is_some()
        {
            return Err(Error::Runtime {
                runtime: "runtime".into(),
                command: "exec".into(),
                status: String::new(),
                message: "it exited before sending the terminal".into(),
            });
        }
        let mut fds = [PollFd::new(listener, PollFlags::IN)];
        let ts = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 20_000_000,
        };
        let _ = rustix::event::poll(&mut fds, Some(&ts));
    }
}

/// Our terminal <-> the pty master until the master closes.
fn relay_pty(master: &OwnedFd, interactive: bool, child: &Child) -> Result<()> {
    let _raw = crate::attach::raw_terminal();
    let winch = rustix::process::Signal::WINCH.as_raw();
    let mut signals: Vec<i32> = brig_sys::signal::FORWARDED.to_vec();
    signals.retain(|s| *s != rustix::process::Signal::TSTP.as_raw());
    let sigfd = brig_sys::signal::signalfd(&signals).ctx("block signals", "signalfd")?;
    let copy_size = || {
        if let Ok(ws) = rustix::termios::tcgetwinsize(rustix::stdio::stdout()) {
            let _ = rustix::termios::tcsetwinsize(master, ws);
        }
    };
    copy_size();
    let stdin = rustix::stdio::stdin();
    let stdout = rustix::stdio::stdout();
    let mut stdin_open = interactive;
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let mut fds = vec![
            PollFd::new(master, PollFlags::IN),
            PollFd::new(&sigfd, PollFlags::IN),
        ];
        if stdin_open {
            fds.push(PollFd::from_borrowed_fd(stdin, PollFlags::IN));
        }
        if let Err(e) = rustix::event::poll(&mut fds, None)
            && e != rustix::io::Errno::INTR
        {
            return Err(Error::io("poll", "terminal", e.into()));
        }
        let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        drop(fds);
        if ready[1] {
            match brig_sys::signal::read_signal(&sigfd) {
                Ok(s) if s == winch => copy_size(),
                Ok(s) if s != rustix::process::Signal::CHILD.as_raw() => {
                    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32)
                        && let Some(sig) = rustix::process::Signal::from_named_raw(s)
                    {
                        let _ = rustix::process::kill_process(pid, sig);
                    }
                }
                _ => {}
            }
        }
        if stdin_open && ready.get(2).copied().unwrap_or(false) {
            match rustix::io::read(stdin, &mut buf) {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(n) => write_all(master.as_fd(), &buf[..n]),
            }
        }
        if ready[0] {
            match rustix::io::read(master, &mut buf) {
                Ok(0) | Err(rustix::io::Errno::IO) => return Ok(()),
                Ok(n) => write_all(stdout, &buf[..n]),
                Err(rustix::io::Errno::INTR) | Err(rustix::io::Errno::AGAIN) => {}
                Err(e) => return Err(Error::io("read", "pty", e.into())),
            }
        }
    }
}

fn write_all(fd: std::os::fd::BorrowedFd<'_>, mut data: &[u8]) {
    while !data.is_empty() {
        match rustix::io::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return,
        }
    }
}
