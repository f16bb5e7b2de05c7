//! `brig volume create|ls|inspect|rm|prune`.

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::commands::container::{each, engine, fail};
use crate::context::Context;
use crate::output::{self, Column, Format};

pub const EXAMPLES: &str = "\
Examples:
  brig volume create data
  brig run -v data:/var/lib/app busybox:1.36 ls /var/lib/app
  brig volume ls --format json
  brig volume rm data";

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum VolumeCommand {
    /// Create a named volume (seeded from the image on first use).
    Create(CreateArgs),
    /// List volumes.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show volumes' details as JSON.
    Inspect(NamesArgs),
    /// Remove volumes no container uses.
    #[command(alias = "remove")]
    Rm(NamesArgs),
    /// Remove unused anonymous volumes (every unused one with -a).
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  brig volume create --label team=a data")]
pub struct CreateArgs {
    /// Set a label (KEY=VALUE).
    #[arg(short, long = "label")]
    pub label: Vec<String>,
    /// The name (default: a random ID).
    pub name: Option<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  brig volume ls\n  brig volume ls -q --filter dangling=true")]
pub struct LsArgs {
    #[arg(short, long)]
    pub quiet: bool,
    /// dangling=true|false, name=NAME.
    #[arg(short, long)]
    pub filter: Vec<String>,
    #[arg(long, default_value = "table")]
    pub format: Format,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  brig volume inspect data")]
pub struct NamesArgs {
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  brig volume prune -a")]
pub struct PruneArgs {
    /// Every unused volume, not only anonymous ones.
    #[arg(short, long)]
    pub all: bool,
    /// Accepted for Docker's scripts (brig never asks).
    #[arg(short, long)]
    pub force: bool,
}

const COLUMNS: [Column; 2] = [
    Column {
        header: "DRIVER",
        field: "Driver",
    },
    Column {
        header: "VOLUME NAME",
        field: "Name",
    },
];

pub fn dispatch(ctx: &Context, command: VolumeCommand) -> Result<()> {
    let engine = engine(ctx)?;
    match command {
        VolumeCommand::Create(a) => {
            let v = engine
                .volume_create(a.name.as_deref(), &a.label)
                .map_err(fail)?;
            println!("{}", v.name);
            Ok(())
        }
        VolumeCommand::Ls(a) => {
            let mut rows = Vec::new();
            for v in engine.volume_list().map_err(fail)? {
                let keep = a.filter.iter().all(|f| match f.split_once('=') {
                    Some(("dangling", d)) => (d == "true") == v.containers.is_empty(),
                    Some(("name", n)) => v.volume.name.contains(n),
                    _ => false,
                });
                if keep {
                    rows.push(json!({"Driver": "local", "Name": v.volume.name, "Mountpoint": v.mountpoint, "Scope": "local", "Links": v.containers.len()}));
                }
            }
            output::print_listing(&a.format, a.quiet, "Name", &COLUMNS, &rows)
        }
        VolumeCommand::Inspect(a) => {
            output::print_inspected(&a.names, None, |n| engine.volume_inspect(n).map_err(fail))
        }
        VolumeCommand::Rm(a) => each(&a.names, |n| {
            engine.volume_remove(n).map_err(fail)?;
            println!("{n}");
            Ok(())
        }),
        VolumeCommand::Prune(a) => {
            let removed = engine.volume_prune(a.all).map_err(fail)?;
            if !removed.is_empty() {
                println!("Deleted Volumes:");
                for n in &removed {
                    println!("{n}");
                }
            }
            println!("Total reclaimed volumes: {}", removed.len());
            Ok(())
        }
    }
}
