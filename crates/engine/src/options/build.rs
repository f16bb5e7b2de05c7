//! [`build_config`]: `run`/`create` options plus the image's config become
//! a validated [`ContainerConfig`]. Every mistake is an
//! [`Error::InvalidOption`] or [`Error::ConflictingOptions`] naming the
//! flag, before anything is created.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use super::misc::{
    expand_env, parse_env_file, parse_labels, parse_log_opts, parse_publish, parse_restart,
    parse_sysctl, parse_ulimit, parse_userns, split_device,
};
use super::mounts::{container_path, parse_mount_flag, parse_tmpfs_flag, parse_volume_flag};
use super::security::{parse_security_opts, security_config};
use super::units::{parse_cpus, parse_signal, parse_size, signal_name, validate_cpuset};
use super::{CreateOptions, HostProbe};
use crate::config::{
    ContainerConfig, HealthConfig, MountConfig, NetworkMode, PortBinding, Resources, RestartPolicy,
    SecretMount,
};
use crate::error::{Error, Result};
use crate::image_config::ImageConfig;

/// `PATH` when the image sets none (Docker's).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Docker refuses memory limits below this (the runtime's init must fit).
const MIN_MEMORY: i64 = 6 << 20;

/// Validates `opts` against the image and the host. `id` is the new
/// container's ID (its default hostname); `new_volume_name` names
/// anonymous volumes.
pub fn build_config(
    opts: &CreateOptions,
    image: &ImageConfig,
    id: &str,
    runtime: &Path,
    probe: &dyn HostProbe,
    new_volume_name: &mut dyn FnMut() -> String,
) -> Result<ContainerConfig> {
    check_conflicts(opts)?;
    let (entrypoint, cmd) = command(opts, image)?;
    let (env, user_env) = environment(opts, image, probe)?;
    let network = crate::network::config::parse_network_flags(&crate::network::NetworkFlags {
        network: opts.network.as_deref(),
        ip: opts.ip.as_deref(),
        aliases: &opts.network_aliases,
        egress_allow: &opts.egress_allow,
    })?;
    let security_opts =
        parse_security_opts(&opts.security_opts, &|p| probe.read_file(Path::new(p)))?;
    let userns = parse_userns(opts.userns.as_deref().unwrap_or(""))?;
    let mut config = ContainerConfig {
        args: entrypoint.iter().chain(&cmd).cloned().collect(),
        entrypoint,
        cmd,
        env,
        working_dir: working_dir(opts, image)?,
        user: opts
            .user
            .clone()
            .or_else(|| image.user.clone())
            .unwrap_or_default(),
        group_add: opts.group_add.clone(),
        hostname: hostname(opts, id)?,
        labels: image
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .chain(parse_labels(&opts.labels))
            .collect(),
        tty: opts.tty,
        open_stdin: opts.interactive,
        init: opts.init,
        stop_signal: stop_signal(opts, image)?,
        stop_timeout: stop_timeout(opts)?,
        mounts: mounts(opts, image, probe, new_volume_name)?,
        read_only: opts.read_only,
        secrets: secrets(opts, probe)?,
        security: security_config(
            opts.privileged,
            &opts.cap_add,
            &opts.cap_drop,
            security_opts,
            userns,
        )?,
        resources: resources(opts, probe)?,
        sysctls: opts
            .sysctls
            .iter()
            .map(|s| parse_sysctl(s, &network))
            .collect::<Result<BTreeMap<_, _>>>()?,
        devices: opts
            .devices
            .iter()
            .map(|d| {
                let (host, ctr, perms) = split_device(d)?;
                probe.device(&host, &ctr, &perms)
            })
            .collect::<Result<_>>()?,
        restart: parse_restart(opts.restart.as_deref().unwrap_or("no"))?,
        auto_remove: opts.auto_remove,
        healthcheck: healthcheck(opts, image)?,
        log: parse_log_opts(&opts.log_opts)?,
        network,
        ports: Vec::new(),
        exposed_ports: Vec::new(),
        runtime: runtime.to_owned(),
        warnings: Vec::new(),
    };
    ports(&mut config, opts, image, probe)?;
    config.warnings = super::warnings::warnings_for(&config, &opts.image, &user_env);
    Ok(config)
}

