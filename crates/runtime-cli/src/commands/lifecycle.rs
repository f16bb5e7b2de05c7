//! create, start, run, kill, delete.

use anyhow::Result;
use brig_runtime::Store;
use brig_runtime::process::create::{self, CreateOptions};

use crate::cli::CreateArgs;

fn options(args: CreateArgs, systemd_cgroup: bool) -> CreateOptions {
    CreateOptions {
        id: args.id,
        bundle: args.bundle,
        pid_file: args.pid_file,
        console_socket: args.console_socket,
        no_pivot: args.no_pivot,
        no_new_keyring: args.no_new_keyring,
        preserve_fds: args.preserve_fds,
        systemd_cgroup,
    }
}

pub fn create(store: &Store, args: CreateArgs, systemd: bool) -> Result<i32> {
    create::create(store, &options(args, systemd))?;
    Ok(0)
}

pub fn start(store: &Store, id: &str) -> Result<i32> {
    brig_runtime::container::start(store, id)?;
    Ok(0)
}

pub fn run(store: &Store, args: CreateArgs, detach: bool, systemd: bool) -> Result<i32> {
    Ok(brig_runtime::run::run(
        store,
        &options(args, systemd),
        detach,
    )?)
}

pub fn kill(store: &Store, id: &str, signal: Option<&str>, all: bool) -> Result<i32> {
    let signal = brig_runtime::signal::parse(signal.unwrap_or("TERM"))?;
    brig_runtime::container::kill(store, id, signal, all)?;
    Ok(0)
}

pub fn delete(store: &Store, id: &str, force: bool) -> Result<i32> {
    match brig_runtime::container::delete(store, id, force) {
        // As runc: engines (Podman after a failed create, containerd's shim
        // after a plain delete) call `delete --force` on an id that may be gone.
        Err(brig_runtime::Error::NotFound(_)) if force => Ok(0),
        result => result.map(|()| 0).map_err(Into::into),
    }
}
