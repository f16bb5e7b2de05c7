//! The monitor's life: start, supervise (output, attach clients, health,
//! reaping), record the exit, restart with back-off, remove `--rm`
//! containers.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use brig_cgroups::{AnyManager, CgroupMonitor};
use rustix::event::{PollFd, PollFlags};
use rustix::process::{Signal, WaitOptions};

use super::health::HealthRunner;
use super::io::{self, Clients, Held};
use super::start::{self, Running};
use super::{MonitorArgs, Readiness};
use crate::attach;
use crate::cleanup;
use crate::ctx::Ctx;
use crate::error::{Error, ErrorKind, IoContext, Result};
use crate::health::HealthResult;
use crate::logs::LogWriter;
use crate::proc::ProcessId;
use crate::record::{ContainerRecord, State};
use crate::spec::HostFacts;

/// Restart back-off: Docker's, doubling from 100 ms up to a minute, back
/// to the start once a run lasted 10 seconds.
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
const STABLE_RUN: Duration = Duration::from_secs(10);
/// How long output may still arrive after the init exited.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// How one start ended.
enum Outcome {
    Exited(i32),
    Failed(Error),
}

/// A monitor process's state.
#[derive(Debug)]
pub(crate) struct Monitor {
    pub(super) ctx: Ctx,
    pub(super) id: String,
    pub(super) args: MonitorArgs,
    pub(super) ready: Readiness,
    pub(super) clients: Clients,
    sigfd: OwnedFd,
    log: LogWriter,
    /// Network links to delete once nobody waits for us.
    leftovers: crate::network::Leftovers,
}

impl Monitor {
    /// Becomes a monitor: a session leader and subreaper with its errors in
    /// the container's `monitor.log`.
    pub(crate) fn new(args: MonitorArgs) -> std::result::Result<Monitor, (Readiness, Error)> {
        let ready = Readiness::from_stdout();
        let _ = rustix::process::setsid();
        let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
        if let Err(e) = private_mounts() {
            return Err((
                ready,
                Error::io("create the monitor's mount namespace", "/", e),
            ));
        }
        match Self::open(args, ready) {
            Ok(m) => Ok(m),
            Err((ready, e)) => Err((ready, e)),
        }
    }

    fn open(
        args: MonitorArgs,
        ready: Readiness,
    ) -> std::result::Result<Monitor, (Readiness, Error)> {
        let opened = (|| {
            let ctx = Ctx::open(&args.root, &args.runroot)?;
            let log_path = ctx.paths.monitor_log(&args.id);
            if let Ok(f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
            {
                let _ = rustix::stdio::dup2_stderr(&f);
            }
            let rec = ctx
                .db
                .container(&args.id)?
                .ok_or_else(|| Error::NoSuchContainer(args.id.clone()))?;
            let sigfd = brig_sys::signal::signalfd(&[
                Signal::TERM.as_raw(),
                Signal::INT.as_raw(),
                Signal::HUP.as_raw(),
            ])
            .ctx("block signals", "signalfd")?;
            // Non-blocking: a signal seen by poll may be taken by another
            // thread before we read it (a test harness has several).
            let flags = rustix::fs::fcntl_getfl(&sigfd).ctx("configure", "signalfd")?;
            rustix::fs::fcntl_setfl(&sigfd, flags | rustix::fs::OFlags::NONBLOCK)
                .ctx("configure", "signalfd")?;
            let clients = Clients::bind(&ctx.paths.attach_socket(&args.id))?;
            let log = LogWriter::open(&ctx.paths.log(&args.id), &rec.config.log)?;
            Ok((ctx, sigfd, clients, log))
        })();
        match opened {
            Ok((ctx, sigfd, clients, log)) => Ok(Monitor {
                ctx,
                id: args.id.clone(),
                args,
                ready,
                clients,
                sigfd,
                log,
                leftovers: Default::default(),
            }),
            Err(e) => Err((ready, e)),
        }
    }

    /// Host facts for the OCI config.
    pub(super) fn host_facts(&self, privileged: bool) -> HostFacts {
        crate::host::facts(privileged)
    }

    /// Runs until the container is done; returns the process exit status.
    pub(crate) fn run(mut self) -> i32 {
        let mut first = true;
        let mut backoff = BACKOFF_FIRST;
        let last_code = loop {
            let began = Instant::now();
            let outcome = match self.start_in_thread(first) {
                Ok(running) => Outcome::Exited(self.supervise(running)),
                Err(e) => {
                    eprintln!("monitor: start of {} failed: {e}", self.id);
                    self.clients.fail(&e);
                    Outcome::Failed(e)
                }
            };
            first = false;
            let code = match &outcome {
                Outcome::Exited(c) => *c,
                Outcome::Failed(e) => start_failure_code(e),
            };
            // A caller still waiting for our report holds the lock for us.
            let restart = match self.finish(&outcome, !self.ready.pending()) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("monitor: recording the exit of {} failed: {e}", self.id);
                    false
                }
            };
            if let Outcome::Failed(e) = &outcome {
                self.ready.send(Err(e));
            }
            if !restart {
                break code;
            }
            self.clients.finish(code);
            self.leftovers.remove();
            if began.elapsed() >= STABLE_RUN {
                backoff = BACKOFF_FIRST;
            }
            if !self.sleep(backoff) {
                self.mark_exited();
                break code;
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        };
        crate::timing::mark("monitor: exit recorded");
        self.remove_if_auto();
        crate::timing::mark("monitor: removed if --rm");
        self.clients.finish(last_code);
        let _ = std::fs::remove_file(self.ctx.paths.attach_socket(&self.id));
        // Nobody waits for us any more: the slow parts of cleaning up,
        // the mounts first (the next command removes their directories).
        self.unmount_own();
        self.leftovers.remove();
        self.ctx.db.checkpoint();
        0
    }

