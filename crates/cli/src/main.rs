//! brig: a daemonless container engine with Docker's command line.
//!
//! Layout (the engine's container commands join it later):
//! - [`cli`]: the top-level parser and the global flags (`--root`, `--runroot`);
//! - [`commands`]: one module per command group (`commands/image/*.rs`, ...),
//!   each a clap `Args` struct and a `run` function that calls the libraries;
//! - [`output`]: tables, `--format json|TEMPLATE`, `-q`, human sizes and times;
//! - [`exit`]: error -> exit status (125 engine, 126 cannot execute,
//!   127 not found, else the container's own) and the error message;
//! - [`context`]: the store paths and the hooks the engine will fill in.

mod cli;
mod commands;
mod context;
mod exit;
mod output;

use clap::Parser;

fn main() {
    // A container's monitor lives as long as its container: it skips
    // building the whole command tree, which would stay in its memory.
    if std::env::args_os().nth(1).is_some_and(|a| a == "__monitor") {
        std::process::exit(brig_engine::run_monitor());
    }
    brig_engine::timing::mark("cli: main");
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => std::process::exit(exit::usage_error(&err)),
    };
    let ctx = match context::Context::new(&cli.global) {
        Ok(ctx) => ctx,
        Err(err) => std::process::exit(exit::report(&err)),
    };
    let code = match commands::dispatch(&ctx, cli.command) {
        Ok(()) => 0,
        Err(err) => exit::report(&err),
    };
    brig_engine::timing::mark("cli: exit");
    std::process::exit(code)
}
