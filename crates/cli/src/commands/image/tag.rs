//! `brig tag SOURCE TARGET`: another name for an image.

use anyhow::{Context as _, Result};
use clap::Args;

use super::{parse_reference, warn_if_latest};
use crate::context::Context;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig tag debian:bookworm registry.example.com/base/debian:12
  brig tag 3f5a1c myapp:1.0")]
pub struct TagArgs {
    /// The image: a name or (short) ID.
    #[arg(value_name = "SOURCE")]
    pub source: String,
    /// The new name: NAME[:TAG].
    #[arg(value_name = "TARGET")]
    pub target: String,
}

pub fn run(ctx: &Context, args: &TagArgs) -> Result<()> {
    let target = parse_reference(&args.target)?;
    if target.digest().is_some() {
        anyhow::bail!(
            "cannot tag {}: a new name takes a tag, not a digest",
            args.target
        );
    }
    warn_if_latest(&target);
    ctx.images()?
        .tag(&args.source, &target)
        .with_context(|| format!("tag {} as {}", args.source, target.familiar()))?;
    Ok(())
}
