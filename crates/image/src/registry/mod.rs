//! The OCI distribution API: pull, push, login.
//!
//! Blocking HTTP through `ureq` (rustls, no async runtime): a pull already
//! runs its layer downloads on a few threads, which is all the concurrency
//! the engine needs, and it keeps the image crate free of tokio.

mod api;
mod auth;
mod client;
mod helper;
mod pull;
mod push;
mod upload;

pub use auth::{AuthFile, Challenge, Credentials, find_credentials, parse_challenge};
pub use client::{DEFAULT_PUSH_CHUNK_SIZE, RegistryClient, RegistryOptions};
pub use pull::{BlobTee, PendingPull};
pub use push::PushReport;

use crate::error::Result;

/// `brig login`: checks the credentials against the registry, then stores
/// them in `auth_file`.
pub fn login(
    registry: &str,
    creds: &Credentials,
    opts: &RegistryOptions,
    auth_file: &AuthFile,
) -> Result<()> {
    let opts = RegistryOptions {
        credentials: Some(creds.clone()),
        ..opts.clone()
    };
    RegistryClient::new(registry, &opts)?.ping()?;
    auth_file.set(registry, creds)
}

/// `brig logout`: forgets the credentials; returns whether there were any.
pub fn logout(registry: &str, auth_file: &AuthFile) -> Result<bool> {
    auth_file.remove(registry)
}
