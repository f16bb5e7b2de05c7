//! `brig image inspect`: images as Docker's JSON (`Id`, `RepoTags`,
//! `RepoDigests`, `Config`, `RootFS`, ...).

use anyhow::{Context as _, Result};
use brig_image::{ImageRecord, ImageStore, Provider};
use brig_snapshot::LayerStore;
use clap::Args;
use serde_json::{Value, json};

use super::familiar;
use crate::context::Context;
use crate::output;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig image inspect debian:bookworm
  brig image inspect --format '{{.Config.Cmd}}' debian:bookworm
  brig image inspect --format '{{json .RootFS}}' 3f5a1c")]
pub struct InspectArgs {
    /// Images: names or (short) IDs.
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
    /// A template applied to each image, e.g. '{{.Id}}' or '{{json .Config}}'.
    #[arg(short, long, value_name = "TEMPLATE")]
    pub format: Option<String>,
}

pub fn run(ctx: &Context, args: &InspectArgs) -> Result<()> {
    if let Some(t) = &args.format {
        t.parse::<output::Format>()
            .map_err(|e| anyhow::anyhow!("--format: {e}"))?;
    }
    let images = ctx.images()?;
    let layers = ctx.layers()?;
    let mut docs = Vec::new();
    for name in &args.images {
        let record = images.resolve(name)?;
        docs.push(
            document(&images, &layers, &record).with_context(|| format!("inspect image {name}"))?,
        );
    }
    let mut out = std::io::stdout().lock();
    output::print_document(&mut out, args.format.as_deref(), &Value::Array(docs))
}

/// The Docker-shaped description of one image.
pub fn document(images: &ImageStore, layers: &LayerStore, image: &ImageRecord) -> Result<Value> {
    let config: Value = serde_json::from_slice(&images.config_bytes(image)?)
        .with_context(|| format!("image config {}", image.id))?;
    let chain: Vec<_> = images.layers(image)?;
    let lower: Vec<String> = chain
        .iter()
        .rev()
        .map(|l| layers.path(&l.chain_id).display().to_string())
        .collect();
    let field = |name: &str| config.get(name).cloned().unwrap_or(Value::Null);
    let text = |name: &str| {
        config
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let mut doc = json!({
        "Id": image.id.to_string(),
        "RepoTags": image.repo_tags().map(familiar).collect::<Vec<_>>(),
        "RepoDigests": image.repo_digests().map(familiar).collect::<Vec<_>>(),
        "Parent": "",
        "Comment": text("comment"),
        "Created": image.created.clone().unwrap_or_default(),
        "DockerVersion": text("docker_version"),
        "Author": text("author"),
        "Config": field("config"),
        "Architecture": image.architecture.clone().unwrap_or_default(),
        "Os": image.os.clone().unwrap_or_default(),
        "Size": image.size,
        "GraphDriver": {
            "Name": "overlay",
            "Data": {"LowerDir": lower.join(":")},
        },
        "RootFS": {
            "Type": "layers",
            "Layers": chain.iter().map(|l| l.diff_id.to_string()).collect::<Vec<_>>(),
        },
        "Metadata": {"LastTagTime": brig_image::import::rfc3339_utc(image.added_at)},
        "Descriptor": {
            "mediaType": image.manifest_media_type,
            "digest": image.manifest_digest.to_string(),
            "size": images.content().blob_size(&image.manifest_digest)?.unwrap_or(0),
        },
    });
    if let Some(variant) = config.get("variant") {
        doc["Variant"] = variant.clone();
    }
    Ok(doc)
}
