//! `brig push`: upload an image (config, layers, manifest) to a registry.

use anyhow::{Context as _, Result};
use brig_image::progress_ui;
use clap::Args;

use super::{RegistryFlags, parse_reference, warn_if_latest};
use crate::context::Context;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig push registry.example.com/team/app:1.2
  brig push --tls-verify=false app:1.2 127.0.0.1:5000/app:1.2")]
pub struct PushArgs {
    /// The image to push: a name, or an ID when DESTINATION is given.
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// Where to push it (default: the image's own name).
    #[arg(value_name = "DESTINATION")]
    pub destination: Option<String>,
    /// No progress; print only the pushed manifest digest.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
}

pub fn run(ctx: &Context, args: &PushArgs) -> Result<()> {
    let target = parse_reference(args.destination.as_deref().unwrap_or(&args.image))?;
    if target.digest().is_some() {
        anyhow::bail!(
            "cannot push to {target}: a destination names a tag, not a digest (the registry computes the digest)"
        );
    }
    let opts = args
        .registry
        .options(target.domain(), brig_image::PlatformSpec::host())?;
    warn_if_latest(&target);
    let images = ctx.images()?;
    let image = images.resolve(&args.image)?;
    if args.destination.is_none() && images.find_by_reference(&target)?.is_none() {
        anyhow::bail!(
            "push {}: the image is named by ID; give a DESTINATION (NAME[:TAG]) to push it to",
            args.image
        );
    }
    if !args.quiet {
        eprintln!("Pushing {}", target.familiar());
    }
    let progress = progress_ui::for_stderr(args.quiet);
    let report = images
        .push(&image, &target, &opts, progress.as_ref())
        .with_context(|| format!("push {}", target.familiar()))?;
    drop(progress);
    let digest = report
        .manifest_digest
        .map(|d| d.to_string())
        .unwrap_or_default();
    if args.quiet {
        println!("{digest}");
    } else {
        let tag = target.tag().unwrap_or(brig_image::reference::DEFAULT_TAG);
        println!(
            "{tag}: digest: {digest} ({} uploaded, {} already there, {} mounted)",
            report.uploaded.len(),
            report.skipped.len(),
            report.mounted.len()
        );
    }
    Ok(())
}