    /// Unmounts the root filesystem in our mount namespace. The next
    /// command removes the mount point directories (see `Engine::repair`);
    /// while we still held mounts on them, its `rmdir` had to detach them
    /// from our namespace, ~2 ms. Only ours: a new start of the container
    /// mounts in its own monitor's namespace.
    fn unmount_own(&self) {
        let paths = &self.ctx.paths;
        let scratch = paths.rootfs_dir().join(format!("{}.idmap", self.id));
        let layers = std::fs::read_dir(&scratch)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path());
        for dir in std::iter::once(paths.rootfs(&self.id)).chain(layers) {
            if let Err(e) = crate::rootfs::unmount_all(&dir) {
                eprintln!("monitor: {e}");
            }
        }
    }

    /// [`start::start`] on a thread of its own: the deep stack of a start
    /// (spec generation, JSON, the runtime's execution) is given back when
    /// the thread ends instead of staying dirty in the main thread's stack
    /// for the container's whole life. The main thread waits meanwhile, so
    /// the monitor still does one thing at a time.
    fn start_in_thread(&mut self, first: bool) -> Result<Running> {
        std::thread::scope(|s| {
            s.spawn(|| start::start(self, first))
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// Relays output and input, runs health checks and reaps children
    /// until the init exits; returns its exit code.
    fn supervise(&mut self, mut run: Running) -> i32 {
        let rec = self.ctx.db.container(&self.id).ok().flatten();
        let runtime = rec.as_ref().map(|r| self.ctx.runtime(r));
        let stop_signal = rec
            .as_ref()
            .and_then(|r| crate::options::units::parse_signal("stop", &r.config.stop_signal).ok())
            .unwrap_or(15);
        let mut health = rec
            .as_ref()
            .and_then(|r| r.config.healthcheck.clone())
            .map(HealthRunner::new);
        drop(rec);
        self.ctx.db.release();
        brig_sys::memory::release_free_memory();
        loop {
            let wait = health.as_ref().map_or(Duration::from_secs(60), |h| {
                h.wait().max(Duration::from_millis(1))
            });
            let ready = self.poll(&run, health.as_ref(), wait);
            if ready.signal {
                match brig_sys::signal::read_signal(&self.sigfd) {
                    Ok(sig) if sig != Signal::CHILD.as_raw() => {
                        let _ = self.ctx.db.modify(&self.id, |r| {
                            r.stop_requested = true;
                            Ok(())
                        });
                        self.ctx.db.release();
                        if let Some(rt) = &runtime {
                            let _ = rt.kill(&self.id, stop_signal, false);
                        }
                    }
                    _ => {}
                }
            }
            if ready.listener {
                self.clients.accept();
            }
            for (i, open) in ready.outputs.iter().enumerate() {
                if *open {
                    self.pump(&mut run.held, i);
                }
            }
            for index in ready.clients.iter().rev() {
                if let Some(inputs) = self.clients.read(*index) {
                    for input in inputs {
                        io::apply_input(&mut run.held, input);
                    }
                }
            }
            if let Some(h) = &mut health
                && ready.health
            {
                h.read_output();
            }
            let exit = self.reap(run.pid, health.as_mut());
            if let (Some(h), Some(rt)) = (&mut health, &runtime)
                && let Some(result) = h.tick(rt, &self.id)
            {
                self.record_health(result, h.in_start_period(), h.retries());
            }
            if let Some(code) = exit {
                crate::timing::mark("monitor: init exited");
                self.drain(&mut run.held);
                crate::timing::mark("monitor: output drained");
                return code;
            }
        }
    }

    /// Collects every exited child; returns the init's exit code if it exited.
    fn reap(&mut self, init: i32, mut health: Option<&mut HealthRunner>) -> Option<i32> {
        let mut exit = None;
        while let Ok(Some((pid, status))) = rustix::process::wait(WaitOptions::NOHANG) {
            let code = status
                .exit_status()
                .or_else(|| status.terminating_signal().map(|s| 128 + s))
                .unwrap_or(255);
            let pid = pid.as_raw_nonzero().get();
            if pid == init {
                exit = Some(code);
            } else if let Some(h) = health.as_deref_mut()
                && let Some(result) = h.exited(pid, code)
            {
                let (start, retries) = (h.in_start_period(), h.retries());
                self.record_health(result, start, retries);
            }
        }
        exit
    }

    fn record_health(&self, result: HealthResult, in_start_period: bool, retries: u32) {
        self.record_health_inner(result, in_start_period, retries);
        self.ctx.db.release();
    }

    fn record_health_inner(&self, result: HealthResult, in_start_period: bool, retries: u32) {
        let mut status = None;
        let changed = self.ctx.db.modify(&self.id, |r| {
            let h = r.health.get_or_insert_with(Default::default);
            let changed = h.record(result, in_start_period, retries);
            status = Some(h.status);
            Ok(changed)
        });
        if let (Ok(true), Some(status), Ok(Some(rec))) =
            (changed, status, self.ctx.db.container(&self.id))
        {
            self.ctx
                .event(&rec, &format!("health_status: {}", status.as_str()), &[]);
        }
    }

    /// Reads what output `index` has; closes it at its end.
    fn pump(&mut self, held: &mut Held, index: usize) {
        // Small: a buffer on the stack stays resident for the monitor's life.
        let mut buf = [0u8; 8 * 1024];
        loop {
            let Some(fd) = &held.outputs[index] else {
                return;
            };
            match rustix::io::read(fd, &mut buf) {
                Ok(0) | Err(rustix::io::Errno::IO) => {
                    held.outputs[index] = None;
                    return;
                }
                Ok(n) => {
                    if let Err(e) = self.log.feed(index, &buf[..n], crate::time::now_ns()) {
                        eprintln!("monitor: {e}");
                    }
                    self.clients
                        .broadcast(attach::STDOUT + index as u8, &buf[..n]);
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => return,
                Err(_) => {
                    held.outputs[index] = None;
                    return;
                }
            }
        }
    }

    /// Reads the last output after the init exited (other processes of the
    /// container are being killed and close their ends).
    fn drain(&mut self, held: &mut Held) {
        let deadline = Instant::now() + DRAIN_LIMIT;
        held.stdin = None;
        while held.outputs.iter().any(Option::is_some) && Instant::now() < deadline {
            for i in 0..2 {
                self.pump(held, i);
            }
            let fds: Vec<BorrowedFd<'_>> =
                held.outputs.iter().flatten().map(|f| f.as_fd()).collect();
            if fds.is_empty() {
                break;
            }
            let mut polls: Vec<PollFd<'_>> = fds
                .iter()
                .map(|f| PollFd::from_borrowed_fd(*f, PollFlags::IN))
                .collect();
            let ts = rustix::time::Timespec {
                tv_sec: 0,
                tv_nsec: 50_000_000,
            };
            let _ = rustix::event::poll(&mut polls, Some(&ts));
        }
        let _ = self.log.flush_partial(crate::time::now_ns());
    }

    fn poll(&self, run: &Running, health: Option<&HealthRunner>, wait: Duration) -> Ready {
        let mut fds = vec![
            PollFd::new(&self.sigfd, PollFlags::IN),
            PollFd::new(&run.pidfd, PollFlags::IN),
            PollFd::from_borrowed_fd(self.clients.listener_fd(), PollFlags::IN),
        ];
        let outputs: Vec<usize> = (0..2).filter(|i| run.held.outputs[*i].is_some()).collect();
        for i in &outputs {
            if let Some(fd) = &run.held.outputs[*i] {
                fds.push(PollFd::new(fd, PollFlags::IN));
            }
        }
        let client_fds = self.clients.client_fds();
        let first_client = fds.len();
        for fd in &client_fds {
            fds.push(PollFd::from_borrowed_fd(*fd, PollFlags::IN));
        }
        let first_health = fds.len();
        for fd in health.map(|h| h.fds()).unwrap_or_default() {
            fds.push(PollFd::from_borrowed_fd(fd, PollFlags::IN));
        }
        let ts = rustix::time::Timespec::try_from(wait).unwrap_or(rustix::time::Timespec {
            tv_sec: 60,
            tv_nsec: 0,
        });
        if rustix::event::poll(&mut fds, Some(&ts)).is_err() {
            return Ready::default();
        }
        let hit = |i: usize| fds.get(i).is_some_and(|f| !f.revents().is_empty());
        let mut ready = Ready {
            signal: hit(0),
            listener: hit(2),
            health: (first_health..fds.len()).any(hit),
            ..Ready::default()
        };
        for (k, i) in outputs.iter().enumerate() {
            ready.outputs[*i] = hit(3 + k);
        }
        ready.clients = (0..client_fds.len())
            .filter(|k| hit(first_client + k))
            .collect();
        ready
    }

    /// Records the end of a start: releases the run and decides on a
    /// restart. Holds the container lock, so `start`/`rm` see a whole change.
    fn finish(&mut self, outcome: &Outcome, lock: bool) -> Result<bool> {
        let _lock = if lock {
            Some(self.ctx.lock(&self.id)?)
        } else {
            None
        };
        let Some(rec) = self.ctx.db.container(&self.id)? else {
            return Ok(false);
        };
        crate::timing::mark("finish: record read");
        let oom = oom_killed(&rec);
        // Let go of the namespace first: with the container's processes
        // gone, the kernel starts tearing it (and its veths) down meanwhile.
        super::netns::release(&self.ctx.paths.bundle(&rec.id).join(super::netns::FILE));
        // The network's release and the cgroup's are independent: on two
        // threads (both mostly wait for the kernel).
        let ctx = &self.ctx;
        let (detached, released) = std::thread::scope(|s| {
            let detach = s.spawn(|| {
                crate::network::for_mode(ctx, &rec.config.network).detach(
                    &crate::network::NetworkContext {
                        id: &rec.id,
                        name: &rec.name,
                        hostname: &rec.config.hostname,
                        netns: format!("/proc/{}/ns/net", rec.pid.unwrap_or(0)).into(),
                        ports: &rec.config.ports,
                    },
                )
            });
            // The root filesystem stays mounted in our namespace (for a
            // restart); it goes away with us.
            let released = cleanup::release_exited_run(ctx, &rec);
            (detach.join(), released)
        });
        match detached {
            Ok(Ok(left)) => self.leftovers.extend(left),
            Ok(Err(e)) => eprintln!("monitor: network detach of {} failed: {e}", self.id),
            Err(_) => eprintln!("monitor: network detach of {} panicked", self.id),
        }
        released?;
        crate::timing::mark("finish: runtime and network released");
        let (code, error) = match outcome {
            Outcome::Exited(code) => (*code, None),
            Outcome::Failed(e) => (start_failure_code(e), Some(e.to_string())),
        };
        let restart = matches!(outcome, Outcome::Exited(_))
            && rec.state != State::Removing
            && rec
                .config
                .restart
                .should_restart(code, rec.restart_count, rec.stop_requested);
        let updated = self.ctx.db.modify(&self.id, |r| {
            r.state = match outcome {
                _ if r.state == State::Removing => State::Removing,
                _ if restart => State::Restarting,
                Outcome::Failed(_) if r.started_at.is_none() => State::Created,
                _ => State::Exited,
            };
            r.exit_code = Some(code);
            r.finished_at = Some(crate::time::now_ns());
            r.oom_killed = oom;
            r.pid = None;
            r.monitor = restart.then(ProcessId::current);
            r.error = error.clone();
            if restart {
                r.restart_count += 1;
            }
            Ok(r.clone())
        })?;
        if oom {
            self.ctx.event(&updated, "oom", &[]);
        }
        if matches!(outcome, Outcome::Exited(_)) {
            self.ctx
                .event(&updated, "die", &[("exitCode", code.to_string())]);
        }
        Ok(restart)
    }

    /// Waits out a restart back-off; false if the container should no
    /// longer restart (stopped, being removed, or the monitor was told to end).
    fn sleep(&mut self, delay: Duration) -> bool {
        let deadline = Instant::now() + delay;
        while Instant::now() < deadline {
            let mut fds = [PollFd::new(&self.sigfd, PollFlags::IN)];
            let left = deadline.saturating_duration_since(Instant::now());
            let ts = rustix::time::Timespec::try_from(left).unwrap_or(rustix::time::Timespec {
                tv_sec: 1,
                tv_nsec: 0,
            });
            if matches!(rustix::event::poll(&mut fds, Some(&ts)), Ok(n) if n > 0) {
                match brig_sys::signal::read_signal(&self.sigfd) {
                    Ok(sig) if sig != Signal::CHILD.as_raw() => return false,
                    _ => {
                        let _ = self.reap(0, None);
                    }
                }
            }
        }
        matches!(
            self.ctx.db.container(&self.id),
            Ok(Some(r)) if !r.stop_requested && r.state == State::Restarting
        )
    }

    /// A restart that will not happen: the container is simply exited.
    fn mark_exited(&self) {
        let _ = self.ctx.db.modify(&self.id, |r| {
            if r.state == State::Restarting {
                r.state = State::Exited;
                r.monitor = None;
            }
            Ok(())
        });
    }

    fn remove_if_auto(&self) {
        crate::timing::mark("monitor: remove_if_auto");
        let Ok(_lock) = self.ctx.lock(&self.id) else {
            return;
        };
        let Ok(Some(rec)) = self.ctx.db.container(&self.id) else {
            return;
        };
        if rec.config.auto_remove
            && rec.state != State::Removing
            && !rec.state.has_monitor()
            && let Err(e) = cleanup::remove_released(&self.ctx, &rec, true)
        {
            eprintln!("monitor: --rm of {} failed: {e}", self.id);
        }
    }
}

/// What a poll found ready.
#[derive(Debug, Default)]
struct Ready {
    signal: bool,
    listener: bool,
    outputs: [bool; 2],
    clients: Vec<usize>,
    health: bool,
}

/// Gives the monitor its own mount namespace (receiving the host's mounts,
/// sending none back): the container's root filesystem is mounted there,
/// so it disappears with the monitor, never leaks after a `kill -9`, and
/// its costly unmount happens after the monitor exits, not while a
/// `run --rm` waits.
fn private_mounts() -> std::io::Result<()> {
    brig_sys::process::unshare(u64::from(rustix::thread::UnshareFlags::NEWNS.bits()))?;
    rustix::mount::mount_change(
        "/",
        rustix::mount::MountPropagationFlags::DOWNSTREAM
            | rustix::mount::MountPropagationFlags::REC,
    )?;
    Ok(())
}

/// The exit code a failed start gets (Docker's).
fn start_failure_code(e: &Error) -> i32 {
    match e.kind() {
        ErrorKind::CommandNotFound => 127,
        ErrorKind::CannotExecute => 126,
        _ => 125,
    }
}

/// Whether the kernel's OOM killer killed a process of the container.
fn oom_killed(rec: &ContainerRecord) -> bool {
    AnyManager::for_container(Some(&cleanup::cgroups_path(&rec.id)), &rec.id, false)
        .and_then(|cg| cg.oom_kill_count())
        .is_ok_and(|n| n > 0)
}
