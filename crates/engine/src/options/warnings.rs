//! Warnings for choices that weaken a container (`run` prints them; they
//! are kept in the config for `inspect` and `audit`).

use crate::config::{ContainerConfig, MountConfig};

/// Words in variable names that suggest a secret value.
const SECRET_WORDS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
    "ACCESS_KEY",
    "CREDENTIAL",
];

/// Socket file names of container engines: a bind mount of one hands the
/// container control of the host.
const ENGINE_SOCKETS: &[&str] = &[
    "docker.sock",
    "podman.sock",
    "containerd.sock",
    "crio.sock",
    "brig.sock",
];

/// Whether an environment variable name looks like it holds a secret.
pub fn secret_like_env(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|w| upper.contains(w))
}

/// A warning for an image referenced by `:latest` or without a tag (an
/// image ID or a digest pins the content and gets none).
pub fn image_reference_warning(reference: &str) -> Option<String> {
    let hex = reference.strip_prefix("sha256:").unwrap_or(reference);
    if reference.contains('@') || (hex.len() >= 12 && hex.bytes().all(|b| b.is_ascii_hexdigit())) {
        return None;
    }
    let last = reference.rsplit('/').next().unwrap_or(reference);
    let tag = last.split_once(':').map(|(_, t)| t);
    match tag {
        Some("latest") => Some(format!(
            "image {reference} is referenced by :latest: pin a version tag or a digest (NAME@sha256:...) so the container does not change under you"
        )),
        None => Some(format!(
            "image {reference} has no tag (so :latest): pin a version tag or a digest (NAME@sha256:...) so the container does not change under you"
        )),
        Some(_) => None,
    }
}

/// Every warning for this configuration; `user_env` are the variables the
/// user set (not the image's).
pub fn warnings_for(config: &ContainerConfig, image: &str, user_env: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    if config.security.privileged {
        out.push(
            "--privileged gives the container every capability, every host device and no seccomp or masked paths: it can take over the host; grant only what it needs with --cap-add and --device".to_owned(),
        );
    }
    for m in &config.mounts {
        if let MountConfig::Bind { source, .. } = m
            && source
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| ENGINE_SOCKETS.contains(&n))
        {
            out.push(format!(
                "bind mount of the container engine socket {}: the container can control the engine and through it the host",
                source.display()
            ));
        }
    }
    for var in user_env {
        let name = var.split('=').next().unwrap_or(var);
        if secret_like_env(name) {
            out.push(format!(
                "environment variable {name} looks like a secret: environment values are visible to every process in the container and in inspect output elsewhere; use brig secret create and --secret instead"
            ));
        }
    }
    if let Some(w) = image_reference_warning(image) {
        out.push(w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_and_untagged_references_warn() {
        assert!(image_reference_warning("busybox").is_some());
        assert!(image_reference_warning("busybox:latest").is_some());
        assert!(image_reference_warning("localhost:5000/app").is_some());
        assert!(image_reference_warning("busybox:1.36").is_none());
        assert!(image_reference_warning("localhost:5000/app:v1").is_none());
        assert!(image_reference_warning("busybox@sha256:abcd").is_none());
        assert!(image_reference_warning("0123456789abcdef").is_none());
    }

    #[test]
    fn secret_like_names() {
        assert!(secret_like_env("DB_PASSWORD"));
        assert!(secret_like_env("github_token"));
        assert!(!secret_like_env("PATH"));
    }
}
