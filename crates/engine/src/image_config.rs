//! The parts of an image's config a container starts from, Docker fields
//! included (`Healthcheck` is not in the OCI image spec).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{Error, Result};

/// `config` of an image config blob.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageConfig {
    pub user: Option<String>,
    pub env: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub working_dir: Option<String>,
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    pub labels: Option<BTreeMap<String, String>>,
    pub stop_signal: Option<String>,
    pub healthcheck: Option<ImageHealthcheck>,
}

/// Docker's `HEALTHCHECK` (durations in nanoseconds, 0 = default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageHealthcheck {
    pub test: Option<Vec<String>>,
    pub interval: u64,
    pub timeout: u64,
    pub start_period: u64,
    pub retries: u32,
}

#[derive(Deserialize)]
struct Blob {
    #[serde(default)]
    config: Option<ImageConfig>,
}

impl ImageConfig {
    /// Parses an image config blob (`{"config": {...}, "rootfs": ...}`).
    pub fn from_blob(bytes: &[u8], image_id: &str) -> Result<ImageConfig> {
        let blob: Blob = serde_json::from_slice(bytes)
            .map_err(|e| Error::json(format!("config of image {image_id}"), e))?;
        Ok(blob.config.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_fields_including_healthcheck_parse() {
        let blob = br#"{"architecture":"amd64","config":{"Env":["PATH=/bin"],"Cmd":["sh"],
            "User":"1000","ExposedPorts":{"80/tcp":{}},"StopSignal":"SIGQUIT",
            "Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":5000000000,"Retries":2}},
            "rootfs":{"type":"layers","diff_ids":[]}}"#;
        let c = ImageConfig::from_blob(blob, "x").unwrap();
        assert_eq!(c.cmd.as_deref(), Some(&["sh".to_owned()][..]));
        assert_eq!(c.user.as_deref(), Some("1000"));
        assert_eq!(c.stop_signal.as_deref(), Some("SIGQUIT"));
        let h = c.healthcheck.unwrap();
        assert_eq!((h.interval, h.retries), (5_000_000_000, 2));
        assert_eq!(
            ImageConfig::from_blob(b"{}", "x").unwrap(),
            ImageConfig::default()
        );
    }
}
