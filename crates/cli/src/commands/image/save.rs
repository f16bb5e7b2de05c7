//! `brig save`: images to a docker-archive (default), an OCI archive or an
//! OCI layout directory, to a file or stdout.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use brig_image::{ImageStore, Reference, SaveFormat, SaveItem, canonical_name};
use clap::{Args, ValueEnum};

use crate::context::Context;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig save -o debian.tar debian:bookworm
  brig save --format oci-archive -o app.tar app:1 app:2
  brig save --format oci-dir -o ./layout app:1
  brig save app:1 | gzip > app.tar.gz")]
pub struct SaveArgs {
    /// Images: names or (short) IDs. An image saved by ID has no name in the archive.
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
    /// Write to this file (or directory for oci-dir) instead of stdout.
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// The format to write.
    #[arg(long, value_enum, default_value_t = ArchiveFormat::DockerArchive)]
    pub format: ArchiveFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ArchiveFormat {
    /// docker save / podman save format (manifest.json, repositories).
    DockerArchive,
    /// A tar of an OCI image layout.
    OciArchive,
    /// An OCI image layout directory.
    OciDir,
}

impl From<ArchiveFormat> for SaveFormat {
    fn from(f: ArchiveFormat) -> Self {
        match f {
            ArchiveFormat::DockerArchive => SaveFormat::DockerArchive,
            ArchiveFormat::OciArchive => SaveFormat::OciArchive,
            ArchiveFormat::OciDir => SaveFormat::OciDir,
        }
    }
}

pub fn run(ctx: &Context, args: &SaveArgs) -> Result<()> {
    let format = SaveFormat::from(args.format);
    if args.output.is_none() {
        if format == SaveFormat::OciDir {
            bail!("save --format oci-dir writes a directory: give it with -o DIR");
        }
        if std::io::stdout().is_terminal() {
            bail!(
                "save: refusing to write an archive to a terminal; use -o FILE or redirect stdout"
            );
        }
    }
    if let Some(path) = &args.output
        && format == SaveFormat::OciDir
        && path.exists()
    {
        bail!(
            "save: {} exists; oci-dir writes a new directory",
            path.display()
        );
    }
    let images = ctx.images()?;
    let items = args
        .images
        .iter()
        .map(|name| save_item(&images, name))
        .collect::<Result<Vec<_>>>()?;
    match &args.output {
        Some(path) => images
            .save(&items, format, path)
            .with_context(|| format!("save to {}", path.display()))?,
        None => images
            .save_to_writer(&items, format, std::io::stdout().lock())
            .context("save to stdout")?,
    }
    Ok(())
}

/// The image `name` resolves to, saved under `name` when it is one of the
/// image's names (Docker saves an image named by ID without names).
fn save_item(images: &ImageStore, name: &str) -> Result<SaveItem> {
    let image = images.resolve(name)?;
    let names = Reference::parse(name)
        .ok()
        .filter(|r| image.names.contains(&canonical_name(r)))
        .into_iter()
        .collect();
    Ok(SaveItem { image, names })
}
