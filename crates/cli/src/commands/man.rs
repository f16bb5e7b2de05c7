//! `brig man --dir DIR`: man pages (brig.1, brig-pull.1, brig-image-ls.1,
//! ...) rendered from the command definitions.
//!
//! A command rather than a build step: the pages come from exactly the
//! binary being installed (no second copy of the definitions in build.rs),
//! normal builds stay fast, and packagers run one documented command
//! (`brig man --dir /usr/share/man/man1`).

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig man --dir /usr/local/share/man/man1
  brig man --dir ./man && man ./man/brig-pull.1")]
pub struct ManArgs {
    /// The directory to write the pages into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
}

pub fn run(args: &ManArgs) -> Result<()> {
    std::fs::create_dir_all(&args.dir).with_context(|| format!("create {}", args.dir.display()))?;
    // Subcommands are named `brig-image-ls` etc. so each page has its own file.
    let cmd = crate::cli::command().flatten_help(false);
    let mut cmd = cmd;
    cmd.build();
    let cmd = name_pages(cmd, "");
    clap_mangen::generate_to(cmd, &args.dir)
        .with_context(|| format!("write man pages into {}", args.dir.display()))?;
    eprintln!("Man pages written to {}", args.dir.display());
    Ok(())
}

/// Gives every subcommand a display name with its parents (`brig-image-ls`)
/// so its page file and title are unique.
fn name_pages(cmd: clap::Command, parent: &str) -> clap::Command {
    let name = if parent.is_empty() {
        cmd.get_name().to_owned()
    } else {
        format!("{parent}-{}", cmd.get_name())
    };
    let subs: Vec<clap::Command> = cmd.get_subcommands().cloned().collect();
    let mut cmd = cmd.display_name(name.clone());
    for sub in subs {
        let sub_name = sub.get_name().to_owned();
        let named = name_pages(sub, &name);
        cmd = cmd.mut_subcommand(sub_name, |_| named);
    }
    cmd
}
