//! `brig completion SHELL`: completion scripts generated from the command
//! definitions, so they never fall behind the commands.

use anyhow::Result;
use clap::Args;
use clap_complete::Shell;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig completion bash > /etc/bash_completion.d/brig
  brig completion zsh > \"${fpath[1]}/_brig\"
  brig completion fish > ~/.config/fish/completions/brig.fish")]
pub struct CompletionArgs {
    /// The shell: bash, zsh, fish (also elvish, powershell).
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

pub fn run(args: &CompletionArgs) -> Result<()> {
    let mut cmd = crate::cli::command();
    clap_complete::generate(args.shell, &mut cmd, "brig", &mut std::io::stdout().lock());
    Ok(())
}
