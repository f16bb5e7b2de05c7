//! `run`: create and start in one step; in the foreground, supervise the
//! container until it exits, then delete it.

use std::os::unix::net::UnixStream;

use crate::container;
use crate::error::{Error, Result};
use crate::hooks::{self, HookKind};
use crate::process::create::{CreateOptions, Start, create_with_console};
use crate::process::wait;
use crate::report;
use crate::state::Store;
use crate::tty;

/// Returns the container's exit status (0 when detached).
pub fn run(store: &Store, opts: &CreateOptions, detach: bool) -> Result<i32> {
    let sigfd = if detach {
        None
    } else {
        Some(wait::block_signals()?)
    };
    let bundle = crate::bundle::Bundle::load(&opts.bundle)?;
    let terminal = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let (console, local) = if terminal && opts.console_socket.is_none() {
        if detach {
            return Err(Error::InvalidFlag {
                flag: "--console-socket",
                reason: "a detached container with a terminal needs a console socket to hand the terminal to".into(),
            });
        }
        let (ours, theirs) = UnixStream::pair().map_err(|e| Error::sys("socketpair", e))?;
        (Some(theirs), Some(ours))
    } else {
        (None, None)
    };
    let mut created = create_with_console(store, opts, bundle, console, Start::AtOnce)?;
    let master = match &local {
        Some(sock) => {
            Some(tty::recv_fd(sock).map_err(|e| Error::sys("receiving the terminal", e))?)
        }
        None => None,
    };
    let released = match created.started.take() {
        Some((reader, oom_kills)) => {
            container::await_exec(&created.dir, &created.record, &reader, oom_kills)
        }
        None => container::release_init(&created.dir, &created.record),
    };
    if let Err(e) = released {
        drop(created);
        let _ = container::delete(store, &opts.id, true);
        return Err(e);
    }
    let state = report::oci_state_json(&created.record, "running");
    if let Err(e) = hooks::run_all(
        created.record.config.hooks().as_ref(),
        HookKind::Poststart,
        state.as_bytes(),
    ) {
        eprintln!("warning: {e}");
    }
    let pid = created.record.init.map_or(0, |p| p.pid);
    let channel = created.channel;
    // Release the lock: other commands may inspect or signal the container meanwhile.
    drop(created.dir);
    if let Some(err) = crate::process::exec::wait_started(&channel)? {
        if let Some(sigfd) = &sigfd {
            let _ = wait::supervise(pid, sigfd, None);
        }
        let _ = container::delete(store, &opts.id, true);
        return Err(Error::Init(err));
    }
    let Some(sigfd) = sigfd else { return Ok(0) };
    let code = wait::supervise(pid, &sigfd, master)?;
    container::delete(store, &opts.id, true)?;
    Ok(code)
}
