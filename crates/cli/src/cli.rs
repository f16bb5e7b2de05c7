//! The top of the command line: global flags and the command tree.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser};

use crate::commands::Command;

/// Examples shown at the end of `brig --help`.
const EXAMPLES: &str = "\
Examples:
  brig pull debian:bookworm                 pull an image and unpack it, ready to run
  brig images                               list images
  brig --root /tmp/store load -i img.tar    use a separate store
  brig completion bash > /etc/bash_completion.d/brig";

/// A daemonless container engine with Docker's command line.
#[derive(Debug, Parser)]
#[command(
    name = "brig",
    version,
    propagate_version = true,
    after_help = EXAMPLES,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every `brig` command accepts, before or after the command name.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global Options")]
pub struct GlobalOpts {
    /// Where brig keeps images, layers, containers and its database (brig.db)
    /// [default: the config file's engine.root, else /var/lib/brig].
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Where brig keeps state that does not survive a reboot (locks, runtime state)
    /// [default: the config file's engine.runroot, else /run/brig].
    #[arg(long, global = true, value_name = "DIR")]
    pub runroot: Option<PathBuf>,
    /// The configuration file: engine.root, engine.runroot, engine.runtime and
    /// [containers] defaults (userns, pids_limit, log_opts) [default: /etc/brig/brig.toml
    /// when it exists].
    #[arg(long, global = true, value_name = "PATH", env = "BRIG_CONFIG")]
    pub config: Option<PathBuf>,
    /// OCI runtime for new containers: brig-runtime (default), runc, crun or a path.
    #[arg(long, global = true, value_name = "RUNTIME", env = "BRIG_RUNTIME")]
    pub runtime: Option<String>,
}

/// The full command definition (for completions and man pages).
pub fn command() -> clap::Command {
    Cli::command()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_definitions_are_consistent() {
        command().debug_assert();
    }

    #[test]
    fn every_command_has_an_example_in_its_help() {
        fn check(cmd: &clap::Command, path: &str) {
            // clap's own `help` subcommands (added by `build`).
            if cmd.get_name() == "help" {
                return;
            }
            let path = format!("{path} {}", cmd.get_name());
            if cmd.has_subcommands() {
                for sub in cmd.get_subcommands() {
                    check(sub, &path);
                }
            }
            let help = cmd
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(
                help.contains("Example"),
                "`{path}` has no example in its help"
            );
        }
        // Subcommands' arguments (and help) are deferred until built.
        let mut all = command();
        all.build();
        check(&all, "");
    }
}
