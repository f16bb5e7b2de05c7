//! The hidden `__monitor` command: brig re-executes itself as a
//! container's monitor (see brig-engine's `monitor` module).

use clap::Args;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  (none: brig starts it itself, with the container in BRIG_MONITOR)")]
pub struct MonitorArgs {}

/// Runs the monitor and exits with its status.
pub fn run() -> ! {
    std::process::exit(brig_engine::run_monitor())
}
