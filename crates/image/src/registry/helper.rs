//! Docker credential helpers: `config.json` may name a program per registry
//! (`credHelpers: {"HOST": "NAME"}`) or one for all (`credsStore: "NAME"`);
//! `docker-credential-NAME get|store|erase` speaks JSON on stdin/stdout
//! (the docker-credential-helpers protocol).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Map, Value, json};

use super::auth::Credentials;
use crate::error::{Error, Result};

/// What a helper says when it has nothing for the server.
const NOT_FOUND: &str = "credentials not found";

/// The helper `credHelpers` names for `registry_key` (a normalized host).
pub(super) fn own_helper(doc: &Map<String, Value>, registry_key: &str) -> Option<String> {
    doc.get("credHelpers")
        .and_then(Value::as_object)?
        .iter()
        .find(|(k, _)| super::auth::normalize_key(k) == registry_key)
        .and_then(|(_, v)| v.as_str())
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
}

/// The helper `credsStore` names for every registry.
pub(super) fn creds_store(doc: &Map<String, Value>) -> Option<String> {
    doc.get("credsStore")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
}

/// A helper named in a config file, for one server.
pub(super) struct Helper<'a> {
    pub name: &'a str,
    pub config: &'a Path,
    /// The server as Docker passes it (`https://index.docker.io/v1/` for
    /// Docker Hub, else the host).
    pub server: &'a str,
}

impl Helper<'_> {
    /// `get`: the stored credentials, or `None` when the helper has none.
    pub fn get(&self) -> Result<Option<Credentials>> {
        let (ok, stdout) = self.run("get", self.server)?;
        if !ok {
            if stdout.to_ascii_lowercase().contains(NOT_FOUND) {
                return Ok(None);
            }
            return Err(self.problem(format!("get failed: {}", stdout.trim())));
        }
        let answer: Value = serde_json::from_str(&stdout)
            .map_err(|e| self.problem(format!("get answered no JSON: {e}")))?;
        let field = |name: &str| answer.get(name).and_then(Value::as_str).map(str::to_owned);
        match (field("Username"), field("Secret")) {
            (Some(username), Some(password)) if !password.is_empty() => {
                Ok(Some(Credentials { username, password }))
            }
            _ => Ok(None),
        }
    }

    /// `store` (`brig login`).
    pub fn store(&self, creds: &Credentials) -> Result<()> {
        let input = json!({
            "ServerURL": self.server, "Username": creds.username, "Secret": creds.password,
        })
        .to_string();
        match self.run("store", &input)? {
            (true, _) => Ok(()),
            (false, out) => Err(self.problem(format!("store failed: {}", out.trim()))),
        }
    }

    /// `erase` (`brig logout`): whether there was something to erase.
    pub fn erase(&self) -> Result<bool> {
        match self.run("erase", self.server)? {
            (true, _) => Ok(true),
            (false, out) if out.to_ascii_lowercase().contains(NOT_FOUND) => Ok(false),
            (false, out) => Err(self.problem(format!("erase failed: {}", out.trim()))),
        }
    }

    /// Runs `docker-credential-NAME ACTION` with `input` on stdin; returns
    /// whether it succeeded and what it printed (stdout, else stderr).
    fn run(&self, action: &str, input: &str) -> Result<(bool, String)> {
        let program = format!("docker-credential-{}", self.name);
        let mut child = Command::new(&program)
            .arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.problem(format!("cannot run {program} (is it on PATH?): {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A helper that exits without reading is judged by its status.
            let _ = stdin.write_all(input.as_bytes());
        }
        let out = child
            .wait_with_output()
            .map_err(|e| self.problem(format!("{program} {action}: {e}")))?;
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.trim().is_empty() {
            text = String::from_utf8_lossy(&out.stderr).into_owned();
        }
        Ok((out.status.success(), text))
    }

    fn problem(&self, problem: String) -> Error {
        Error::CredentialHelper {
            helper: self.name.to_owned(),
            config: self.config.to_owned(),
            registry: self.server.to_owned(),
            problem,
        }
    }
}
