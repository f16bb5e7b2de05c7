//! `brig load`: images from a docker-archive, an OCI archive (plain, gzip
//! or zstd) or an OCI layout directory, from a path or stdin; their layers
//! are unpacked so they are ready to run.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use brig_image::{LoadOptions, Reference, canonical_name, progress_ui};
use brig_snapshot::{LoadSource, Snapshotter};
use clap::Args;

use super::familiar;
use crate::context::Context;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig load -i debian.tar
  brig load -i ./oci-layout-dir
  skopeo copy docker://alpine:3.20 docker-archive:/dev/stdout | brig load
  zstd -dc image.tar.zst | brig load -q")]
pub struct LoadArgs {
    /// Read from this archive or OCI layout directory instead of stdin.
    #[arg(short, long, value_name = "PATH")]
    pub input: Option<PathBuf>,
    /// No progress; print only what was loaded.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(ctx: &Context, args: &LoadArgs) -> Result<()> {
    let stdin = std::io::stdin();
    match &args.input {
        Some(path) => {
            // Checked before the store is opened: a typo creates nothing.
            std::fs::metadata(path).with_context(|| format!("load {}", path.display()))?;
        }
        None if stdin.is_terminal() => bail!(
            "load: stdin is a terminal; give an archive with -i PATH or pipe one in (brig load < image.tar)"
        ),
        None => {}
    }
    let images = ctx.images()?;
    let layers = ctx.layers()?;
    let snapshots = ctx.snapshotter(&layers)?;
    let snapshotters: [&dyn Snapshotter; 1] = [&snapshots];
    let progress = progress_ui::for_stderr(args.quiet);
    let mut input = stdin;
    let (source, what) = match &args.input {
        Some(path) => (LoadSource::Path(path), path.display().to_string()),
        None => (LoadSource::Reader(&mut input), "stdin".to_owned()),
    };
    let loaded = brig_snapshot::load_and_unpack(
        &images,
        &layers,
        &snapshotters,
        source,
        &LoadOptions::default(),
        progress.as_ref(),
    )
    .with_context(|| format!("load {what}"))?;
    drop(progress);
    if loaded.is_empty() {
        bail!("load {what}: it holds no image for this platform");
    }
    let mut out = std::io::stdout().lock();
    for image in &loaded {
        // The names the archive gave, not others the image already had.
        let names: Vec<String> = image
            .source_names
            .iter()
            .filter_map(|n| Reference::parse(n).ok())
            .map(|r| canonical_name(&r))
            .filter(|n| image.record.names.contains(n) && !n.contains('@'))
            .collect();
        if names.is_empty() {
            writeln!(out, "Loaded image ID: {}", image.record.id)?;
        }
        for name in names {
            writeln!(out, "Loaded image: {}", familiar(&name))?;
        }
    }
    Ok(())
}
