//! `brig ps` / `brig container ls`.

use anyhow::Result;
use brig_engine::ListOptions;
use brig_engine::config::PortBinding;
use brig_engine::record::ContainerRecord;
use clap::Args;
use serde_json::{Value, json};

use super::{engine, fail};
use crate::context::Context;
use crate::output::{self, Column, Format};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig ps
  brig ps -a --filter status=exited --filter label=tier=web
  brig ps -q
  brig ps --format json
  brig ps --format '{{.Names}} {{.Status}}'")]
pub struct PsArgs {
    /// Also stopped containers.
    #[arg(short, long)]
    pub all: bool,
    /// Only IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate IDs and commands.
    #[arg(long)]
    pub no_trunc: bool,
    /// The N most recently created containers.
    #[arg(short = 'n', long)]
    pub last: Option<usize>,
    /// The most recently created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Filter: id, name, label, status, exited, ancestor, health, volume, before, since.
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// table, json (one object per line) or a template such as '{{.ID}}'.
    #[arg(long, default_value = "table")]
    pub format: Format,
}

const COLUMNS: [Column; 7] = [
    Column {
        header: "CONTAINER ID",
        field: "ID",
    },
    Column {
        header: "IMAGE",
        field: "Image",
    },
    Column {
        header: "COMMAND",
        field: "Command",
    },
    Column {
        header: "CREATED",
        field: "RunningFor",
    },
    Column {
        header: "STATUS",
        field: "Status",
    },
    Column {
        header: "PORTS",
        field: "Ports",
    },
    Column {
        header: "NAMES",
        field: "Names",
    },
];

/// Docker's `0.0.0.0:8080->80/tcp` notation.
pub fn ports_text(ports: &[PortBinding]) -> String {
    ports
        .iter()
        .map(|p| {
            let ip = if p.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &p.host_ip
            };
            if p.host_port == 0 {
                format!("{}/{}", p.container_port, p.protocol)
            } else {
                format!("{ip}:{}->{}/{}", p.host_port, p.container_port, p.protocol)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn row(rec: &ContainerRecord, no_trunc: bool, now_ns: i64) -> Value {
    let id = if no_trunc {
        rec.id.clone()
    } else {
        rec.id[..12].to_owned()
    };
    let mut command = rec.config.args.join(" ");
    if !no_trunc && command.chars().count() > 20 {
        command = format!("{}…", command.chars().take(19).collect::<String>());
    }
    let labels: Vec<String> = rec
        .config
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    json!({
        "ID": id,
        "Image": rec.image,
        "Command": format!("\"{command}\""),
        "CreatedAt": brig_engine::time::rfc3339_nanos(rec.created_at),
        "RunningFor": format!("{} ago", brig_engine::time::human_duration(now_ns - rec.created_at)),
        "Status": rec.status_text(now_ns),
        "State": rec.state.as_str(),
        "Ports": ports_text(&rec.config.ports),
        "Names": rec.name,
        "Labels": labels.join(","),
        "Mounts": rec.config.mounts.iter().map(|m| m.target().to_owned()).collect::<Vec<_>>().join(","),
        "Networks": rec.config.network.name(),
    })
}

pub fn run(ctx: &Context, args: &PsArgs) -> Result<()> {
    super::ok_on_broken_pipe(list(ctx, args))
}

fn list(ctx: &Context, args: &PsArgs) -> Result<()> {
    let engine = engine(ctx)?;
    let opts = ListOptions {
        all: args.all,
        filters: args.filter.clone(),
        last: if args.latest { Some(1) } else { args.last },
    };
    let list = engine.list(&opts).map_err(fail)?;
    let mut out = std::io::stdout().lock();
    if args.quiet {
        use std::io::Write;
        for rec in &list {
            writeln!(
                out,
                "{}",
                if args.no_trunc {
                    &rec.id[..]
                } else {
                    &rec.id[..12]
                }
            )?;
        }
        return Ok(());
    }
    let now = brig_engine::time::now_ns();
    let rows: Vec<Value> = list.iter().map(|r| row(r, args.no_trunc, now)).collect();
    output::print_rows(&mut out, &args.format, &COLUMNS, &rows)
}
