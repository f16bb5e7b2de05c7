//! `brig history`: the image's build steps, newest first.

use anyhow::Result;
use clap::Args;
use serde_json::{Value, json};

use super::short_id;
use crate::context::Context;
use crate::output::{self, Column, Format};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig history debian:bookworm
  brig history --no-trunc --format json debian:bookworm")]
pub struct HistoryArgs {
    /// The image: a name or (short) ID.
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// Do not truncate IDs and commands.
    #[arg(long)]
    pub no_trunc: bool,
    /// Show only the image ID (for the newest step).
    #[arg(short, long)]
    pub quiet: bool,
    /// table, json (one object per line) or a template such as '{{.CreatedBy}}'.
    #[arg(long, value_name = "FORMAT", default_value = "table")]
    pub format: Format,
}

const COLUMNS: [Column; 5] = [
    Column {
        header: "IMAGE",
        field: "ID",
    },
    Column {
        header: "CREATED",
        field: "CreatedSince",
    },
    Column {
        header: "CREATED BY",
        field: "CreatedBy",
    },
    Column {
        header: "SIZE",
        field: "Size",
    },
    Column {
        header: "COMMENT",
        field: "Comment",
    },
];

/// Longest `CREATED BY` shown without --no-trunc (Docker's width).
const CREATED_BY_WIDTH: usize = 45;

pub fn run(ctx: &Context, args: &HistoryArgs) -> Result<()> {
    let images = ctx.images()?;
    let image = images.resolve(&args.image)?;
    let history = images.history(&image)?;
    // Layer sizes in order: each history step that is not an empty layer
    // made the next layer.
    let mut layer_sizes = images.layers(&image)?.into_iter().map(|l| l.blob_size);
    let now = output::unix_now();
    let mut rows: Vec<Value> = Vec::new();
    for step in &history {
        let size = if step.empty_layer().unwrap_or(false) {
            0
        } else {
            layer_sizes.next().unwrap_or(0)
        };
        let created = step.created().as_deref().and_then(output::parse_rfc3339);
        let mut created_by = step.created_by().clone().unwrap_or_default();
        if !args.no_trunc && created_by.chars().count() > CREATED_BY_WIDTH {
            created_by = created_by.chars().take(CREATED_BY_WIDTH - 3).collect();
            created_by.push_str("...");
        }
        rows.push(json!({
            "ID": "<missing>",
            "CreatedAt": created.map(brig_image::import::rfc3339_utc).unwrap_or_default(),
            "CreatedSince": created.map(|c| output::human_duration_since(c, now)).unwrap_or_else(|| "N/A".to_owned()),
            "CreatedBy": created_by,
            "Size": output::human_size(size),
            "Comment": step.comment().clone().unwrap_or_default(),
        }));
    }
    rows.reverse();
    let id = if args.no_trunc {
        image.id.to_string()
    } else {
        short_id(&image.id)
    };
    match rows.first_mut() {
        Some(newest) => newest["ID"] = json!(id),
        None => rows.push(json!({"ID": id, "CreatedSince": "N/A", "CreatedBy": "", "Size": output::human_size(image.size), "Comment": ""})),
    }
    let mut out = std::io::stdout().lock();
    if args.quiet {
        use std::io::Write;
        for row in &rows {
            writeln!(out, "{}", row["ID"].as_str().unwrap_or_default())?;
        }
        return Ok(());
    }
    output::print_rows(&mut out, &args.format, &COLUMNS, &rows)
}
