//! `brig rmi` / `brig image rm`: untag, and delete images with their blobs
//! and unpacked layers once nothing needs them.

use std::io::Write;

use anyhow::{Result, bail};
use clap::Args;

use super::familiar;
use crate::context::Context;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig rmi debian:bookworm
  brig rmi -f 3f5a1c
  brig rmi $(brig images -q --filter dangling=true)")]
pub struct RemoveArgs {
    /// Images: names or (short) IDs.
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
    /// Remove images that containers use (only their names), or that have several names.
    #[arg(short, long)]
    pub force: bool,
}

pub fn run(ctx: &Context, args: &RemoveArgs) -> Result<()> {
    let images = ctx.images()?;
    let mut out = std::io::stdout().lock();
    let mut failures: Vec<anyhow::Error> = Vec::new();
    for name in &args.images {
        let users = |image: &brig_image::ImageRecord| {
            // A failure to ask counts as "in use": never delete blindly.
            ctx.users()
                .users_of(image)
                .unwrap_or_else(|e| vec![format!("<unknown: {e}>")])
        };
        match images.remove(name, args.force, users) {
            Ok(report) => {
                for n in &report.untagged {
                    writeln!(out, "Untagged: {}", familiar(n))?;
                }
                for id in &report.deleted {
                    writeln!(out, "Deleted: {id}")?;
                }
            }
            Err(e) => failures.push(e.into()),
        }
    }
    ctx.collect_layers(&images)?;
    if failures.len() == 1 && args.images.len() == 1 {
        return Err(failures.remove(0));
    }
    for e in &failures {
        eprintln!("Error: {e}");
    }
    if !failures.is_empty() {
        bail!(
            "{} of {} images could not be removed (see above)",
            failures.len(),
            args.images.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ImageUsers;
    use brig_image::{Digest, ImageRecord, ImportOptions, Reference};
    use std::collections::HashSet;

    /// Every image is used by the container "web".
    struct WebUsesEverything;

    impl ImageUsers for WebUsesEverything {
        fn users_of(&self, _image: &ImageRecord) -> Result<Vec<String>> {
            Ok(vec!["web".to_owned()])
        }
        fn images_in_use(&self) -> Result<HashSet<Digest>> {
            Ok(HashSet::new())
        }
    }

    fn tiny_tar() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(2);
        h.set_mode(0o644);
        b.append_data(&mut h, "hi", &b"hi"[..]).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn images_in_use_are_kept_unless_forced_and_then_only_untagged() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = crate::context::Context::with_users(dir.path(), Box::new(WebUsesEverything));
        let store = ctx.images().unwrap();
        let opts = ImportOptions {
            reference: Some(Reference::parse("app:1").unwrap()),
            ..ImportOptions::default()
        };
        let image = store.import(&tiny_tar()[..], &opts).unwrap();
        let args = |force| RemoveArgs {
            images: vec!["app:1".to_owned()],
            force,
        };
        let err = run(&ctx, &args(false)).unwrap_err();
        assert!(err.to_string().contains("web"), "{err}");
        assert!(store.resolve("app:1").is_ok());
        run(&ctx, &args(true)).unwrap();
        assert!(store.resolve("app:1").is_err());
        // Untagged, but kept for the container that uses it.
        assert!(store.resolve(image.id.as_ref()).is_ok());
    }
}