fn check_conflicts(opts: &CreateOptions) -> Result<()> {
    if opts.auto_remove
        && let Some(r) = &opts.restart
        && parse_restart(r)? != RestartPolicy::No
    {
        return Err(Error::ConflictingOptions(format!(
            "--rm and --restart {r}: a container removed when it exits cannot be restarted; drop one of them"
        )));
    }
    if opts.no_healthcheck
        && (opts.health_cmd.is_some()
            || opts.health_interval.is_some()
            || opts.health_timeout.is_some()
            || opts.health_retries.is_some()
            || opts.health_start_period.is_some())
    {
        return Err(Error::ConflictingOptions(
            "--no-healthcheck and --health-*: drop one of them".to_owned(),
        ));
    }
    if opts.privileged && opts.userns.as_deref() == Some("auto") {
        return Err(Error::ConflictingOptions(
            "--privileged and --userns auto: a privileged container needs the host's user namespace".to_owned(),
        ));
    }
    Ok(())
}

/// Entrypoint and command: `--entrypoint` replaces the image's and drops
/// its `Cmd`; arguments after the image replace `Cmd`.
fn command(opts: &CreateOptions, image: &ImageConfig) -> Result<(Vec<String>, Vec<String>)> {
    let (entrypoint, image_cmd) = match &opts.entrypoint {
        Some(e) if e.is_empty() => (Vec::new(), Vec::new()),
        Some(e) => (vec![e.clone()], Vec::new()),
        None => (
            image.entrypoint.clone().unwrap_or_default(),
            image.cmd.clone().unwrap_or_default(),
        ),
    };
    let cmd = if opts.command.is_empty() {
        image_cmd
    } else {
        opts.command.clone()
    };
    if entrypoint.is_empty() && cmd.is_empty() {
        return Err(Error::invalid(
            "COMMAND",
            "",
            format!(
                "the image {} has no command: give one after the image name",
                opts.image
            ),
        ));
    }
    Ok((entrypoint, cmd))
}

/// The image's variables, then `--env-file`s, then `-e`; a later value of
/// the same name wins. Returns all, and those the user gave.
fn environment(
    opts: &CreateOptions,
    image: &ImageConfig,
    probe: &dyn HostProbe,
) -> Result<(Vec<String>, Vec<String>)> {
    let host = |k: &str| probe.env_var(k);
    let mut user = Vec::new();
    for file in &opts.env_files {
        let text = probe.read_file(file)?;
        user.extend(parse_env_file(&file.display().to_string(), &text, &host)?);
    }
    for e in &opts.env {
        user.extend(expand_env(e, &host)?);
    }
    let image_env = image.env.clone().unwrap_or_default();
    let mut all: Vec<String> = Vec::new();
    if !image_env.iter().any(|e| e.starts_with("PATH=")) {
        all.push(DEFAULT_PATH.to_owned());
    }
    for var in image_env.iter().chain(&user) {
        let key = var.split('=').next().unwrap_or(var);
        all.retain(|v| v.split('=').next() != Some(key));
        all.push(var.clone());
    }
    if opts.tty && !all.iter().any(|v| v.starts_with("TERM=")) {
        all.push("TERM=xterm".to_owned());
    }
    Ok((all, user))
}

