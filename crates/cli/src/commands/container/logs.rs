//! `brig logs`.

use std::io::Write;

use anyhow::{Result, bail};
use brig_engine::LogOptions;
use clap::Args;

use super::{engine, fail};
use crate::context::Context;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig logs web
  brig logs -f --tail 10 web
  brig logs --since 10m -t web")]
pub struct LogsArgs {
    /// Keep printing new output until the container stops.
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines ("all" for every line).
    #[arg(short = 'n', long, value_name = "N")]
    pub tail: Option<String>,
    /// Only output since a time: RFC 3339, Unix seconds, or a duration such as 10m.
    #[arg(long)]
    pub since: Option<String>,
    /// Only output before a time (same forms as --since).
    #[arg(long)]
    pub until: Option<String>,
    /// Prefix each line with its time.
    #[arg(short, long)]
    pub timestamps: bool,
    pub container: String,
}

fn parse_time(flag: &str, value: &Option<String>, now: i64) -> Result<Option<i64>> {
    match value {
        None => Ok(None),
        Some(v) => match brig_engine::time::parse_since(v, now) {
            Some(t) => Ok(Some(t)),
            None => {
                bail!("{flag} {v}: use an RFC 3339 time, Unix seconds or a duration such as 10m")
            }
        },
    }
}

pub fn run(ctx: &Context, args: &LogsArgs) -> Result<()> {
    let now = brig_engine::time::now_ns();
    let tail = match args.tail.as_deref() {
        None | Some("all") => None,
        Some(n) => Some(
            n.parse()
                .map_err(|_| anyhow::anyhow!("--tail {n}: use a number or all"))?,
        ),
    };
    let opts = LogOptions {
        follow: args.follow,
        tail,
        since: parse_time("--since", &args.since, now)?,
        until: parse_time("--until", &args.until, now)?,
    };
    let engine = engine(ctx)?;
    let rec = engine.find(&args.container).map_err(fail)?;
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    engine
        .logs(&rec.id, &opts, &mut |e| {
            let w: &mut dyn Write = if e.stream == "stderr" && !rec.config.tty {
                &mut err
            } else {
                &mut out
            };
            if args.timestamps {
                write!(w, "{} ", e.time)?;
            }
            w.write_all(e.log.as_bytes())?;
            w.flush()
        })
        .map_err(fail)
}
