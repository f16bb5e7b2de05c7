//! `brig image prune [-a]`: remove images without names (or, with -a,
//! every image no container uses), then unused blobs and layers.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Result;
use clap::Args;

use super::familiar;
use crate::context::Context;
use crate::output::human_size;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig image prune -f
  brig image prune -a -f")]
pub struct PruneArgs {
    /// Remove every image no container uses, not only those without a name.
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

pub fn run(ctx: &Context, args: &PruneArgs) -> Result<()> {
    if !args.force && !confirm(args.all)? {
        eprintln!("Nothing removed (answer y, or pass --force).");
        return Ok(());
    }
    let images = ctx.images()?;
    let in_use = ctx.users().images_in_use()?;
    let report = images.prune(args.all, &in_use)?;
    let layers = ctx.collect_layers(&images)?;
    let mut out = std::io::stdout().lock();
    if !report.untagged.is_empty() || !report.deleted.is_empty() {
        writeln!(out, "Deleted Images:")?;
        for name in &report.untagged {
            writeln!(out, "untagged: {}", familiar(name))?;
        }
        for id in &report.deleted {
            writeln!(out, "deleted: {id}")?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "Total reclaimed space: {}",
        human_size(report.gc.bytes_freed + layers.bytes_freed)
    )?;
    if report.gc.deferred || layers.deferred {
        eprintln!("Some space is freed later: another brig command was pulling or loading images.");
    }
    Ok(())
}

/// Docker's question; an answer other than y/yes (or no answer) is no.
fn confirm(all: bool) -> Result<bool> {
    let what = if all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    };
    eprint!("WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ");
    std::io::stderr().flush()?;
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        eprintln!();
    }
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}
