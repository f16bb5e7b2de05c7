//! OCI hooks: each runs with the container's state JSON on stdin, its own
//! args and env, and an optional timeout. A failing hook fails the operation,
//! except poststart and poststop, whose failures are only reported.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::{Hook, Hooks};
use rustix::event::{PollFd, PollFlags, poll};

use crate::error::{Error, Result};

/// The lifecycle points at which hooks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl HookKind {
    pub fn name(self) -> &'static str {
        match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::CreateContainer => "createContainer",
            HookKind::StartContainer => "startContainer",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        }
    }

    pub fn select(self, hooks: &Hooks) -> &[Hook] {
        #[allow(deprecated)]
        let list = match self {
            HookKind::Prestart => hooks.prestart(),
            HookKind::CreateRuntime => hooks.create_runtime(),
            HookKind::CreateContainer => hooks.create_container(),
            HookKind::StartContainer => hooks.start_container(),
            HookKind::Poststart => hooks.poststart(),
            HookKind::Poststop => hooks.poststop(),
        };
        list.as_deref().unwrap_or_default()
    }
}

/// Hooks of one kind from an optional `hooks` section.
pub fn of(hooks: Option<&Hooks>, kind: HookKind) -> &[Hook] {
    hooks.map(|h| kind.select(h)).unwrap_or_default()
}

/// Runs every hook of `kind` in order; stops at the first failure.
pub fn run_all(hooks: Option<&Hooks>, kind: HookKind, state_json: &[u8]) -> Result<()> {
    for hook in of(hooks, kind) {
        run(kind, hook, state_json)?;
    }
    Ok(())
}

const OUTPUT_LIMIT: usize = 16 * 1024;

fn run(kind: HookKind, hook: &Hook, state_json: &[u8]) -> Result<()> {
    let fail = |reason: String| Error::Hook {
        kind: kind.name(),
        path: hook.path().clone(),
        reason,
    };
    let mut cmd = Command::new(hook.path());
    if let Some((argv0, rest)) = hook.args().as_deref().and_then(<[String]>::split_first) {
        std::os::unix::process::CommandExt::arg0(&mut cmd, argv0);
        cmd.args(rest);
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| fail(format!("cannot start: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that ignores its stdin may close it early: that is not a failure.
        let _ = stdin.write_all(state_json);
    }
    let timeout = hook.timeout().map(|s| Duration::from_secs(s.max(1) as u64));
    let output = collect_output(&mut child, timeout);
    let status = child.wait().map_err(|e| fail(format!("wait: {e}")))?;
    if output.timed_out {
        return Err(fail(format!(
            "timed out after {}s",
            timeout.unwrap_or_default().as_secs()
        )));
    }
    if status.success() {
        return Ok(());
    }
    let how = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (_, Some(sig)) => format!("killed by signal {sig}"),
        _ => "failed".to_string(),
    };
    Err(fail(format!(
        "{how}, stdout: {:?}, stderr: {:?}",
        output.stdout.trim(),
        output.stderr.trim()
    )))
}

#[derive(Default)]
struct Output {
    stdout: String,
    stderr: String,
    timed_out: bool,
}

/// Reads the hook's stdout and stderr until both close, killing it on timeout.
fn collect_output(child: &mut std::process::Child, timeout: Option<Duration>) -> Output {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut out = Output::default();
    let as_file = |fd: OwnedFd| std::fs::File::from(fd);
    let mut pipes = [
        child.stdout.take().map(|p| as_file(p.into())),
        child.stderr.take().map(|p| as_file(p.into())),
    ];
    let mut bufs = [Vec::new(), Vec::new()];
    while pipes.iter().any(Option::is_some) {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|l| l.is_zero()) {
            out.timed_out = true;
            let _ = child.kill();
            break;
        }
        let open: Vec<usize> = (0..2).filter(|&i| pipes[i].is_some()).collect();
        let mut fds: Vec<PollFd<'_>> = open
            .iter()
            .filter_map(|&i| pipes[i].as_ref().map(|p| PollFd::new(p, PollFlags::IN)))
            .collect();
        let ts = left.and_then(|l| rustix::time::Timespec::try_from(l).ok());
        if poll(&mut fds, ts.as_ref()).is_err() {
            break;
        }
        let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        drop(fds);
        for (slot, ready) in open.into_iter().zip(ready) {
            if !ready {
                continue;
            }
            let mut chunk = [0u8; 4096];
            let read = pipes[slot].as_mut().map(|p| p.read(&mut chunk));
            match read {
                Some(Ok(n)) if n > 0 => {
                    if bufs[slot].len() < OUTPUT_LIMIT {
                        bufs[slot].extend_from_slice(&chunk[..n]);
                    }
                }
                _ => pipes[slot] = None,
            }
        }
    }
    out.stdout = String::from_utf8_lossy(&bufs[0]).into_owned();
    out.stderr = String::from_utf8_lossy(&bufs[1]).into_owned();
    out
}
