//! Loading and validating an OCI bundle: `config.json` plus a root filesystem.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::error::{Error, Result};

/// A bundle whose configuration parsed and passed validation.
#[derive(Debug)]
pub struct Bundle {
    /// Absolute path of the bundle directory.
    pub dir: PathBuf,
    /// Absolute, symlink-free path of the root filesystem.
    pub rootfs: PathBuf,
    pub spec: Spec,
}

impl Bundle {
    pub fn load(dir: &Path) -> Result<Self> {
        let dir = std::path::absolute(dir).map_err(|e| Error::io("bundle directory", dir, e))?;
        let config = dir.join("config.json");
        let spec = parse_config(&config)?;
        check_version(&config, spec.version())?;
        let root = spec
            .root()
            .as_ref()
            .ok_or_else(|| config_error(&config, "root", "is required"))?;
        let rootfs = dir.join(root.path());
        let rootfs = rootfs.canonicalize().map_err(|e| Error::Config {
            file: config.clone(),
            field: "root.path".into(),
            reason: format!("{}: {e}", rootfs.display()),
        })?;
        if !rootfs.is_dir() {
            return Err(config_error(&config, "root.path", "is not a directory"));
        }
        if spec.process().is_none() {
            return Err(config_error(&config, "process", "is required"));
        }
        Ok(Bundle { dir, rootfs, spec })
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }
}

/// Parses config.json, naming the exact field at fault on error.
pub fn parse_config(path: &Path) -> Result<Spec> {
    let data = std::fs::read(path).map_err(|e| Error::io("cannot open", path, e))?;
    crate::json_path::from_slice(&data).map_err(|e| Error::Config {
        file: path.to_path_buf(),
        field: match e.path {
            p if p.is_empty() => "(document)".to_owned(),
            p => p,
        },
        reason: e.reason,
    })
}

pub(crate) fn config_error(file: &Path, field: &str, reason: &str) -> Error {
    Error::Config {
        file: file.to_path_buf(),
        field: field.to_string(),
        reason: reason.to_string(),
    }
}

/// Accepts any well-formed 1.x version, as runc does.
fn check_version(file: &Path, version: &str) -> Result<()> {
    let bad = |reason: String| Error::Config {
        file: file.to_path_buf(),
        field: "ociVersion".into(),
        reason,
    };
    if version.is_empty() {
        return Err(bad("is required (for example \"1.2.0\")".into()));
    }
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !numeric {
        return Err(bad(format!(
            "{version:?} is not a semantic version like \"1.2.0\""
        )));
    }
    if parts[0] != "1" {
        return Err(bad(format!(
            "version {version} is not supported; this runtime implements 1.x"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        let f = Path::new("config.json");
        for ok in ["1.0.0", "1.2.1", "1.0.2-dev", "1.3.0+git"] {
            assert!(check_version(f, ok).is_ok(), "{ok}");
        }
        for bad in ["", "2.0.0", "1.0", "garbage", "1.x.0"] {
            let err = check_version(f, bad).unwrap_err().to_string();
            assert!(err.contains("ociVersion"), "{err}");
        }
    }

    #[test]
    fn malformed_config_names_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"ociVersion":"1.0.0","root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"pid"},{"type":"bogus"}]}}"#,
        )
        .unwrap();
        let err = parse_config(&path).unwrap_err().to_string();
        assert!(err.contains("linux.namespaces[1].type"), "{err}");
        assert!(err.contains("config.json"), "{err}");
    }

    #[test]
    fn missing_config_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = Bundle::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("config.json"), "{err}");
    }
}
