//! `brig top`, `brig stats`, `brig port`.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::Result;
use brig_engine::{ListOptions, StatsSample};
use clap::Args;
use serde_json::{Value, json};

use super::{engine, fail};
use crate::context::Context;
use crate::output::{self, Column, Format, human_size};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig top web")]
pub struct TopArgs {
    pub container: String,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig stats                   (a live table on a terminal)
  brig stats --no-stream web
  brig stats --no-stream --format json")]
pub struct StatsArgs {
    /// Print one reading and exit.
    #[arg(long)]
    pub no_stream: bool,
    /// Also stopped containers (shown with zeros).
    #[arg(short, long)]
    pub all: bool,
    /// table, json or a template such as '{{.Name}} {{.CPUPerc}}'.
    #[arg(long, default_value = "table")]
    pub format: Format,
    /// Containers (default: every running one).
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig port web
  brig port web 80/tcp")]
pub struct PortArgs {
    pub container: String,
    /// Only this container port (PORT[/PROTO]).
    pub port: Option<String>,
}

const TOP_COLUMNS: [Column; 6] = [
    Column {
        header: "UID",
        field: "UID",
    },
    Column {
        header: "PID",
        field: "PID",
    },
    Column {
        header: "PPID",
        field: "PPID",
    },
    Column {
        header: "TIME",
        field: "TIME",
    },
    Column {
        header: "CMD",
        field: "CMD",
    },
    Column {
        header: "",
        field: "",
    },
];

pub fn top(ctx: &Context, args: &TopArgs) -> Result<()> {
    let rows: Vec<Value> = engine(ctx)?
        .top(&args.container)
        .map_err(fail)?
        .into_iter()
        .map(|r| json!({"UID": r.uid, "PID": r.pid, "PPID": r.ppid, "TIME": r.time, "CMD": r.command}))
        .collect();
    output::print_rows(
        &mut std::io::stdout().lock(),
        &Format::Table,
        &TOP_COLUMNS[..5],
        &rows,
    )
}

const STATS_COLUMNS: [Column; 8] = [
    Column {
        header: "CONTAINER ID",
        field: "ID",
    },
    Column {
        header: "NAME",
        field: "Name",
    },
    Column {
        header: "CPU %",
        field: "CPUPerc",
    },
    Column {
        header: "MEM USAGE / LIMIT",
        field: "MemUsage",
    },
    Column {
        header: "MEM %",
        field: "MemPerc",
    },
    Column {
        header: "NET I/O",
        field: "NetIO",
    },
    Column {
        header: "BLOCK I/O",
        field: "BlockIO",
    },
    Column {
        header: "PIDS",
        field: "PIDs",
    },
];

fn stats_row(id: &str, name: &str, prev: &StatsSample, cur: &StatsSample) -> Value {
    let mem_perc = if cur.memory_limit > 0 {
        cur.memory_usage as f64 / cur.memory_limit as f64 * 100.0
    } else {
        0.0
    };
    json!({
        "ID": &id[..12],
        "Name": name,
        "CPUPerc": format!("{:.2}%", cur.cpu_percent(prev)),
        "MemUsage": format!("{} / {}", human_size(cur.memory_usage), human_size(cur.memory_limit)),
        "MemPerc": format!("{mem_perc:.2}%"),
        "NetIO": "0B / 0B",
        "BlockIO": format!("{} / {}", human_size(cur.block_read), human_size(cur.block_write)),
        "PIDs": cur.pids.to_string(),
    })
}

pub fn stats(ctx: &Context, args: &StatsArgs) -> Result<()> {
    let engine = engine(ctx)?;
    let targets: Vec<(String, String)> = if args.containers.is_empty() {
        engine
            .list(&ListOptions {
                all: args.all,
                ..Default::default()
            })
            .map_err(fail)?
            .into_iter()
            .map(|r| (r.id, r.name))
            .collect()
    } else {
        args.containers
            .iter()
            .map(|c| engine.find(c).map(|r| (r.id, r.name)).map_err(fail))
            .collect::<Result<_>>()?
    };
    let sample = |id: &str| engine.stats(id).unwrap_or_default();
    let mut prev: Vec<StatsSample> = targets.iter().map(|(id, _)| sample(id)).collect();
    let live = !args.no_stream && std::io::stdout().is_terminal() && args.format == Format::Table;
    loop {
        std::thread::sleep(Duration::from_millis(if live { 1000 } else { 500 }));
        let cur: Vec<StatsSample> = targets.iter().map(|(id, _)| sample(id)).collect();
        let rows: Vec<Value> = targets
            .iter()
            .zip(prev.iter().zip(&cur))
            .map(|((id, name), (p, c))| stats_row(id, name, p, c))
            .collect();
        let mut out = std::io::stdout().lock();
        if live {
            // Clear the screen and go home, as Docker's live table does.
            write!(out, "\x1b[2J\x1b[H")?;
        }
        output::print_rows(&mut out, &args.format, &STATS_COLUMNS, &rows)?;
        out.flush()?;
        if args.no_stream {
            return Ok(());
        }
        prev = cur;
    }
}

pub fn port(ctx: &Context, args: &PortArgs) -> Result<()> {
    let ports = engine(ctx)?.ports(&args.container).map_err(fail)?;
    let wanted = args.port.as_deref().map(|p| {
        let (n, proto) = p.split_once('/').unwrap_or((p, "tcp"));
        (n.to_owned(), proto.to_owned())
    });
    let mut out = std::io::stdout().lock();
    for p in &ports {
        if let Some((n, proto)) = &wanted
            && (p.container_port.to_string() != *n || p.protocol != *proto)
        {
            continue;
        }
        let ip = if p.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &p.host_ip
        };
        writeln!(
            out,
            "{}/{} -> {ip}:{}",
            p.container_port, p.protocol, p.host_port
        )?;
    }
    Ok(())
}
