//! `brig cp`, `brig diff`, `brig export`.

use std::io::Write;
use std::path::Path;

use anyhow::{Result, bail};
use clap::Args;

use super::{engine, fail};
use crate::context::Context;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig cp web:/etc/hosts ./hosts
  brig cp ./site web:/var/www/
  brig cp web:/var/log - | tar -tv     (a tar on stdout)
  tar -c conf | brig cp - web:/etc     (a tar from stdin)")]
pub struct CpArgs {
    /// CONTAINER:PATH or a host path (- for a tar stream).
    pub source: String,
    /// CONTAINER:PATH or a host path (- for a tar stream).
    pub destination: String,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig diff web        (A added, C changed, D deleted)")]
pub struct DiffArgs {
    pub container: String,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig export web > web.tar
  brig export -o web.tar web")]
pub struct ExportArgs {
    /// Write to this file instead of stdout.
    #[arg(short, long)]
    pub output: Option<std::path::PathBuf>,
    pub container: String,
}

/// `CONTAINER:PATH` (a host path has a slash before any colon).
fn container_path(arg: &str) -> Option<(&str, &str)> {
    let (name, path) = arg.split_once(':')?;
    (!name.is_empty() && !name.contains('/') && !path.is_empty()).then_some((name, path))
}

pub fn cp(ctx: &Context, args: &CpArgs) -> Result<()> {
    let engine = engine(ctx)?;
    match (
        container_path(&args.source),
        container_path(&args.destination),
    ) {
        (Some(_), Some(_)) => {
            bail!("cp copies between a container and the host, not between containers")
        }
        (None, None) => bail!("cp: one side must be CONTAINER:PATH"),
        (Some((name, path)), None) if args.destination == "-" => {
            let mut out = std::io::stdout().lock();
            engine.copy_out_tar(name, path, &mut out).map_err(fail)?;
            out.flush()?;
            Ok(())
        }
        (Some((name, path)), None) => engine
            .copy_out(name, path, Path::new(&args.destination))
            .map_err(fail),
        (None, Some((name, path))) if args.source == "-" => engine
            .copy_in_tar(name, path, &mut std::io::stdin().lock())
            .map_err(fail),
        (None, Some((name, path))) => engine
            .copy_in(name, Path::new(&args.source), path)
            .map_err(fail),
    }
}

pub fn diff(ctx: &Context, args: &DiffArgs) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for c in engine(ctx)?.diff(&args.container).map_err(fail)? {
        writeln!(out, "{} {}", c.kind, c.path)?;
    }
    Ok(())
}

pub fn export(ctx: &Context, args: &ExportArgs) -> Result<()> {
    let engine = engine(ctx)?;
    match &args.output {
        Some(path) => {
            let mut f = std::fs::File::create(path)?;
            engine.export(&args.container, &mut f).map_err(fail)?;
            f.sync_all()?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            if std::io::IsTerminal::is_terminal(&out) {
                bail!(
                    "export writes a tar: redirect it (brig export web > web.tar) or use -o FILE"
                );
            }
            engine.export(&args.container, &mut out).map_err(fail)?;
            out.flush()?;
        }
    }
    Ok(())
}
