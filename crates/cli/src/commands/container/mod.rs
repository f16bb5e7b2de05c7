//! `brig container ...` and Docker's top-level shortcuts (`brig run`,
//! `brig ps`, ...): containers, through brig-engine.

pub mod exec;
pub mod files;
pub mod inspect;
pub mod lifecycle;
pub mod logs;
pub mod monitor;
pub mod ps;
pub mod query;
pub mod run;
pub mod update;

use anyhow::Result;
use brig_engine::{Engine, ErrorKind};
use clap::Subcommand;

use crate::context::Context;
use crate::exit::{CANNOT_EXECUTE, COMMAND_NOT_FOUND, ExitStatus};

pub const EXAMPLES: &str = "\
Examples:
  brig container run -d --name web busybox:1.36 httpd -f
  brig container ls -a --format json
  brig container rm -f web";

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ContainerCommand {
    /// Create and start a container.
    Run(run::RunArgs),
    /// Create a container without starting it.
    Create(run::CreateCmd),
    /// Start stopped containers.
    Start(lifecycle::StartArgs),
    /// Stop running containers (stop signal, then SIGKILL after the timeout).
    Stop(lifecycle::StopArgs),
    /// Stop and start containers.
    Restart(lifecycle::StopArgs),
    /// Send a signal to running containers.
    Kill(lifecycle::KillArgs),
    /// Remove containers.
    #[command(alias = "remove")]
    Rm(lifecycle::RmArgs),
    /// List containers.
    #[command(alias = "ps", alias = "list")]
    Ls(ps::PsArgs),
    /// Show a container's output.
    Logs(logs::LogsArgs),
    /// Run a command in a running container.
    Exec(exec::ExecArgs),
    /// Attach to a running container's input and output.
    Attach(exec::AttachArgs),
    /// Show containers' details as JSON.
    Inspect(inspect::InspectArgs),
    /// Wait until containers stop and print their exit codes.
    Wait(lifecycle::WaitArgs),
    /// Show a container's processes.
    Top(query::TopArgs),
    /// Show containers' resource use.
    Stats(query::StatsArgs),
    /// Show a container's published ports.
    Port(query::PortArgs),
    /// Copy files between a container and the host.
    Cp(files::CpArgs),
    /// Show the files a container changed.
    Diff(files::DiffArgs),
    /// Write a container's root filesystem as a tar.
    Export(files::ExportArgs),
    /// Rename a container.
    Rename(lifecycle::RenameArgs),
    /// Freeze every process of containers.
    Pause(lifecycle::NamesArgs),
    /// Thaw paused containers.
    Unpause(lifecycle::NamesArgs),
    /// Change containers' resource limits and restart policy.
    Update(update::UpdateArgs),
    /// Remove every stopped container.
    Prune(lifecycle::PruneArgs),
}

pub fn dispatch(ctx: &Context, command: ContainerCommand) -> Result<()> {
    use ContainerCommand as C;
    match command {
        C::Run(a) => run::run(ctx, a),
        C::Create(a) => run::create(ctx, a),
        C::Start(a) => lifecycle::start(ctx, &a),
        C::Stop(a) => lifecycle::stop(ctx, &a, false),
        C::Restart(a) => lifecycle::stop(ctx, &a, true),
        C::Kill(a) => lifecycle::kill(ctx, &a),
        C::Rm(a) => lifecycle::rm(ctx, &a),
        C::Ls(a) => ps::run(ctx, &a),
        C::Logs(a) => logs::run(ctx, &a),
        C::Exec(a) => exec::exec(ctx, a),
        C::Attach(a) => exec::attach(ctx, &a),
        C::Inspect(a) => inspect::run(ctx, &a),
        C::Wait(a) => lifecycle::wait(ctx, &a),
        C::Top(a) => query::top(ctx, &a),
        C::Stats(a) => query::stats(ctx, &a),
        C::Port(a) => query::port(ctx, &a),
        C::Cp(a) => files::cp(ctx, &a),
        C::Diff(a) => files::diff(ctx, &a),
        C::Export(a) => files::export(ctx, &a),
        C::Rename(a) => lifecycle::rename(ctx, &a),
        C::Pause(a) => lifecycle::pause(ctx, &a, true),
        C::Unpause(a) => lifecycle::pause(ctx, &a, false),
        C::Update(a) => update::run(ctx, &a),
        C::Prune(a) => lifecycle::prune(ctx, &a),
    }
}

/// An engine error for the CLI: a command that cannot be executed or is
/// not found exits 126 or 127 (Docker's), everything else 125.
pub fn fail(err: brig_engine::Error) -> anyhow::Error {
    let code = match err.kind() {
        ErrorKind::CommandNotFound => COMMAND_NOT_FOUND,
        ErrorKind::CannotExecute => CANNOT_EXECUTE,
        _ => return anyhow::Error::new(err),
    };
    anyhow::Error::new(ExitStatus {
        code,
        message: err.to_string(),
    })
}

/// Ends the command with a container's exit code (silently).
pub fn exit_code(code: i32) -> Result<()> {
    if code == 0 {
        Ok(())
    } else {
        Err(anyhow::Error::new(ExitStatus {
            code,
            message: String::new(),
        }))
    }
}

/// Runs `f` for every name, reporting each failure, as Docker's
/// multi-container commands do; fails if any did.
pub fn each(names: &[String], mut f: impl FnMut(&str) -> Result<()>) -> Result<()> {
    let mut failed = 0;
    for name in names {
        if let Err(e) = f(name) {
            eprintln!("Error: {name}: {e:#}");
            failed += 1;
        }
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(anyhow::Error::new(ExitStatus {
            code: crate::exit::ENGINE_ERROR,
            message: String::new(),
        }))
    }
}

/// Output cut short by a closed pipe (`brig ps -q | head -1`) is not an
/// error, as for any Unix tool.
pub fn ok_on_broken_pipe(result: Result<()>) -> Result<()> {
    match result {
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// The engine for container commands.
pub fn engine(ctx: &Context) -> Result<Engine> {
    ctx.engine()
}
