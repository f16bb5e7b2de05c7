//! `brig import`: a one-layer image from a root filesystem tarball (plain,
//! gzip or zstd), with Dockerfile-style `--change`s; unpacked, ready to run.

use std::fs::File;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use brig_image::{ConfigChange, ImportOptions};
use brig_snapshot::Snapshotter;
use clap::Args;

use super::{parse_platform, parse_reference, warn_if_latest};
use crate::context::Context;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig import rootfs.tar.gz mybase:1.0
  brig import --change 'CMD [\"/bin/sh\"]' --change 'ENV LANG=C.UTF-8' rootfs.tar mybase:1.0
  brig import -c CMD=/bin/sh -c WORKDIR=/srv rootfs.tar
  tar -C rootfs -c . | brig import - mybase:1.0")]
pub struct ImportArgs {
    /// The tarball, or - for stdin.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The name to give the image: NAME[:TAG].
    #[arg(value_name = "REFERENCE")]
    pub reference: Option<String>,
    /// A Dockerfile instruction for the config (CMD, ENTRYPOINT, ENV, EXPOSE,
    /// LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL), as 'CMD ["sh"]' or CMD=sh.
    #[arg(short, long, value_name = "CHANGE")]
    pub change: Vec<String>,
    /// A comment for the image's history.
    #[arg(short, long, value_name = "MESSAGE")]
    pub message: Option<String>,
    /// The platform written into the config (os/arch[/variant]).
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
}

pub fn run(ctx: &Context, args: &ImportArgs) -> Result<()> {
    // Everything the user typed is checked before anything is written.
    let reference = args.reference.as_deref().map(parse_reference).transpose()?;
    let changes = args
        .change
        .iter()
        .map(|c| ConfigChange::parse(c))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = ImportOptions {
        reference: reference.clone(),
        changes,
        message: args.message.clone(),
        platform: parse_platform(args.platform.as_deref())?,
    };
    let from_stdin = args.file.as_os_str() == "-";
    let input: Box<dyn Read> = if from_stdin {
        if std::io::stdin().is_terminal() {
            bail!("import -: stdin is a terminal; pipe a tarball in");
        }
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(File::open(&args.file).with_context(|| format!("import {}", args.file.display()))?)
    };
    if let Some(r) = &reference {
        warn_if_latest(r);
    }
    let images = ctx.images()?;
    let layers = ctx.layers()?;
    let snapshots = ctx.snapshotter(&layers)?;
    let snapshotters: [&dyn Snapshotter; 1] = [&snapshots];
    let record = brig_snapshot::import_and_unpack(&images, &layers, &snapshotters, input, &opts)
        .with_context(|| format!("import {}", args.file.display()))?;
    println!("{}", record.id);
    Ok(())
}
