//! brig-monitor: one per running container (Podman's conmon in brig).
//!
//! The `brig` command starts it (see `brig_engine::monitor`); it is a
//! binary of its own so that what stays resident for the container's whole
//! life is only the monitor's code: no command-line parser, no registry
//! client. `build.rs` links it position-dependent (no PIE), so no page
//! of its own code or data is dirtied by relocations at start.

fn main() {
    std::process::exit(brig_engine::run_monitor());
}
