//! `inspect`: a container in Docker's JSON shape (the fields tools read),
//! plus a `Brig` section. Secrets never appear, only their names and
//! targets; values of variables whose names look like secrets are masked.

use serde_json::{Map, Value, json};

use crate::config::{MountConfig, RestartPolicy};
use crate::engine::Engine;
use crate::error::Result;
use crate::options::secret_like_env;
use crate::record::{ContainerRecord, State};
use crate::time::{rfc3339_nanos, rfc3339_or_zero};

/// What replaces a masked value.
pub const MASKED: &str = "<hidden: looks like a secret; use --secret>";

impl Engine {
    /// `brig inspect CONTAINER`.
    pub fn inspect(&self, reference: &str) -> Result<Value> {
        let rec = self.find(reference)?;
        Ok(inspect_json(self, &rec))
    }
}

fn masked_env(env: &[String]) -> Vec<String> {
    env.iter()
        .map(|v| match v.split_once('=') {
            Some((k, _)) if secret_like_env(k) => format!("{k}={MASKED}"),
            _ => v.clone(),
        })
        .collect()
}

fn mounts_json(rec: &ContainerRecord, engine: &Engine) -> Vec<Value> {
    rec.config
        .mounts
        .iter()
        .map(|m| match m {
            MountConfig::Bind {
                source,
                target,
                readonly,
                propagation,
            } => json!({"Type": "bind", "Source": source, "Destination": target,
                "Mode": if *readonly { "ro" } else { "" }, "RW": !readonly,
                "Propagation": propagation.clone().unwrap_or_else(|| "rprivate".into())}),
            MountConfig::Volume {
                name,
                target,
                readonly,
                ..
            } => json!({"Type": "volume", "Name": name,
                "Source": engine.ctx.paths.volume_data(name), "Destination": target,
                "Driver": "local", "Mode": if *readonly { "ro" } else { "z" }, "RW": !readonly,
                "Propagation": ""}),
            MountConfig::Tmpfs { target, .. } => {
                json!({"Type": "tmpfs", "Source": "", "Destination": target, "Mode": "", "RW": true, "Propagation": ""})
            }
        })
        .collect()
}

fn state_json(rec: &ContainerRecord) -> Value {
    let mut state = json!({
        "Status": rec.state.as_str(),
        "Running": matches!(rec.state, State::Running | State::Paused),
        "Paused": rec.state == State::Paused,
        "Restarting": rec.state == State::Restarting,
        "OOMKilled": rec.oom_killed,
        "Dead": false,
        "Pid": rec.pid.unwrap_or(0),
        "ExitCode": rec.exit_code.unwrap_or(0),
        "Error": rec.error.clone().unwrap_or_default(),
        "StartedAt": rfc3339_or_zero(rec.started_at),
        "FinishedAt": rfc3339_or_zero(rec.finished_at),
    });
    if let Some(h) = &rec.health {
        state["Health"] = serde_json::to_value(h).unwrap_or_default();
    }
    state
}

fn host_config(rec: &ContainerRecord) -> Value {
    let c = &rec.config;
    let r = &c.resources;
    let binds: Vec<String> = c
        .mounts
        .iter()
        .filter_map(|m| match m {
            MountConfig::Bind {
                source,
                target,
                readonly,
                ..
            } => Some(format!(
                "{}:{target}{}",
                source.display(),
                if *readonly { ":ro" } else { "" }
            )),
            MountConfig::Volume {
                name,
                target,
                readonly,
                anonymous: false,
                ..
            } => Some(format!(
                "{name}:{target}{}",
                if *readonly { ":ro" } else { "" }
            )),
            _ => None,
        })
        .collect();
    let tmpfs: Map<String, Value> = c
        .mounts
        .iter()
        .filter_map(|m| match m {
            MountConfig::Tmpfs { target, options } => {
                Some((target.clone(), json!(options.join(","))))
            }
            _ => None,
        })
        .collect();
    let mut security_opt = Vec::new();
    if c.security.no_new_privileges {
        security_opt.push("no-new-privileges".to_owned());
    }
    match &c.security.seccomp {
        crate::config::SeccompChoice::Unconfined => security_opt.push("seccomp=unconfined".into()),
        crate::config::SeccompChoice::Custom(_) => {
            security_opt.push("seccomp=<custom profile>".into())
        }
        crate::config::SeccompChoice::Default => {}
    }
    if let Some(a) = &c.security.apparmor {
        security_opt.push(format!("apparmor={a}"));
    }
    security_opt.extend(c.security.label.iter().map(|l| format!("label={l}")));
    let max_retries = match c.restart {
        RestartPolicy::OnFailure(n) => n,
        _ => 0,
    };
    let mut log = Map::new();
    if let Some(s) = c.log.max_size {
        log.insert("max-size".into(), json!(s.to_string()));
        log.insert("max-file".into(), json!(c.log.max_file.to_string()));
    }
    let ports = port_map(rec, true);
    json!({
        "Binds": binds,
        "NetworkMode": c.network.name(),
        "PortBindings": ports,
        "RestartPolicy": {"Name": c.restart.name(), "MaximumRetryCount": max_retries},
        "AutoRemove": c.auto_remove,
        "CapAdd": c.security.cap_add,
        "CapDrop": c.security.cap_drop,
        "Privileged": c.security.privileged,
        "ReadonlyRootfs": c.read_only,
        "SecurityOpt": security_opt,
        "Tmpfs": tmpfs,
        "UsernsMode": if c.security.userns == crate::config::UsernsMode::Auto { "auto" } else { "" },
        "Memory": r.memory.unwrap_or(0),
        "MemorySwap": r.memory_swap.unwrap_or(0),
        "MemoryReservation": r.memory_reservation.unwrap_or(0),
        "NanoCpus": r.nano_cpus.unwrap_or(0),
        "CpuShares": r.cpu_shares.unwrap_or(0),
        "CpusetCpus": r.cpuset_cpus.clone().unwrap_or_default(),
        "PidsLimit": r.pids_limit.unwrap_or(crate::spec::DEFAULT_PIDS_LIMIT),
        "OomKillDisable": r.oom_kill_disable,
        "OomScoreAdj": r.oom_score_adj.unwrap_or(0),
        "Ulimits": r.ulimits.iter().map(|u| json!({"Name": u.name, "Soft": u.soft, "Hard": u.hard})).collect::<Vec<_>>(),
        "ShmSize": r.shm_size.unwrap_or(64 << 20),
        "Sysctls": c.sysctls,
        "Devices": c.devices.iter().map(|d| json!({"PathOnHost": d.host_path, "PathInContainer": d.container_path, "CgroupPermissions": d.permissions})).collect::<Vec<_>>(),
        "GroupAdd": c.group_add,
        "Init": c.init,
        "Runtime": c.runtime,
        "LogConfig": {"Type": "json-file", "Config": log},
    })
}

