//! brig-runtime: an OCI runtime with runc's command line, so engines that
//! drive runc (Podman, containerd) can drive it unchanged.

mod cli;
mod commands;
mod log;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let logger = log::Logger::new(
        cli.global.log.as_deref(),
        cli.global.log_format,
        cli.global.debug,
    );
    let code = match commands::dispatch(&cli.global, cli.command) {
        Ok(code) => code,
        Err(err) => {
            logger.error(&err);
            1
        }
    };
    std::process::exit(code)
}
