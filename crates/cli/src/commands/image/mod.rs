//! `brig image ...` and its shortcuts: the image store, registries and
//! archives, through brig-image and brig-snapshot.

pub mod history;
pub mod import;
pub mod inspect;
pub mod list;
pub mod load;
pub mod prune;
pub mod pull;
pub mod push;
pub mod remove;
pub mod save;
pub mod tag;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use brig_image::{AuthFile, PlatformSpec, Reference, RegistryOptions};
use clap::{Args, Subcommand};

use crate::context::Context;

pub const EXAMPLES: &str = "\
Examples:
  brig image pull alpine:3.20
  brig image ls --format json
  brig image rm alpine:3.20";

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ImageCommand {
    /// List images.
    #[command(alias = "list")]
    Ls(list::ListArgs),
    /// Download an image from a registry and unpack it, ready to run.
    Pull(pull::PullArgs),
    /// Upload an image to a registry.
    Push(push::PushArgs),
    /// Show images' details as JSON.
    Inspect(inspect::InspectArgs),
    /// Show the history of an image.
    History(history::HistoryArgs),
    /// Give an image another name.
    Tag(tag::TagArgs),
    /// Remove images.
    #[command(alias = "remove", alias = "rmi")]
    Rm(remove::RemoveArgs),
    /// Remove images without a name, or with -a every image no container uses.
    Prune(prune::PruneArgs),
    /// Load images from a docker-archive, OCI archive or OCI layout (file, directory or stdin).
    Load(load::LoadArgs),
    /// Save images to a docker-archive, OCI archive or OCI layout directory.
    Save(save::SaveArgs),
    /// Create an image from a root filesystem tarball.
    Import(import::ImportArgs),
}

pub fn dispatch(ctx: &Context, command: ImageCommand) -> Result<()> {
    match command {
        ImageCommand::Ls(a) => list::run(ctx, &a),
        ImageCommand::Pull(a) => pull::run(ctx, &a),
        ImageCommand::Push(a) => push::run(ctx, &a),
        ImageCommand::Inspect(a) => inspect::run(ctx, &a),
        ImageCommand::History(a) => history::run(ctx, &a),
        ImageCommand::Tag(a) => tag::run(ctx, &a),
        ImageCommand::Rm(a) => remove::run(ctx, &a),
        ImageCommand::Prune(a) => prune::run(ctx, &a),
        ImageCommand::Load(a) => load::run(ctx, &a),
        ImageCommand::Save(a) => save::run(ctx, &a),
        ImageCommand::Import(a) => import::run(ctx, &a),
    }
}

// How to reach a registry: the flags `pull`, `push` and `login` share (a
// comment, not a doc comment: that would become their help text).
#[derive(Debug, Clone, Args)]
pub struct RegistryFlags {
    /// Verify the registry's TLS certificate; `--tls-verify=false` also allows plain HTTP.
    #[arg(
        long,
        value_name = "BOOL",
        default_value_t = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub tls_verify: bool,
    /// Trust the CA certificates (*.crt, *.pem) in this directory
    /// [default: /etc/brig/certs.d/REGISTRY when it exists].
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// Credentials file in Docker's config.json format
    /// [default: $REGISTRY_AUTH_FILE, ~/.config/brig/auth.json, then ~/.docker/config.json].
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
}

/// Where certificates for a registry live unless --cert-dir says otherwise.
const DEFAULT_CERTS_D: &str = "/etc/brig/certs.d";

impl RegistryFlags {
    /// Registry options for `registry` (a reference's domain).
    pub fn options(&self, registry: &str, platform: PlatformSpec) -> Result<RegistryOptions> {
        let mut opts = RegistryOptions {
            tls_verify: self.tls_verify,
            platform,
            ..RegistryOptions::default()
        };
        if let Some(file) = &self.authfile {
            opts.auth_files = vec![AuthFile::new(file)];
        }
        let dir = match &self.cert_dir {
            Some(dir) => Some(dir.clone()),
            None => Some(Path::new(DEFAULT_CERTS_D).join(registry)).filter(|d| d.is_dir()),
        };
        if let Some(dir) = dir {
            opts.ca_files = ca_files(&dir)?;
        }
        Ok(opts)
    }

    /// The auth file `login` and `logout` write.
    pub fn auth_file(&self) -> AuthFile {
        AuthFile::new(self.authfile.clone().unwrap_or_else(AuthFile::default_path))
    }
}

/// The CA files of a certificate directory (Docker's and Podman's
/// `certs.d` convention: `*.crt`; `*.pem` too).
fn ca_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("--cert-dir {}: cannot list it", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("--cert-dir {}: cannot list it", dir.display()))?
            .path();
        if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("crt" | "pem")
        ) {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        anyhow::bail!(
            "--cert-dir {}: no CA certificate (*.crt or *.pem) in it",
            dir.display()
        );
    }
    Ok(files)
}

/// Parses a reference given on the command line.
pub fn parse_reference(text: &str) -> Result<Reference> {
    Reference::parse(text).map_err(|e| {
        let named = e.to_string().contains(text);
        let err = anyhow::Error::new(e);
        if named {
            err
        } else {
            err.context(format!("invalid image reference {text:?}"))
        }
    })
}

/// Parses `--platform` (default: this machine's).
pub fn parse_platform(text: Option<&str>) -> Result<PlatformSpec> {
    Ok(match text {
        Some(t) => PlatformSpec::parse(t)?,
        None => PlatformSpec::host(),
    })
}

/// Warns on stderr that `reference` follows the moving `latest` tag.
pub fn warn_if_latest(reference: &Reference) {
    if reference.uses_latest() {
        let how = if reference.tag_implied() {
            "names no tag, so it means"
        } else {
            "uses"
        };
        eprintln!(
            "WARNING: {} {how} the tag \"latest\", which moves; pin a version tag or a digest (NAME@sha256:...) for reproducible results",
            reference.familiar()
        );
    }
}

/// Docker's short form of a canonical stored name (`busybox:latest`).
pub fn familiar(name: &str) -> String {
    Reference::parse(name).map_or_else(|_| name.to_owned(), |r| r.familiar())
}

/// The 12-digit short form of an image ID.
pub fn short_id(id: &brig_image::Digest) -> String {
    let hex = id.digest();
    hex[..hex.len().min(12)].to_owned()
}
