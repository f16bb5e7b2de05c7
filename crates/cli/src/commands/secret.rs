//! `brig secret create|ls|inspect|rm`.

use std::io::Read;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::commands::container::{each, engine, fail};
use crate::context::Context;
use crate::output::{self, Column, Format};

pub const EXAMPLES: &str = "\
Examples:
  brig secret create api_key ./key.txt
  printf %s \"$DB_PASSWORD\" | brig secret create db_password -
  brig run --secret db_password busybox:1.36 cat /run/secrets/db_password
  brig secret ls";

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum SecretCommand {
    /// Store a secret from a file or stdin (-).
    Create(CreateArgs),
    /// List secrets (never their values).
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show secrets' metadata as JSON (never their values).
    Inspect(NamesArgs),
    /// Remove secrets no container uses.
    #[command(alias = "remove")]
    Rm(NamesArgs),
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  brig secret create api_key ./key.txt\n  echo -n hunter2 | brig secret create db_password -"
)]
pub struct CreateArgs {
    /// Set a label (KEY=VALUE).
    #[arg(short, long = "label")]
    pub label: Vec<String>,
    pub name: String,
    /// A file, or - for stdin.
    pub file: String,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  brig secret ls --format json")]
pub struct LsArgs {
    #[arg(short, long)]
    pub quiet: bool,
    #[arg(long, default_value = "table")]
    pub format: Format,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  brig secret inspect db_password")]
pub struct NamesArgs {
    #[arg(required = true, value_name = "SECRET")]
    pub names: Vec<String>,
}

const COLUMNS: [Column; 3] = [
    Column {
        header: "ID",
        field: "ID",
    },
    Column {
        header: "NAME",
        field: "Name",
    },
    Column {
        header: "CREATED",
        field: "CreatedAt",
    },
];

pub fn dispatch(ctx: &Context, command: SecretCommand) -> Result<()> {
    let engine = engine(ctx)?;
    match command {
        SecretCommand::Create(a) => {
            let limit = brig_engine::ops::objects::MAX_SECRET as u64 + 1;
            let mut data = Vec::new();
            if a.file == "-" {
                std::io::stdin().lock().take(limit).read_to_end(&mut data)?;
            } else {
                std::fs::File::open(&a.file)
                    .with_context(|| format!("read {}", a.file))?
                    .take(limit)
                    .read_to_end(&mut data)?;
            }
            if data.is_empty() {
                bail!("the secret is empty: give a file or pipe the value into `-`");
            }
            let s = engine
                .secret_create(&a.name, &data, &a.label)
                .map_err(fail)?;
            println!("{}", s.id);
            Ok(())
        }
        SecretCommand::Ls(a) => {
            let now = brig_engine::time::now_ns();
            let rows: Vec<Value> = engine
                .secret_list()
                .map_err(fail)?
                .into_iter()
                .map(|s| json!({"ID": s.id, "Name": s.name, "CreatedAt": format!("{} ago", brig_engine::time::human_duration(now - s.created_at)), "Size": s.size}))
                .collect();
            output::print_listing(&a.format, a.quiet, "ID", &COLUMNS, &rows)
        }
        SecretCommand::Inspect(a) => {
            output::print_inspected(&a.names, None, |n| engine.secret_inspect(n).map_err(fail))
        }
        SecretCommand::Rm(a) => each(&a.names, |n| {
            engine.secret_remove(n).map_err(fail)?;
            println!("{n}");
            Ok(())
        }),
    }
}
