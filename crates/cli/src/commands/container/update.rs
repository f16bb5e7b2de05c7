//! `brig update`.

use anyhow::Result;
use brig_engine::UpdateOptions;
use clap::Args;

use super::{each, engine, fail};
use crate::context::Context;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig update --memory 1g --cpus 2 web
  brig update --restart unless-stopped web")]
pub struct UpdateArgs {
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    #[arg(long)]
    pub memory_reservation: Option<String>,
    #[arg(long)]
    pub cpus: Option<String>,
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<u64>,
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// no, on-failure[:N], always, unless-stopped.
    #[arg(long)]
    pub restart: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn run(ctx: &Context, args: &UpdateArgs) -> Result<()> {
    let opts = UpdateOptions {
        memory: args.memory.clone(),
        memory_swap: args.memory_swap.clone(),
        memory_reservation: args.memory_reservation.clone(),
        cpus: args.cpus.clone(),
        cpu_shares: args.cpu_shares,
        cpuset_cpus: args.cpuset_cpus.clone(),
        pids_limit: args.pids_limit,
        restart: args.restart.clone(),
    };
    let engine = engine(ctx)?;
    each(&args.containers, |name| {
        engine.update(name, &opts).map_err(fail)?;
        println!("{name}");
        Ok(())
    })
}
