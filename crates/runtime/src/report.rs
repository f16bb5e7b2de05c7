//! The OCI state document (`state`, hooks' stdin, `list --format json`).

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::state::{Record, Status};

/// The version of the runtime spec this runtime implements.
pub const OCI_VERSION: &str = "1.2.1";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState {
    pub oci_version: &'static str,
    pub id: String,
    pub pid: i32,
    pub status: &'static str,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
}

pub fn oci_state(record: &Record, status: Status) -> OciState {
    let pid = match status {
        Status::Stopped => 0,
        _ => record.init.map_or(0, |p| p.pid),
    };
    OciState {
        oci_version: OCI_VERSION,
        id: record.id.clone(),
        pid,
        status: status.as_str(),
        bundle: record.bundle.clone(),
        rootfs: record.rootfs.clone(),
        created: record.created.clone(),
        owner: String::new(),
        annotations: record.annotations.clone(),
    }
}

/// The state as hooks receive it, with an explicit status.
pub fn oci_state_json(record: &Record, status: &'static str) -> String {
    let mut state = oci_state(record, Status::Created);
    state.status = status;
    serde_json::to_string(&state).unwrap_or_default()
}
