//! The OCI state JSON that `state ID` prints and hooks read on stdin.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The fields of the OCI state that every runtime must print.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct State {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub pid: Option<i64>,
    pub bundle: String,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl State {
    /// Parses the state JSON, naming what was wrong with it.
    pub fn parse(text: &str) -> Result<State, String> {
        serde_json::from_str(text).map_err(|e| format!("invalid state JSON ({e}): {text}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_runc_state() {
        let s = State::parse(
            r#"{"ociVersion":"1.0.2-dev","id":"c","pid":42,"status":"running","bundle":"/b","rootfs":"/b/rootfs","created":"x","owner":""}"#,
        )
        .unwrap();
        assert_eq!(s.pid, Some(42));
        assert_eq!(s.status, "running");
        assert!(s.annotations.is_none());
        assert!(State::parse("{}").is_err());
    }
}
