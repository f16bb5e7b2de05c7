//! brig-runtime: an OCI runtime with runc's command line, so engines that
//! drive runc (Podman, containerd) can drive it unchanged.

mod cli;
mod commands;
mod log;

/// Exit status of a command line that cannot be run (clap's, which engines saw before).
const USAGE_EXIT: i32 = 2;

fn main() {
    let cli = match cli::parse(std::env::args_os().skip(1)) {
        Ok(cli::Parsed::Run(cli)) => *cli,
        Ok(cli::Parsed::Help(text)) => exit_with(0, std::io::stdout(), &text),
        Ok(cli::Parsed::Version) => exit_with(0, std::io::stdout(), &format!("{}\n", cli::VERSION)),
        Err(err) => {
            let text = format!(
                "error: {}\n\n{}\n\nFor more information, try '--help'.\n",
                err.message, err.detail
            );
            exit_with(USAGE_EXIT, std::io::stderr(), &text)
        }
    };
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

/// Writes `text` and exits; a closed pipe (`--help | head`) is not an error.
fn exit_with(code: i32, mut out: impl std::io::Write, text: &str) -> ! {
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    std::process::exit(code)
}
