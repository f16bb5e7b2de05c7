//! Exit statuses, as Docker's CLI defines them, and how errors are shown.
//!
//! Every failure of brig itself exits 125 (Docker's "daemon error"); 126 and
//! 127 are for a container command that cannot be executed or is not found,
//! and any other status is the container's own. Commands return
//! `anyhow::Error`s; those that must exit with another status carry an
//! [`ExitStatus`] in their chain.

use std::fmt;

/// brig itself failed: bad input, missing image, registry or disk error.
pub const ENGINE_ERROR: i32 = 125;
/// The container's command exists but cannot be executed.
#[allow(dead_code)] // Used by the container commands (issue 7).
pub const CANNOT_EXECUTE: i32 = 126;
/// The container's command was not found.
#[allow(dead_code)] // Used by the container commands (issue 7).
pub const COMMAND_NOT_FOUND: i32 = 127;

/// An error that decides the exit status itself (a container's exit code,
/// 126, 127). With an empty message nothing is printed.
#[derive(Debug)]
#[allow(dead_code)] // Constructed by the container commands (issue 7).
pub struct ExitStatus {
    pub code: i32,
    pub message: String,
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExitStatus {}

/// The exit status for `err`.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    err.chain()
        .find_map(|e| e.downcast_ref::<ExitStatus>())
        .map_or(ENGINE_ERROR, |s| s.code)
}

/// Prints `err` (with its causes and a hint on what to do) to stderr and
/// returns the exit status.
pub fn report(err: &anyhow::Error) -> i32 {
    // The reader went away (`brig ps | head -1`): nothing to tell it; the
    // status a shell gives a program killed by SIGPIPE.
    let broken_pipe = err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if broken_pipe {
        return 141;
    }
    let code = exit_code(err);
    let silent = err
        .downcast_ref::<ExitStatus>()
        .is_some_and(|s| s.message.is_empty());
    if !silent {
        eprintln!("Error: {}", message(err));
        if let Some(hint) = hint(err) {
            eprintln!("{hint}");
        }
    }
    code
}

/// The error and its causes on one line, without repeating a cause that
/// the message above it already contains (library errors often do).
fn message(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// What to do about errors whose message cannot say it (it would need to
/// know the command line).
fn hint(err: &anyhow::Error) -> Option<&'static str> {
    for cause in err.chain() {
        if let Some(brig_image::Error::RegistryUnreachable { .. }) = image_error(cause) {
            return Some(
                "hint: for a local registry without TLS, pass --tls-verify=false; for a private CA, --cert-dir DIR",
            );
        }
    }
    None
}

/// The image error `cause` is or wraps (brig-snapshot passes them through).
fn image_error<'a>(cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a brig_image::Error> {
    match cause.downcast_ref::<brig_snapshot::Error>() {
        Some(brig_snapshot::Error::Image(e)) => Some(e),
        _ => cause.downcast_ref(),
    }
}

/// Prints a command-line parse error (or the help or version that clap
/// returns as an "error") and returns the exit status: 0 for help and
/// version, 125 for a wrong command line, as Docker does.
pub fn usage_error(err: &clap::Error) -> i32 {
    use clap::error::ErrorKind;
    let _ = err.print();
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
        _ => ENGINE_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_exit_125_and_carried_statuses_win() {
        let plain = anyhow::anyhow!("no such image: x");
        assert_eq!(exit_code(&plain), ENGINE_ERROR);
        let carried = anyhow::Error::new(ExitStatus {
            code: COMMAND_NOT_FOUND,
            message: "executable file not found".into(),
        })
        .context("run");
        assert_eq!(exit_code(&carried), COMMAND_NOT_FOUND);
    }

    #[test]
    fn a_closed_output_pipe_ends_quietly_as_sigpipe_would() {
        let err = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("write output");
        assert_eq!(report(&err), 141);
    }

    #[test]
    fn message_skips_causes_the_context_already_says() {
        let err = anyhow::anyhow!("disk full").context("pull busybox: disk full");
        assert_eq!(message(&err), "pull busybox: disk full");
        let err = anyhow::anyhow!("disk full").context("pull busybox");
        assert_eq!(message(&err), "pull busybox: disk full");
    }
}