/// `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`; with `all`, exposed
/// ports without a binding appear as `null` (as in `Config.ExposedPorts`).
fn port_map(rec: &ContainerRecord, bindings_only: bool) -> Map<String, Value> {
    let mut out = Map::new();
    for p in &rec.config.ports {
        let key = format!("{}/{}", p.container_port, p.protocol);
        let entry = out.entry(key).or_insert_with(|| json!([]));
        if let Some(list) = entry.as_array_mut() {
            list.push(json!({"HostIp": p.host_ip, "HostPort": if p.host_port == 0 { String::new() } else { p.host_port.to_string() }}));
        }
    }
    if !bindings_only {
        for e in &rec.config.exposed_ports {
            out.entry(e.clone()).or_insert(Value::Null);
        }
    }
    out
}

fn inspect_json(engine: &Engine, rec: &ContainerRecord) -> Value {
    let c = &rec.config;
    let paths = &engine.ctx.paths;
    let bundle = paths.bundle(&rec.id);
    let health = c.healthcheck.as_ref().map(|h| {
        json!({"Test": h.test, "Interval": h.interval.as_nanos() as u64, "Timeout": h.timeout.as_nanos() as u64,
               "Retries": h.retries, "StartPeriod": h.start_period.as_nanos() as u64})
    });
    let exposed: Map<String, Value> = c
        .exposed_ports
        .iter()
        .map(|p| (p.clone(), json!({})))
        .collect();
    let volumes: Map<String, Value> = c
        .mounts
        .iter()
        .filter(|m| matches!(m, MountConfig::Volume { .. }))
        .map(|m| (m.target().to_owned(), json!({})))
        .collect();
    json!({
        "Id": rec.id,
        "Created": rfc3339_nanos(rec.created_at),
        "Path": c.args.first().cloned().unwrap_or_default(),
        "Args": c.args.iter().skip(1).collect::<Vec<_>>(),
        "State": state_json(rec),
        "Image": rec.image_id,
        "ResolvConfPath": bundle.join("resolv.conf"),
        "HostnamePath": bundle.join("hostname"),
        "HostsPath": bundle.join("hosts"),
        "LogPath": paths.log(&rec.id),
        "Name": format!("/{}", rec.name),
        "RestartCount": rec.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "AppArmorProfile": c.security.apparmor.clone().unwrap_or_default(),
        "HostConfig": host_config(rec),
        "Mounts": mounts_json(rec, engine),
        "Config": {
            "Hostname": c.hostname,
            "Domainname": "",
            "User": c.user,
            "AttachStdin": false,
            "AttachStdout": false,
            "AttachStderr": false,
            "ExposedPorts": exposed,
            "Tty": c.tty,
            "OpenStdin": c.open_stdin,
            "StdinOnce": false,
            "Env": masked_env(&c.env),
            "Cmd": c.cmd,
            "Healthcheck": health,
            "Image": rec.image,
            "Volumes": volumes,
            "WorkingDir": c.working_dir,
            "Entrypoint": c.entrypoint,
            "Labels": c.labels,
            "StopSignal": c.stop_signal,
            "StopTimeout": c.stop_timeout,
        },
        "NetworkSettings": {
            "Ports": port_map(rec, false),
            "Networks": crate::network::networks_json(&engine.ctx, rec),
            "IPAddress": crate::network::primary_ip(&engine.ctx, rec),
        },
        "Brig": {
            "Warnings": c.warnings,
            "Secrets": c.secrets.iter().map(|s| json!({"Name": s.name, "Target": s.target})).collect::<Vec<_>>(),
            "StopRequested": rec.stop_requested,
        },
    })
}
