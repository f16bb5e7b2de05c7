//! `brig pull`: download an image and unpack its layers, ready to run.

use anyhow::{Context as _, Result};
use brig_image::progress_ui;
use clap::Args;

use super::{RegistryFlags, parse_platform, parse_reference, warn_if_latest};
use crate::context::Context;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig pull debian:bookworm
  brig pull --platform linux/arm64 alpine@sha256:0123...
  brig pull --tls-verify=false 127.0.0.1:5000/app:1.2")]
pub struct PullArgs {
    /// The image: NAME[:TAG] or NAME@DIGEST (a digest pins the content).
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// The platform to choose from a multi-platform image (os/arch[/variant]).
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Print only the image reference: no progress.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
}

pub fn run(ctx: &Context, args: &PullArgs) -> Result<()> {
    let reference = parse_reference(&args.image)?;
    let platform = parse_platform(args.platform.as_deref())?;
    let opts = args.registry.options(reference.domain(), platform)?;
    warn_if_latest(&reference);
    let images = ctx.images()?;
    let layers = ctx.layers()?;
    let before = images
        .find_by_reference(&reference)?
        .map(|r| r.manifest_digest);
    if !args.quiet {
        eprintln!("Pulling {reference}");
    }
    let progress = progress_ui::for_stderr(args.quiet);
    let pulled =
        brig_snapshot::pull_and_unpack(&images, &layers, &reference, &opts, progress.as_ref())
            .with_context(|| format!("pull {}", reference.familiar()))?;
    drop(progress);
    if !args.quiet {
        let manifest = &pulled.image.manifest_digest;
        eprintln!("Digest: {manifest}");
        if before.as_ref() == Some(manifest) {
            eprintln!("Status: Image is up to date for {}", reference.familiar());
        } else {
            eprintln!(
                "Status: Downloaded newer image for {}",
                reference.familiar()
            );
        }
    }
    println!("{reference}");
    Ok(())
}
