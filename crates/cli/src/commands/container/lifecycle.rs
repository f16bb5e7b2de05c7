//! `start`, `stop`, `restart`, `kill`, `rm`, `wait`, `rename`, `pause`,
//! `unpause`, `container prune`.

use anyhow::{Result, bail};
use brig_engine::WaitCondition;
use clap::Args;

use super::{each, engine, exit_code, fail};
use crate::context::Context;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig start web
  brig start -a job        (attach and exit with the container's code)")]
pub struct StartArgs {
    /// Attach to the container's output and exit with its code.
    #[arg(short, long)]
    pub attach: bool,
    /// With -a: forward stdin.
    #[arg(short, long)]
    pub interactive: bool,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig stop web
  brig stop -t 30 web db")]
pub struct StopArgs {
    /// Seconds to wait before SIGKILL (default: the container's --stop-timeout).
    #[arg(short = 't', long = "time", alias = "timeout", value_name = "SECONDS")]
    pub time: Option<u64>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig kill web
  brig kill -s HUP web")]
pub struct KillArgs {
    /// Signal to send (name or number).
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig rm web
  brig rm -f -v web        (kill it first, and remove its anonymous volumes)")]
pub struct RmArgs {
    /// Kill a running container and remove it.
    #[arg(short, long)]
    pub force: bool,
    /// Also remove the container's anonymous volumes.
    #[arg(short, long)]
    pub volumes: bool,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig wait job
  brig wait --condition removed job")]
pub struct WaitArgs {
    /// not-running (default), next-exit or removed.
    #[arg(long, default_value = "not-running")]
    pub condition: String,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig rename brave_rudder web")]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig pause web && brig unpause web")]
pub struct NamesArgs {
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig container prune -f")]
pub struct PruneArgs {
    /// Do not ask (brig never asks; accepted for Docker's scripts).
    #[arg(short, long)]
    pub force: bool,
}

pub fn start(ctx: &Context, args: &StartArgs) -> Result<()> {
    let engine = engine(ctx)?;
    if args.attach {
        let [name] = args.containers.as_slice() else {
            bail!("start -a takes one container");
        };
        let rec = engine.find(name).map_err(fail)?;
        engine
            .start_with(&rec.id, true, super::run::terminal_size(rec.config.tty))
            .map_err(fail)?;
        let code =
            super::run::attach_and_relay(&engine, &rec.id, rec.config.tty, args.interactive, true)?;
        return exit_code(code);
    }
    each(&args.containers, |name| {
        engine.start(name, false).map_err(fail)?;
        println!("{name}");
        Ok(())
    })
}

pub fn stop(ctx: &Context, args: &StopArgs, restart: bool) -> Result<()> {
    let engine = engine(ctx)?;
    each(&args.containers, |name| {
        if restart {
            engine.restart(name, args.time).map_err(fail)?;
        } else {
            engine.stop(name, args.time).map_err(fail)?;
        }
        println!("{name}");
        Ok(())
    })
}

pub fn kill(ctx: &Context, args: &KillArgs) -> Result<()> {
    let engine = engine(ctx)?;
    each(&args.containers, |name| {
        engine.kill(name, &args.signal).map_err(fail)?;
        println!("{name}");
        Ok(())
    })
}

pub fn rm(ctx: &Context, args: &RmArgs) -> Result<()> {
    let engine = engine(ctx)?;
    each(&args.containers, |name| {
        engine
            .remove(name, args.force, args.volumes)
            .map_err(fail)?;
        println!("{name}");
        Ok(())
    })
}

pub fn wait(ctx: &Context, args: &WaitArgs) -> Result<()> {
    let condition = match args.condition.as_str() {
        "not-running" => WaitCondition::NotRunning,
        "next-exit" => WaitCondition::NextExit,
        "removed" => WaitCondition::Removed,
        other => bail!("--condition {other}: use not-running, next-exit or removed"),
    };
    let engine = engine(ctx)?;
    each(&args.containers, |name| {
        println!("{}", engine.wait(name, condition).map_err(fail)?);
        Ok(())
    })
}

pub fn rename(ctx: &Context, args: &RenameArgs) -> Result<()> {
    engine(ctx)?
        .rename(&args.container, &args.new_name)
        .map_err(fail)
}

pub fn pause(ctx: &Context, args: &NamesArgs, pause: bool) -> Result<()> {
    let engine = engine(ctx)?;
    each(&args.containers, |name| {
        if pause {
            engine.pause(name).map_err(fail)?;
        } else {
            engine.unpause(name).map_err(fail)?;
        }
        println!("{name}");
        Ok(())
    })
}

pub fn prune(ctx: &Context, _args: &PruneArgs) -> Result<()> {
    let removed = engine(ctx)?.container_prune().map_err(fail)?;
    if !removed.is_empty() {
        println!("Deleted Containers:");
        for id in &removed {
            println!("{id}");
        }
    }
    println!("Total reclaimed containers: {}", removed.len());
    Ok(())
}
