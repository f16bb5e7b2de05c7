//! A container's configuration after validation: what `create` decided from
//! the flags and the image, stored as JSON in the database. The OCI config
//! is generated from it (see [`crate::spec`]) each time the container starts.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Everything needed to (re)start a container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerConfig {
    /// The process: entrypoint and command joined.
    pub args: Vec<String>,
    /// The parts as Docker reports them (`Config.Entrypoint`, `Config.Cmd`).
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    /// `--user` or the image's `User`, resolved against the container's
    /// `/etc/passwd` when it starts. Empty: root.
    pub user: String,
    pub group_add: Vec<String>,
    pub hostname: String,
    pub labels: BTreeMap<String, String>,
    pub tty: bool,
    /// `-i`: keep stdin open.
    pub open_stdin: bool,
    pub init: bool,
    pub stop_signal: String,
    pub stop_timeout: u64,
    pub mounts: Vec<MountConfig>,
    pub read_only: bool,
    pub secrets: Vec<SecretMount>,
    pub security: SecurityConfig,
    pub resources: Resources,
    pub sysctls: BTreeMap<String, String>,
    pub devices: Vec<DeviceConfig>,
    pub restart: RestartPolicy,
    /// `--rm`.
    pub auto_remove: bool,
    pub healthcheck: Option<HealthConfig>,
    pub log: LogConfig,
    pub network: NetworkMode,
    pub ports: Vec<PortBinding>,
    /// `EXPOSE` of the image and `--expose`, like `80/tcp`.
    pub exposed_ports: Vec<String>,
    /// The OCI runtime binary that created the container.
    pub runtime: PathBuf,
    /// Warnings shown at create time (kept for `inspect` and `audit`).
    pub warnings: Vec<String>,
}

/// One mount into the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum MountConfig {
    Bind {
        source: PathBuf,
        target: String,
        readonly: bool,
        /// `rprivate` unless asked (`shared`, `rslave`, ...).
        propagation: Option<String>,
    },
    Volume {
        name: String,
        target: String,
        readonly: bool,
        /// Created for this container only (`-v /path`, image VOLUME):
        /// `rm -v` removes it.
        anonymous: bool,
        /// Copy the image's files at `target` into an empty volume.
        copy_up: bool,
    },
    Tmpfs {
        target: String,
        /// Mount options (`size=64m`, `mode=1777`, `noexec`, ...).
        options: Vec<String>,
    },
}

impl MountConfig {
    pub fn target(&self) -> &str {
        match self {
            MountConfig::Bind { target, .. }
            | MountConfig::Volume { target, .. }
            | MountConfig::Tmpfs { target, .. } => target,
        }
    }
}

/// A secret mounted read-only at `/run/secrets/NAME` (or `target`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretMount {
    pub name: String,
    pub id: String,
    pub target: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityConfig {
    pub privileged: bool,
    /// Normalised `CAP_X` names; `ALL` allowed.
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub no_new_privileges: bool,
    pub seccomp: SeccompChoice,
    pub apparmor: Option<String>,
    /// `--security-opt label=...` values (`disable`, `type:T`, ...).
    pub label: Vec<String>,
    pub userns: UsernsMode,
    /// `--security-opt systempaths=unconfined`.
    pub unmask_system_paths: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "profile", rename_all = "lowercase")]
pub enum SeccompChoice {
    /// brig's default (Docker-equivalent) profile.
    #[default]
    Default,
    Unconfined,
    /// A profile the user gave (Docker or OCI format), as JSON text.
    Custom(String),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UsernsMode {
    #[default]
    Host,
    /// A private range of host IDs (allocated at create).
    Auto,
}

/// Resource limits; `None` means unlimited or the kernel's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    pub memory: Option<i64>,
    /// Memory plus swap; -1 for unlimited swap.
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    /// CPU time per period in billionths of a CPU (`--cpus 0.5` = 5e8).
    pub nano_cpus: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub cpuset_cpus: Option<String>,
    /// `None`: brig's default limit; `Some(0)`: unlimited.
    pub pids_limit: Option<i64>,
    pub oom_kill_disable: bool,
    pub oom_score_adj: Option<i32>,
    pub ulimits: Vec<Ulimit>,
    /// `/dev/shm` size in bytes.
    pub shm_size: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    /// `nofile`, `nproc`, ...
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

/// A host device made available (`--device`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceConfig {
    pub host_path: PathBuf,
    pub container_path: String,
    /// Some of `rwm`.
    pub permissions: String,
    /// `c` or `b`.
    pub kind: char,
    pub major: i64,
    pub minor: i64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "name", content = "max_retries", rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    No,
    /// Restart after a non-zero exit, at most N times (0: no limit).
    OnFailure(u32),
    Always,
    UnlessStopped,
}

impl RestartPolicy {
    pub fn name(&self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::OnFailure(_) => "on-failure",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
        }
    }

    /// Whether to restart after an exit with `code`, having restarted
    /// `count` times, unless a user stopped the container.
    pub fn should_restart(&self, code: i32, count: u32, stop_requested: bool) -> bool {
        if stop_requested {
            return false;
        }
        match *self {
            RestartPolicy::No => false,
            RestartPolicy::OnFailure(max) => code != 0 && (max == 0 || count < max),
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        }
    }
}

/// A health check, from `--health-*` or the image's `HEALTHCHECK`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthConfig {
    /// Docker's form: `["CMD", "prog", "arg"]` or `["CMD-SHELL", "cmd"]`.
    pub test: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub start_period: Duration,
}

impl HealthConfig {
    /// The command to execute in the container.
    pub fn command(&self) -> Vec<String> {
        match self.test.first().map(String::as_str) {
            Some("CMD-SHELL") => vec![
                "/bin/sh".to_owned(),
                "-c".to_owned(),
                self.test[1..].join(" "),
            ],
            Some("CMD") => self.test[1..].to_vec(),
            _ => self.test.clone(),
        }
    }
}

/// `--log-opt max-size=10m --log-opt max-file=3`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogConfig {
    /// Rotate when the log reaches this many bytes (`None`: never).
    pub max_size: Option<u64>,
    /// Files kept, the current one included (at least 1).
    pub max_file: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// A private network namespace with only loopback (up).
    #[default]
    None,
    /// The host's network namespace.
    Host,
    /// `container:NAME`: the network namespace of that container (its ID).
    Container(String),
    /// Bridge networks (`brig` by default), see [`crate::network::BridgeConfig`].
    Bridge(crate::network::BridgeConfig),
}

impl NetworkMode {
    /// Docker's `HostConfig.NetworkMode`.
    pub fn name(&self) -> String {
        match self {
            NetworkMode::None => "none".to_owned(),
            NetworkMode::Host => "host".to_owned(),
            NetworkMode::Container(id) => format!("container:{id}"),
            NetworkMode::Bridge(b) => b.primary().to_owned(),
        }
    }
}

/// `-p [IP:][HOST:]CONTAINER[/PROTO]`, recorded until networking exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortBinding {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
}
