//! One function per command; each turns flags into a library call.

mod exec;
mod lifecycle;
mod query;
mod resources;

use anyhow::Result;
use brig_runtime::Store;

use crate::cli::{Command, Global};

/// Runs a command; returns the process exit status.
pub fn dispatch(global: &Global, command: Command) -> Result<i32> {
    let store = Store::new(&global.root);
    match command {
        Command::Spec { bundle, rootless } => query::spec(&bundle, rootless),
        Command::Create(args) => lifecycle::create(&store, args, global.systemd_cgroup),
        Command::Start { id } => lifecycle::start(&store, &id),
        Command::Run { create, detach } => {
            lifecycle::run(&store, create, detach, global.systemd_cgroup)
        }
        Command::State { id } => query::state(&store, &id),
        Command::Kill { id, signal, all } => lifecycle::kill(&store, &id, signal.as_deref(), all),
        Command::Delete { id, force } => lifecycle::delete(&store, &id, force),
        Command::List { format, quiet } => query::list(&store, format, quiet),
        Command::Ps {
            id,
            format,
            ps_args,
        } => query::ps(&store, &id, format, &ps_args),
        Command::Exec(args) => exec::exec(&store, args),
        Command::Features => query::features(),
        Command::Update(args) => resources::update(&store, args),
        Command::Pause { id } => resources::pause(&store, &id),
        Command::Resume { id } => resources::resume(&store, &id),
        Command::Events {
            id,
            stats,
            interval,
        } => resources::events(&store, &id, stats, &interval),
    }
}
