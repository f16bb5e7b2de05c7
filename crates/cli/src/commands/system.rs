//! `brig system df|prune|info`, `brig events`, `brig healthcheck run`,
//! `brig audit`.

use std::io::Write;

use anyhow::{Result, bail};
use brig_engine::EventOptions;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::commands::container::{engine, exit_code, fail};
use crate::context::Context;
use crate::output::{self, Column, Format, human_size};

pub const EXAMPLES: &str = "\
Examples:
  brig system df
  brig system prune -a --volumes
  brig system info --format json";

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum SystemCommand {
    /// Show disk use of images, containers and volumes.
    Df(FormatArgs),
    /// Remove stopped containers, unused images and layers, crash leftovers.
    Prune(PruneArgs),
    /// Show how brig is set up.
    Info(FormatArgs),
    /// Show events as they happen.
    Events(EventsArgs),
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  brig system df\n  brig system df --format json")]
pub struct FormatArgs {
    #[arg(long, default_value = "table")]
    pub format: Format,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  brig system prune -a --volumes")]
pub struct PruneArgs {
    /// Every image no container uses, not only unnamed ones.
    #[arg(short, long)]
    pub all: bool,
    /// Also unused anonymous volumes.
    #[arg(long)]
    pub volumes: bool,
    /// Accepted for Docker's scripts (brig never asks).
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig events
  brig events --since 10m --until 0s --filter container=web
  brig events --format json")]
pub struct EventsArgs {
    /// Events since a time (RFC 3339, Unix seconds, or a duration such as 10m).
    #[arg(long)]
    pub since: Option<String>,
    /// Stop at this time (with --since: print past events and exit).
    #[arg(long)]
    pub until: Option<String>,
    /// container=NAME|ID, type=container|volume|secret, event=ACTION.
    #[arg(short, long)]
    pub filter: Vec<String>,
    #[arg(long, default_value = "table")]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum HealthcheckCommand {
    /// Run a container's health check now (exit 0 healthy, 1 not).
    Run(HealthArgs),
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  brig healthcheck run web && echo healthy")]
pub struct HealthArgs {
    pub container: String,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig audit web
  brig audit --all --format json")]
pub struct AuditArgs {
    /// Every container.
    #[arg(short, long)]
    pub all: bool,
    #[arg(long, default_value = "table")]
    pub format: Format,
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

const DF_COLUMNS: [Column; 5] = [
    Column {
        header: "TYPE",
        field: "Type",
    },
    Column {
        header: "TOTAL",
        field: "TotalCount",
    },
    Column {
        header: "ACTIVE",
        field: "Active",
    },
    Column {
        header: "SIZE",
        field: "Size",
    },
    Column {
        header: "RECLAIMABLE",
        field: "Reclaimable",
    },
];

pub fn dispatch(ctx: &Context, command: SystemCommand) -> Result<()> {
    match command {
        SystemCommand::Df(a) => df(ctx, &a),
        SystemCommand::Prune(a) => prune(ctx, &a),
        SystemCommand::Info(a) => info(ctx, &a),
        SystemCommand::Events(a) => events(ctx, &a),
    }
}

fn df(ctx: &Context, a: &FormatArgs) -> Result<()> {
    let rows: Vec<Value> = engine(ctx)?
        .df()
        .map_err(fail)?
        .into_iter()
        .map(|r| {
            let pct = (r.reclaimable * 100).checked_div(r.size).unwrap_or(0);
            json!({"Type": r.kind, "TotalCount": r.total.to_string(), "Active": r.active.to_string(),
                   "Size": human_size(r.size), "Reclaimable": format!("{} ({pct}%)", human_size(r.reclaimable))})
        })
        .collect();
    output::print_rows(&mut std::io::stdout().lock(), &a.format, &DF_COLUMNS, &rows)
}

fn prune(ctx: &Context, a: &PruneArgs) -> Result<()> {
    let r = engine(ctx)?.system_prune(a.all, a.volumes).map_err(fail)?;
    let mut out = std::io::stdout().lock();
    for (title, list) in [
        ("Deleted Containers", &r.containers),
        ("Deleted Images", &r.images),
        ("Deleted Volumes", &r.volumes),
        ("Removed leftovers", &r.orphans),
    ] {
        if !list.is_empty() {
            writeln!(out, "{title}:")?;
            for item in list.iter() {
                writeln!(out, "{item}")?;
            }
        }
    }
    writeln!(out, "Total reclaimed space: {}", human_size(r.bytes_freed))?;
    Ok(())
}

fn info(ctx: &Context, a: &FormatArgs) -> Result<()> {
    let info = engine(ctx)?.info().map_err(fail)?;
    let mut out = std::io::stdout().lock();
    match &a.format {
        Format::Json => writeln!(out, "{info}")?,
        Format::Template { template, .. } => writeln!(out, "{}", output::render(template, &info)?)?,
        Format::Table => {
            if let Value::Object(map) = &info {
                for (k, v) in map {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    writeln!(out, " {k}: {text}")?;
                }
            }
        }
    }
    Ok(())
}

fn events(ctx: &Context, a: &EventsArgs) -> Result<()> {
    let now = brig_engine::time::now_ns();
    let time = |flag: &str, v: &Option<String>| -> Result<Option<i64>> {
        match v {
            None => Ok(None),
            Some(v) => match brig_engine::time::parse_since(v, now) {
                Some(t) => Ok(Some(t)),
                None => bail!(
                    "{flag} {v}: use an RFC 3339 time, Unix seconds or a duration such as 10m"
                ),
            },
        }
    };
    let opts = EventOptions {
        since: time("--since", &a.since)?,
        until: time("--until", &a.until)?,
        filters: a.filter.clone(),
    };
    let follow = opts.until.is_none();
    let engine = engine(ctx)?;
    let mut out = std::io::stdout().lock();
    engine
        .events(&opts, follow, &mut |e| {
            let attrs: Vec<String> = e.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let row = json!({"Type": e.kind, "Action": e.action, "Actor": {"ID": e.actor_id, "Attributes": e.attributes},
                "id": e.actor_id, "time": brig_engine::time::rfc3339_nanos(e.time), "timeNano": e.time, "attrs": attrs.join(", ")});
            let line = match &a.format {
                Format::Json => row.to_string(),
                Format::Template { template, .. } => output::render(template, &row).map_err(std::io::Error::other)?,
                Format::Table => format!("{} {} {} {} ({})", row["time"].as_str().unwrap_or_default(), e.kind, e.action, e.actor_id, attrs.join(", ")),
            };
            writeln!(out, "{line}")?;
            out.flush()
        })
        .map_err(fail)
}

pub fn healthcheck(ctx: &Context, command: HealthcheckCommand) -> Result<()> {
    let HealthcheckCommand::Run(a) = command;
    let result = engine(ctx)?.healthcheck_run(&a.container).map_err(fail)?;
    if result.exit_code == 0 {
        println!("healthy");
        Ok(())
    } else {
        print!("{}", result.output);
        println!("unhealthy");
        exit_code(1)
    }
}

const AUDIT_COLUMNS: [Column; 5] = [
    Column {
        header: "CONTAINER",
        field: "Container",
    },
    Column {
        header: "LAYER",
        field: "Layer",
    },
    Column {
        header: "STATUS",
        field: "Status",
    },
    Column {
        header: "DETAIL",
        field: "Detail",
    },
    Column {
        header: "FIX",
        field: "Fix",
    },
];

pub fn audit(ctx: &Context, a: &AuditArgs) -> Result<()> {
    let engine = engine(ctx)?;
    let names: Vec<String> = if a.all {
        engine
            .containers()
            .map_err(fail)?
            .into_iter()
            .map(|c| c.name)
            .collect()
    } else if a.containers.is_empty() {
        bail!("name containers to audit, or use --all");
    } else {
        a.containers.clone()
    };
    let mut rows = Vec::new();
    for n in &names {
        let (rec, lines) = engine.audit(n).map_err(fail)?;
        for l in lines {
            rows.push(json!({"Container": rec.name, "Layer": l.layer, "Status": l.status, "Detail": l.detail, "Fix": l.fix}));
        }
    }
    output::print_rows(
        &mut std::io::stdout().lock(),
        &a.format,
        &AUDIT_COLUMNS,
        &rows,
    )
}
