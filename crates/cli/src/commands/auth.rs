//! `brig login` / `brig logout`: registry credentials, stored in Docker's
//! config.json format (brig's auth file; Docker's own is read too).

use std::io::{BufRead, IsTerminal, Read};

use anyhow::{Context as _, Result, bail};
use brig_image::{Credentials, PlatformSpec, registry};
use clap::Args;

use super::image::RegistryFlags;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig login registry.example.com
  echo \"$TOKEN\" | brig login -u ci --password-stdin registry.example.com
  brig login --cert-dir ./certs -u me 10.0.0.5:5000")]
pub struct LoginArgs {
    /// The registry host (default: docker.io).
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
    /// User name (asked on the terminal when not given).
    #[arg(short, long, value_name = "USER")]
    pub username: Option<String>,
    /// Password (visible to other users in the process list: prefer --password-stdin).
    #[arg(
        short,
        long,
        value_name = "PASSWORD",
        conflicts_with = "password_stdin"
    )]
    pub password: Option<String>,
    /// Read the password from stdin.
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig logout registry.example.com
  brig logout --authfile ./auth.json 127.0.0.1:5000")]
pub struct LogoutArgs {
    /// The registry host (default: docker.io).
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
    /// Credentials file in Docker's config.json format
    /// [default: $REGISTRY_AUTH_FILE or ~/.config/brig/auth.json].
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<std::path::PathBuf>,
}

/// The registry a server argument names: `https://host/v2/` -> `host`;
/// Docker Hub's aliases -> `docker.io`.
fn registry_name(server: Option<&str>) -> Result<String> {
    let raw = server.unwrap_or("docker.io");
    let host = raw
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    if host.is_empty() || host.contains(char::is_whitespace) {
        bail!(
            "invalid registry {raw:?}: give a host such as registry.example.com or 127.0.0.1:5000"
        );
    }
    Ok(match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_owned(),
        h => h.to_ascii_lowercase(),
    })
}

pub fn login(args: &LoginArgs) -> Result<()> {
    let server = registry_name(args.server.as_deref())?;
    let opts = args.registry.options(&server, PlatformSpec::host())?;
    let username = match &args.username {
        Some(u) => u.clone(),
        None => prompt_line("Username: ")?,
    };
    let password = match (&args.password, args.password_stdin) {
        (Some(p), _) => {
            eprintln!(
                "WARNING! Using --password on the command line is insecure; use --password-stdin."
            );
            p.clone()
        }
        (None, true) => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("read the password from stdin")?;
            text.trim_end_matches(['\n', '\r']).to_owned()
        }
        (None, false) => prompt_password("Password: ")?,
    };
    if username.is_empty() || password.is_empty() {
        bail!("login {server}: user name and password must not be empty");
    }
    let auth_file = args.registry.auth_file();
    registry::login(
        &server,
        &Credentials { username, password },
        &opts,
        &auth_file,
    )
    .with_context(|| format!("login to {server}"))?;
    eprintln!("Credentials saved in {}", auth_file.path().display());
    println!("Login Succeeded");
    Ok(())
}

pub fn logout(args: &LogoutArgs) -> Result<()> {
    let server = registry_name(args.server.as_deref())?;
    let auth_file = brig_image::AuthFile::new(
        args.authfile
            .clone()
            .unwrap_or_else(brig_image::AuthFile::default_path),
    );
    if registry::logout(&server, &auth_file).with_context(|| format!("logout from {server}"))? {
        println!("Removed login credentials for {server}");
    } else {
        println!("Not logged in to {server}");
    }
    Ok(())
}

fn prompt_line(prompt: &str) -> Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!("cannot ask for the user name: stdin is not a terminal; pass -u USER");
    }
    eprint!("{prompt}");
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(line.trim().to_owned())
}

/// Reads a password from the terminal without echoing it.
fn prompt_password(prompt: &str) -> Result<String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!("cannot ask for the password: stdin is not a terminal; use --password-stdin");
    }
    let saved = tcgetattr(&stdin).context("read terminal settings")?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    tcsetattr(&stdin, OptionalActions::Now, &quiet).context("turn off terminal echo")?;
    eprint!("{prompt}");
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let restored = tcsetattr(&stdin, OptionalActions::Now, &saved);
    eprintln!();
    read.context("read the password")?;
    restored.context("restore terminal echo")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

#[cfg(test)]
mod tests {
    use super::registry_name;

    #[test]
    fn server_arguments_name_registries() {
        assert_eq!(registry_name(None).unwrap(), "docker.io");
        assert_eq!(
            registry_name(Some("https://index.docker.io/v1/")).unwrap(),
            "docker.io"
        );
        assert_eq!(
            registry_name(Some("http://127.0.0.1:5000/v2/")).unwrap(),
            "127.0.0.1:5000"
        );
        assert!(registry_name(Some("https://")).is_err());
    }
}
