//! `run`/`create` options as the command line gives them, and their
//! validation into a [`ContainerConfig`](crate::config::ContainerConfig).
//! Parsing is pure; what needs the host (host paths, devices, env files,
//! secrets, ports) is asked through [`HostProbe`], so tests can fake it.

pub(crate) mod build;
pub mod misc;
pub mod mounts;
pub mod security;
pub mod units;
mod warnings;

use std::path::{Path, PathBuf};

pub use build::build_config;
pub use warnings::{image_reference_warning, secret_like_env};

use crate::config::DeviceConfig;
use crate::error::Result;

/// Docker's `run`/`create` flags, as strings (the CLI fills this).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub image: String,
    /// The command after the image.
    pub command: Vec<String>,
    pub name: Option<String>,
    /// `--entrypoint` (an empty string clears the image's).
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    pub env_files: Vec<PathBuf>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub labels: Vec<String>,
    pub tty: bool,
    pub interactive: bool,
    pub init: bool,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
    pub cidfile: Option<PathBuf>,
    pub group_add: Vec<String>,
    pub ulimits: Vec<String>,
    pub sysctls: Vec<String>,
    pub shm_size: Option<String>,
    pub devices: Vec<String>,
    pub volumes: Vec<String>,
    pub mounts: Vec<String>,
    pub tmpfs: Vec<String>,
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub security_opts: Vec<String>,
    pub userns: Option<String>,
    pub memory: Option<String>,
    pub memory_swap: Option<String>,
    pub memory_reservation: Option<String>,
    pub cpus: Option<String>,
    pub cpu_shares: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub pids_limit: Option<i64>,
    pub oom_kill_disable: bool,
    pub oom_score_adj: Option<i32>,
    pub restart: Option<String>,
    pub auto_remove: bool,
    pub health_cmd: Option<String>,
    pub health_interval: Option<String>,
    pub health_timeout: Option<String>,
    pub health_retries: Option<u32>,
    pub health_start_period: Option<String>,
    pub no_healthcheck: bool,
    pub secrets: Vec<String>,
    pub log_opts: Vec<String>,
    pub network: Option<String>,
    /// `--ip`, `--network-alias`, `--egress-allow`, `-P`.
    pub ip: Option<String>,
    pub network_aliases: Vec<String>,
    pub egress_allow: Vec<String>,
    pub publish_all: bool,
    pub publish: Vec<String>,
    pub expose: Vec<String>,
}

/// What validation needs to know about the host.
pub trait HostProbe {
    /// Whether a bind-mount source exists.
    fn path_exists(&self, path: &Path) -> bool;
    /// Reads an `--env-file` or a seccomp profile.
    fn read_file(&self, path: &Path) -> Result<String>;
    /// A host environment variable (`-e KEY` without a value).
    fn env_var(&self, key: &str) -> Option<String>;
    /// Examines a `--device` node.
    fn device(&self, host: &str, container: &str, permissions: &str) -> Result<DeviceConfig>;
    /// The ID of a secret by name.
    fn secret_id(&self, name: &str) -> Result<Option<String>>;
    /// Whether a host port can still be bound (`-p`).
    fn port_free(&self, ip: &str, port: u16, protocol: &str) -> bool;
    /// CPUs of this machine (`--cpus` maximum).
    fn cpus(&self) -> usize;
}
