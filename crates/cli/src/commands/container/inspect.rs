//! `brig inspect` / `brig container inspect`.

use anyhow::Result;
use clap::Args;
use serde_json::Value;

use super::{engine, fail};
use crate::context::Context;
use crate::output;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig inspect web
  brig inspect --format '{{.State.Status}}' web
  brig inspect -f '{{.State.Health.Status}}' web")]
pub struct InspectArgs {
    /// A template applied to each container, e.g. '{{.State.Pid}}'.
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn run(ctx: &Context, args: &InspectArgs) -> Result<()> {
    let engine = engine(ctx)?;
    let mut docs = Vec::new();
    for name in &args.containers {
        let doc = engine.inspect(name).map_err(|e| {
            if e.kind() == brig_engine::ErrorKind::NotFound {
                anyhow::anyhow!("{e} (for an image, use brig image inspect)")
            } else {
                fail(e)
            }
        })?;
        docs.push(doc);
    }
    let format = args.format.as_deref().filter(|f| *f != "json");
    output::print_document(&mut std::io::stdout().lock(), format, &Value::Array(docs))
}