fn working_dir(opts: &CreateOptions, image: &ImageConfig) -> Result<String> {
    match &opts.workdir {
        Some(w) if w.starts_with('/') => Ok(w.clone()),
        Some(w) => Err(Error::invalid(
            "-w",
            w,
            "the working directory must be an absolute path",
        )),
        None => Ok(image
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".to_owned())),
    }
}

fn hostname(opts: &CreateOptions, id: &str) -> Result<String> {
    match &opts.hostname {
        Some(h) => {
            let ok = !h.is_empty()
                && h.len() <= 64
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if ok {
                Ok(h.clone())
            } else {
                Err(Error::invalid(
                    "-h",
                    h,
                    "a hostname is 1-64 letters, digits, '-' and '.'",
                ))
            }
        }
        None => Ok(crate::paths::short(id).to_owned()),
    }
}

fn stop_signal(opts: &CreateOptions, image: &ImageConfig) -> Result<String> {
    let (flag, value) = match (&opts.stop_signal, &image.stop_signal) {
        (Some(s), _) => ("--stop-signal", s.as_str()),
        (None, Some(s)) => ("the image's StopSignal", s.as_str()),
        (None, None) => return Ok("SIGTERM".to_owned()),
    };
    Ok(signal_name(parse_signal(flag, value)?))
}

fn stop_timeout(opts: &CreateOptions) -> Result<u64> {
    match opts.stop_timeout {
        None => Ok(10),
        Some(t) if t < 0 => Ok(u64::MAX),
        Some(t) => Ok(t as u64),
    }
}

fn mounts(
    opts: &CreateOptions,
    image: &ImageConfig,
    probe: &dyn HostProbe,
    new_volume_name: &mut dyn FnMut() -> String,
) -> Result<Vec<MountConfig>> {
    let mut out: Vec<MountConfig> = Vec::new();
    for v in &opts.volumes {
        out.push(parse_volume_flag(v, &mut *new_volume_name)?);
    }
    for m in &opts.mounts {
        out.push(parse_mount_flag(m, &mut *new_volume_name)?);
    }
    for t in &opts.tmpfs {
        out.push(parse_tmpfs_flag(t)?);
    }
    let mut targets = BTreeSet::new();
    for m in &out {
        if !targets.insert(m.target().to_owned()) {
            return Err(Error::invalid(
                "-v/--mount/--tmpfs",
                m.target(),
                "two mounts have this container path",
            ));
        }
        if let MountConfig::Bind { source, .. } = m
            && !probe.path_exists(source)
        {
            return Err(Error::invalid(
                "-v/--mount",
                &source.display().to_string(),
                "the host path does not exist; create it first (brig does not create bind sources)",
            ));
        }
    }
    // The image's VOLUMEs get anonymous volumes unless something is mounted there.
    for path in image.volumes.iter().flat_map(|v| v.keys()) {
        let Ok(target) = container_path("VOLUME", path, path) else {
            continue;
        };
        if targets.insert(target.clone()) {
            out.push(MountConfig::Volume {
                name: new_volume_name(),
                target,
                readonly: false,
                anonymous: true,
                copy_up: true,
            });
        }
    }
    Ok(out)
}

/// `--secret NAME[,target=PATH]` or `--secret source=NAME[,target=PATH]`.
fn secrets(opts: &CreateOptions, probe: &dyn HostProbe) -> Result<Vec<SecretMount>> {
    let mut out: Vec<SecretMount> = Vec::new();
    for spec in &opts.secrets {
        let (mut name, mut target) = (None, None);
        for (i, field) in spec.split(',').enumerate() {
            match field.split_once('=') {
                Some(("source" | "src", v)) => name = Some(v.to_owned()),
                Some(("target" | "dst", v)) => target = Some(v.to_owned()),
                Some((k, _)) if k == "type" || k == "mode" || k == "uid" || k == "gid" => {}
                None if i == 0 => name = Some(field.to_owned()),
                _ => {
                    return Err(Error::invalid(
                        "--secret",
                        spec,
                        "expected NAME[,target=PATH]",
                    ));
                }
            }
        }
        let name = name
            .filter(|n| !n.is_empty())
            .ok_or_else(|| Error::invalid("--secret", spec, "expected NAME[,target=PATH]"))?;
        let id = probe
            .secret_id(&name)?
            .ok_or_else(|| Error::NoSuchSecret(name.clone()))?;
        let target = match target {
            Some(t) if t.starts_with('/') => container_path("--secret", spec, &t)?,
            Some(t) => container_path("--secret", spec, &format!("/run/secrets/{t}"))?,
            None => container_path("--secret", spec, &format!("/run/secrets/{name}"))?,
        };
        if out.iter().any(|s| s.target == target) {
            return Err(Error::invalid(
                "--secret",
                spec,
                "two secrets have this target",
            ));
        }
        out.push(SecretMount { name, id, target });
    }
    Ok(out)
}

/// The resource flags of `opts`, validated (also for `update`).
pub(crate) fn resources_of(opts: &CreateOptions, probe: &dyn HostProbe) -> Result<Resources> {
    resources(opts, probe)
}

fn resources(opts: &CreateOptions, probe: &dyn HostProbe) -> Result<Resources> {
    let size =
        |flag: &str, v: &Option<String>| v.as_deref().map(|v| parse_size(flag, v)).transpose();
    let memory = size("--memory", &opts.memory)?;
    if let Some(m) = memory
        && m < MIN_MEMORY
    {
        return Err(Error::invalid(
            "--memory",
            opts.memory.as_deref().unwrap_or(""),
            "the minimum memory limit is 6m",
        ));
    }
    let memory_swap = match opts.memory_swap.as_deref() {
        Some("-1") => Some(-1),
        other => size("--memory-swap", &other.map(str::to_owned))?,
    };
    if let Some(swap) = memory_swap
        && swap != -1
    {
        match memory {
            None => {
                return Err(Error::ConflictingOptions(
                    "--memory-swap needs --memory (it is memory plus swap)".to_owned(),
                ));
            }
            Some(m) if swap < m => {
                return Err(Error::ConflictingOptions(
                    "--memory-swap is memory plus swap, so it must be at least --memory".to_owned(),
                ));
            }
            _ => {}
        }
    }
    let memory_reservation = size("--memory-reservation", &opts.memory_reservation)?;
    if let (Some(r), Some(m)) = (memory_reservation, memory)
        && r > m
    {
        return Err(Error::ConflictingOptions(
            "--memory-reservation must be below --memory".to_owned(),
        ));
    }
    if let Some(c) = &opts.cpuset_cpus {
        validate_cpuset("--cpuset-cpus", c)?;
    }
    if let Some(s) = opts.cpu_shares
        && s < 2
    {
        return Err(Error::invalid(
            "--cpu-shares",
            &s.to_string(),
            "the minimum is 2",
        ));
    }
    if let Some(adj) = opts.oom_score_adj
        && !(-1000..=1000).contains(&adj)
    {
        return Err(Error::invalid(
            "--oom-score-adj",
            &adj.to_string(),
            "must be between -1000 and 1000",
        ));
    }
    let shm_size = size("--shm-size", &opts.shm_size)?;
    if shm_size.is_some_and(|s| s <= 0) {
        return Err(Error::invalid(
            "--shm-size",
            opts.shm_size.as_deref().unwrap_or(""),
            "must be above 0",
        ));
    }
    Ok(Resources {
        memory,
        memory_swap,
        memory_reservation,
        nano_cpus: opts
            .cpus
            .as_deref()
            .map(|c| parse_cpus(c, probe.cpus()))
            .transpose()?
            .filter(|n| *n > 0),
        cpu_shares: opts.cpu_shares,
        cpuset_cpus: opts.cpuset_cpus.clone(),
        pids_limit: opts.pids_limit.map(|p| p.max(0)),
        oom_kill_disable: opts.oom_kill_disable,
        oom_score_adj: opts.oom_score_adj,
        ulimits: opts
            .ulimits
            .iter()
            .map(|u| parse_ulimit(u))
            .collect::<Result<_>>()?,
        shm_size,
    })
}

fn duration(
    flag: &str,
    value: &Option<String>,
    image_ns: u64,
    default: Duration,
) -> Result<Duration> {
    match value {
        Some(v) => {
            let d = crate::time::parse_go_duration(v).ok_or_else(|| {
                Error::invalid(flag, v, "expected a duration like 30s, 1m30s or 500ms")
            })?;
            if d != Duration::ZERO && d < Duration::from_millis(1) {
                return Err(Error::invalid(flag, v, "the minimum is 1ms"));
            }
            Ok(if d.is_zero() { default } else { d })
        }
        None if image_ns > 0 => Ok(Duration::from_nanos(image_ns)),
        None => Ok(default),
    }
}

/// `--health-*` over the image's `HEALTHCHECK`; `NONE` or `--no-healthcheck` disables.
fn healthcheck(opts: &CreateOptions, image: &ImageConfig) -> Result<Option<HealthConfig>> {
    if opts.no_healthcheck {
        return Ok(None);
    }
    let from_image = image.healthcheck.clone().unwrap_or_default();
    let thirty = Duration::from_secs(30);
    let interval = duration(
        "--health-interval",
        &opts.health_interval,
        from_image.interval,
        thirty,
    )?;
    let timeout = duration(
        "--health-timeout",
        &opts.health_timeout,
        from_image.timeout,
        thirty,
    )?;
    let start_period = duration(
        "--health-start-period",
        &opts.health_start_period,
        from_image.start_period,
        Duration::ZERO,
    )?;
    let test = match &opts.health_cmd {
        Some(cmd) if cmd.is_empty() => return Ok(None),
        Some(cmd) => vec!["CMD-SHELL".to_owned(), cmd.clone()],
        None => match from_image.test.clone() {
            Some(t) if t.first().is_some_and(|k| k == "NONE") => return Ok(None),
            Some(t) if !t.is_empty() => t,
            _ => return Ok(None),
        },
    };
    Ok(Some(HealthConfig {
        test,
        interval,
        timeout,
        retries: opts
            .health_retries
            .or((from_image.retries > 0).then_some(from_image.retries))
            .unwrap_or(3),
        start_period,
    }))
}

/// `-p` (checked against ports in use) and the exposed ports.
fn ports(
    config: &mut ContainerConfig,
    opts: &CreateOptions,
    image: &ImageConfig,
    probe: &dyn HostProbe,
) -> Result<()> {
    let mut exposed: BTreeSet<String> = image
        .exposed_ports
        .iter()
        .flat_map(|p| p.keys().cloned())
        .collect();
    for e in &opts.expose {
        let (port, proto) = e.split_once('/').unwrap_or((e, "tcp"));
        port.parse::<u16>()
            .map_err(|_| Error::invalid("--expose", e, "expected PORT[/PROTO]"))?;
        exposed.insert(format!("{port}/{proto}"));
    }
    for p in &opts.publish {
        let binding = parse_publish(p)?;
        if binding.host_port != 0
            && !probe.port_free(&binding.host_ip, binding.host_port, &binding.protocol)
        {
            return Err(Error::invalid(
                "-p",
                p,
                format!(
                    "host port {} is already in use; pick another",
                    binding.host_port
                ),
            ));
        }
        exposed.insert(format!("{}/{}", binding.container_port, binding.protocol));
        config.ports.push(binding);
    }
    if opts.publish_all {
        publish_exposed(config, &exposed);
    }
    if !config.ports.is_empty() && !matches!(config.network, NetworkMode::Bridge(_)) {
        return Err(Error::ConflictingOptions(format!(
            "-p/-P publish ports of a bridge network; --network {} has none",
            config.network.name()
        )));
    }
    config.exposed_ports = exposed.into_iter().collect();
    Ok(())
}

/// `-P`: every exposed port not published yet, on a free host port.
fn publish_exposed(config: &mut ContainerConfig, exposed: &BTreeSet<String>) {
    for e in exposed {
        let (port, proto) = e.split_once('/').unwrap_or((e, "tcp"));
        let Ok(container_port) = port.parse::<u16>() else {
            continue;
        };
        let published = config
            .ports
            .iter()
            .any(|p| p.container_port == container_port && p.protocol == proto);
        if !published {
            config.ports.push(PortBinding {
                host_ip: String::new(),
                host_port: 0,
                container_port,
                protocol: proto.to_owned(),
            });
        }
    }
}

#[cfg(test)]
#[path = "build_tests.rs"]
mod tests;
