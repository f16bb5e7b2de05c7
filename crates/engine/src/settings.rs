//! The configuration file, `/etc/brig/brig.toml` (or `brig --config PATH`):
//! where brig keeps its state, the default runtime, and defaults for new
//! containers. Command-line flags win over the file, the file over the
//! built-in defaults.
//!
//! ```toml
//! [engine]
//! root = "/var/lib/brig"
//! runroot = "/run/brig"
//! runtime = "brig"            # brig (brig-runtime), runc, crun or a path
//!
//! [containers]
//! userns = "auto"             # every container gets its own host ID range
//! pids_limit = 2048
//! log_opts = { max-size = "10m", max-file = "3" }
//! ```
//!
//! Unknown sections and keys are errors that name the key and the file,
//! so a typo never silently leaves a default (a security default, maybe)
//! in place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::options::CreateOptions;

/// Where the configuration file is read from unless `--config` says otherwise.
pub const DEFAULT_PATH: &str = "/etc/brig/brig.toml";

/// What is wrong with a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Bad TOML, an unknown key or a value of the wrong type; the message
    /// names the key with its line.
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {key} = {value:?}: {reason}")]
    Value {
        path: PathBuf,
        key: String,
        value: String,
        reason: String,
    },
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub engine: EngineSettings,
    #[serde(default)]
    pub containers: ContainerDefaults,
}

/// `[engine]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSettings {
    pub root: Option<PathBuf>,
    pub runroot: Option<PathBuf>,
    pub runtime: Option<String>,
}

/// `[containers]`: defaults for `run` and `create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerDefaults {
    /// `host` or `auto`, as `--userns`.
    pub userns: Option<String>,
    /// As `--pids-limit` (0 or less: unlimited).
    pub pids_limit: Option<i64>,
    /// As `--log-opt KEY=VALUE`.
    #[serde(default)]
    pub log_opts: BTreeMap<String, String>,
}

impl Settings {
    /// Reads `explicit` (which must exist), else [`DEFAULT_PATH`] when it
    /// exists, else the built-in defaults.
    pub fn load(explicit: Option<&Path>) -> Result<Settings, SettingsError> {
        let path = explicit.unwrap_or(Path::new(DEFAULT_PATH));
        match std::fs::read_to_string(path) {
            Ok(text) => Settings::parse(path, &text),
            Err(e) if explicit.is_none() && e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Settings::default())
            }
            Err(source) => Err(SettingsError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Parses and checks the text of the file at `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Settings, SettingsError> {
        let settings: Settings = toml::from_str(text).map_err(|e| SettingsError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        settings.containers.check(path)?;
        Ok(settings)
    }
}

impl ContainerDefaults {
    fn check(&self, path: &Path) -> Result<(), SettingsError> {
        let bad = |key: &str, value: &str, e: crate::Error| SettingsError::Value {
            path: path.to_owned(),
            key: key.to_owned(),
            value: value.to_owned(),
            reason: e.to_string(),
        };
        if let Some(userns) = &self.userns {
            crate::options::misc::parse_userns(userns)
                .map_err(|e| bad("containers.userns", userns, e))?;
        }
        let opts = self.log_opt_list();
        crate::options::misc::parse_log_opts(&opts)
            .map_err(|e| bad("containers.log_opts", &opts.join(","), e))?;
        Ok(())
    }

    fn log_opt_list(&self) -> Vec<String> {
        self.log_opts
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }

    /// Fills in what the command line left unset. A privileged container
    /// keeps the host's user namespace (it cannot have another).
    pub fn apply(&self, opts: &mut CreateOptions) {
        if opts.userns.is_none() && !opts.privileged {
            opts.userns.clone_from(&self.userns);
        }
        if opts.pids_limit.is_none() {
            opts.pids_limit = self.pids_limit;
        }
        if opts.log_opts.is_empty() {
            opts.log_opts = self.log_opt_list();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, SettingsError> {
        Settings::parse(Path::new("/etc/brig/brig.toml"), text)
    }

    #[test]
    fn every_key_is_read() {
        let s = parse(
            r#"
[engine]
root = "/srv/brig"
runroot = "/run/b"
runtime = "runc"
[containers]
userns = "auto"
pids_limit = 512
log_opts = { max-size = "10m", max-file = "3" }
"#,
        )
        .unwrap();
        assert_eq!(s.engine.root.as_deref(), Some(Path::new("/srv/brig")));
        assert_eq!(s.engine.runroot.as_deref(), Some(Path::new("/run/b")));
        assert_eq!(s.engine.runtime.as_deref(), Some("runc"));
        assert_eq!(s.containers.userns.as_deref(), Some("auto"));
        assert_eq!(s.containers.pids_limit, Some(512));
        assert_eq!(s.containers.log_opt_list(), ["max-file=3", "max-size=10m"]);
    }

    #[test]
    fn an_empty_file_is_the_defaults() {
        assert_eq!(parse("").unwrap(), Settings::default());
    }

    #[test]
    fn an_unknown_key_names_the_key_and_the_file() {
        let e = parse("[containers]\nuserns = \"auto\"\npid_limit = 5\n").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("/etc/brig/brig.toml: "), "{msg}");
        assert!(msg.contains("unknown field `pid_limit`"), "{msg}");
        assert!(msg.contains("line 3"), "{msg}");
    }

    #[test]
    fn an_unknown_section_is_an_error() {
        let msg = parse("[network]\nmtu = 1500\n").unwrap_err().to_string();
        assert!(msg.contains("unknown field `network`"), "{msg}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let msg = parse("[containers]\nuserns = \"keep-id\"\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("containers.userns = \"keep-id\""), "{msg}");
        let msg = parse("[containers]\nlog_opts = { max-file = \"3\" }\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("containers.log_opts"), "{msg}");
        assert!(msg.contains("max-file needs max-size"), "{msg}");
        let msg = parse("[containers]\npids_limit = \"many\"\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("pids_limit"), "{msg}");
    }

    #[test]
    fn a_missing_explicit_file_is_an_error_and_a_missing_default_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        let e = Settings::load(Some(&missing)).unwrap_err();
        assert!(e.to_string().contains("nope.toml"), "{e}");
    }

    #[test]
    fn flags_win_over_the_file() {
        let defaults = ContainerDefaults {
            userns: Some("auto".into()),
            pids_limit: Some(64),
            log_opts: [("max-size".to_owned(), "1m".to_owned())].into(),
        };
        let mut given = CreateOptions {
            userns: Some("host".into()),
            pids_limit: Some(10),
            log_opts: vec!["max-size=5m".into()],
            ..Default::default()
        };
        defaults.apply(&mut given);
        assert_eq!(given.userns.as_deref(), Some("host"));
        assert_eq!(given.pids_limit, Some(10));
        assert_eq!(given.log_opts, ["max-size=5m"]);
        let mut unset = CreateOptions::default();
        defaults.apply(&mut unset);
        assert_eq!(unset.userns.as_deref(), Some("auto"));
        assert_eq!(unset.pids_limit, Some(64));
        assert_eq!(unset.log_opts, ["max-size=1m"]);
        let mut privileged = CreateOptions {
            privileged: true,
            ..Default::default()
        };
        defaults.apply(&mut privileged);
        assert_eq!(privileged.userns, None);
    }
}
