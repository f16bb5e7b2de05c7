//! Small flag parsers: `--ulimit`, `--sysctl`, `--restart`, `--log-opt`,
//! `-p`, `--env-file`, `--label`, `--security-opt`, `--userns`,
//! `--network`, `--device`.

use std::collections::BTreeMap;

use crate::config::{LogConfig, NetworkMode, PortBinding, RestartPolicy, Ulimit, UsernsMode};
use crate::error::{Error, Result};

const ULIMITS: &[&str] = &[
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// `nofile=1024[:2048]` (`-1` for unlimited).
pub fn parse_ulimit(spec: &str) -> Result<Ulimit> {
    let flag = "--ulimit";
    let (name, values) = spec.split_once('=').ok_or_else(|| {
        Error::invalid(
            flag,
            spec,
            "expected NAME=SOFT[:HARD], e.g. nofile=1024:2048",
        )
    })?;
    if !ULIMITS.contains(&name) {
        return Err(Error::invalid(
            flag,
            spec,
            format!("unknown limit {name:?} (one of {})", ULIMITS.join(", ")),
        ));
    }
    let num = |v: &str| -> Result<u64> {
        if v == "-1" || v == "unlimited" {
            return Ok(u64::MAX);
        }
        v.parse()
            .map_err(|_| Error::invalid(flag, spec, format!("{v:?} is not a number")))
    };
    let (soft, hard) = match values.split_once(':') {
        Some((s, h)) => (num(s)?, num(h)?),
        None => {
            let v = num(values)?;
            (v, v)
        }
    };
    if soft > hard {
        return Err(Error::invalid(
            flag,
            spec,
            "the soft limit is above the hard limit",
        ));
    }
    Ok(Ulimit {
        name: name.to_owned(),
        soft,
        hard,
    })
}

/// `--sysctl KEY=VALUE`: only sysctls the container's own namespaces
/// isolate (as Docker allows): IPC (`kernel.msg*`, `kernel.sem`,
/// `kernel.shm*`, `fs.mqueue.*`), UTS (`kernel.domainname`) and, with a
/// private network namespace, `net.*`.
pub fn parse_sysctl(spec: &str, network: &NetworkMode) -> Result<(String, String)> {
    let flag = "--sysctl";
    let (key, value) = spec.split_once('=').ok_or_else(|| {
        Error::invalid(
            flag,
            spec,
            "expected KEY=VALUE, e.g. net.core.somaxconn=1024",
        )
    })?;
    let ipc = matches!(
        key,
        "kernel.msgmax"
            | "kernel.msgmnb"
            | "kernel.msgmni"
            | "kernel.sem"
            | "kernel.shmall"
            | "kernel.shmmax"
            | "kernel.shmmni"
            | "kernel.shm_rmid_forced"
    ) || key.starts_with("fs.mqueue.");
    let net = key.starts_with("net.");
    if net && *network == NetworkMode::Host {
        return Err(Error::invalid(
            flag,
            spec,
            "net.* sysctls would change the host with --network host",
        ));
    }
    if !(ipc || net || key == "kernel.domainname") {
        return Err(Error::invalid(
            flag,
            spec,
            "not a namespaced sysctl (allowed: kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, kernel.domainname, net.*)",
        ));
    }
    Ok((key.to_owned(), value.to_owned()))
}

/// `no`, `on-failure[:N]`, `always`, `unless-stopped`.
pub fn parse_restart(spec: &str) -> Result<RestartPolicy> {
    let flag = "--restart";
    let (name, count) = match spec.split_once(':') {
        Some((n, c)) => (n, Some(c)),
        None => (spec, None),
    };
    let policy = match (name, count) {
        ("no" | "", None) => RestartPolicy::No,
        ("always", None) => RestartPolicy::Always,
        ("unless-stopped", None) => RestartPolicy::UnlessStopped,
        ("on-failure", None) => RestartPolicy::OnFailure(0),
        ("on-failure", Some(c)) => RestartPolicy::OnFailure(c.parse().map_err(|_| {
            Error::invalid(
                flag,
                spec,
                "the retry count must be a number, e.g. on-failure:3",
            )
        })?),
        (_, Some(_)) => {
            return Err(Error::invalid(
                flag,
                spec,
                "only on-failure takes a retry count",
            ));
        }
        _ => {
            return Err(Error::invalid(
                flag,
                spec,
                "expected no, on-failure[:N], always or unless-stopped",
            ));
        }
    };
    Ok(policy)
}

/// `--log-opt max-size=10m`, `--log-opt max-file=3`.
pub fn parse_log_opts(opts: &[String]) -> Result<LogConfig> {
    let flag = "--log-opt";
    let mut log = LogConfig {
        max_size: None,
        max_file: 1,
    };
    for spec in opts {
        match spec.split_once('=') {
            Some(("max-size", "-1")) => log.max_size = None,
            Some(("max-size", v)) => {
                let size = super::units::parse_size(flag, v)?;
                if size < 4096 {
                    return Err(Error::invalid(flag, spec, "max-size must be at least 4k"));
                }
                log.max_size = Some(size as u64);
            }
            Some(("max-file", v)) => {
                log.max_file =
                    v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                        Error::invalid(flag, spec, "max-file must be a number >= 1")
                    })?;
            }
            _ => {
                return Err(Error::invalid(
                    flag,
                    spec,
                    "supported options: max-size=SIZE, max-file=N",
                ));
            }
        }
    }
    if log.max_file > 1 && log.max_size.is_none() {
        return Err(Error::invalid(
            flag,
            &format!("max-file={}", log.max_file),
            "max-file needs max-size",
        ));
    }
    Ok(log)
}

/// `-p [IP:][HOST:]CONTAINER[/PROTO]` (one port; a missing host port is 0:
/// chosen when networking exists).
pub fn parse_publish(spec: &str) -> Result<PortBinding> {
    let flag = "-p";
    let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    if !matches!(proto, "tcp" | "udp" | "sctp") {
        return Err(Error::invalid(
            flag,
            spec,
            "the protocol must be tcp, udp or sctp",
        ));
    }
    let port = |p: &str| -> Result<u16> {
        p.parse::<u16>().ok().filter(|n| *n > 0).ok_or_else(|| {
            Error::invalid(flag, spec, format!("{p:?} is not a port number (1-65535)"))
        })
    };
    let parts: Vec<&str> = match ports.rsplit_once(':') {
        None => vec![ports],
        Some((front, ctr)) => match front.rsplit_once(':') {
            Some((ip, host)) => vec![ip, host, ctr],
            None => vec![front, ctr],
        },
    };
    let (ip, host, ctr) = match parts.as_slice() {
        [ctr] => ("", "", *ctr),
        [host, ctr] => ("", *host, *ctr),
        [ip, host, ctr] => (*ip, *host, *ctr),
        _ => unreachable!("split into at most three parts"),
    };
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(Error::invalid(
            flag,
            spec,
            format!("{ip:?} is not an IP address"),
        ));
    }
    Ok(PortBinding {
        host_ip: ip.to_owned(),
        host_port: if host.is_empty() { 0 } else { port(host)? },
        container_port: port(ctr)?,
        protocol: proto.to_owned(),
    })
}

/// The lines of an env file: `KEY=VALUE`, or `KEY` (taken from `host_env`);
/// `#` comments and blank lines skipped.
pub fn parse_env_file(
    path: &str,
    text: &str,
    host_env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = line.split('=').next().unwrap_or(line);
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(Error::invalid(
                "--env-file",
                path,
                format!("line {}: {key:?} is not a variable name", n + 1),
            ));
        }
        if line.contains('=') {
            out.push(line.to_owned());
        } else if let Some(v) = host_env(line) {
            out.push(format!("{line}={v}"));
        }
    }
    Ok(out)
}

/// `-e KEY=VALUE` as is; `-e KEY` takes the value from `host_env` (or is dropped).
pub fn expand_env(spec: &str, host_env: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>> {
    if spec.is_empty() || spec.starts_with('=') {
        return Err(Error::invalid("-e", spec, "expected KEY=VALUE or KEY"));
    }
    if spec.contains('=') {
        return Ok(Some(spec.to_owned()));
    }
    Ok(host_env(spec).map(|v| format!("{spec}={v}")))
}

/// `--label k=v` (or `k`, an empty value).
pub fn parse_labels(specs: &[String]) -> BTreeMap<String, String> {
    specs
        .iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (s.clone(), String::new()),
        })
        .collect()
}

/// `--userns host|auto` (empty: host).
pub fn parse_userns(spec: &str) -> Result<UsernsMode> {
    match spec {
        "" | "host" => Ok(UsernsMode::Host),
        "auto" => Ok(UsernsMode::Auto),
        _ => Err(Error::invalid("--userns", spec, "expected host or auto")),
    }
}

/// `--device HOST[:CONTAINER][:PERMS]` split (the host node is examined later).
pub fn split_device(spec: &str) -> Result<(String, String, String)> {
    let flag = "--device";
    let parts: Vec<&str> = spec.split(':').collect();
    let is_perms = |p: &str| !p.is_empty() && p.chars().all(|c| "rwm".contains(c));
    let (host, ctr, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, p] if is_perms(p) => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] => (*h, *c, *p),
        _ => {
            return Err(Error::invalid(
                flag,
                spec,
                "expected HOST-DEVICE[:CONTAINER-PATH][:PERMISSIONS]",
            ));
        }
    };
    if !host.starts_with('/') || !ctr.starts_with('/') {
        return Err(Error::invalid(flag, spec, "device paths must be absolute"));
    }
    if !is_perms(perms) {
        return Err(Error::invalid(
            flag,
            spec,
            "permissions are some of r, w and m",
        ));
    }
    Ok((host.to_owned(), ctr.to_owned(), perms.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulimits() {
        let u = parse_ulimit("nofile=1024:2048").unwrap();
        assert_eq!((u.soft, u.hard), (1024, 2048));
        assert_eq!(parse_ulimit("nproc=-1").unwrap().soft, u64::MAX);
        assert!(parse_ulimit("nofile=10:5").is_err());
        assert!(parse_ulimit("bogus=1").is_err());
        assert!(parse_ulimit("nofile").is_err());
    }

    #[test]
    fn sysctls_must_be_namespaced() {
        assert!(parse_sysctl("net.core.somaxconn=1024", &NetworkMode::None).is_ok());
        assert!(parse_sysctl("kernel.shmmax=1", &NetworkMode::None).is_ok());
        assert!(parse_sysctl("net.ipv4.ip_forward=1", &NetworkMode::Host).is_err());
        assert!(parse_sysctl("vm.swappiness=1", &NetworkMode::None).is_err());
        assert!(parse_sysctl("kernel.hostname", &NetworkMode::None).is_err());
    }

    #[test]
    fn restart_policies() {
        assert_eq!(
            parse_restart("on-failure:3").unwrap(),
            RestartPolicy::OnFailure(3)
        );
        assert_eq!(parse_restart("always").unwrap(), RestartPolicy::Always);
        assert!(parse_restart("always:3").is_err());
        assert!(parse_restart("sometimes").is_err());
        assert!(RestartPolicy::OnFailure(2).should_restart(1, 1, false));
        assert!(!RestartPolicy::OnFailure(2).should_restart(1, 2, false));
        assert!(!RestartPolicy::OnFailure(0).should_restart(0, 0, false));
        assert!(!RestartPolicy::Always.should_restart(0, 0, true));
    }

    #[test]
    fn log_opts() {
        let l = parse_log_opts(&["max-size=1m".into(), "max-file=3".into()]).unwrap();
        assert_eq!((l.max_size, l.max_file), (Some(1 << 20), 3));
        assert!(parse_log_opts(&["max-file=3".into()]).is_err());
        assert!(parse_log_opts(&["mode=non-blocking".into()]).is_err());
    }

    #[test]
    fn publish_forms() {
        let p = parse_publish("127.0.0.1:8080:80/udp").unwrap();
        assert_eq!(
            (
                p.host_ip.as_str(),
                p.host_port,
                p.container_port,
                p.protocol.as_str()
            ),
            ("127.0.0.1", 8080, 80, "udp")
        );
        assert_eq!(parse_publish("80").unwrap().host_port, 0);
        assert_eq!(parse_publish("8080:80").unwrap().host_port, 8080);
        assert!(parse_publish("70000:80").is_err());
        assert!(parse_publish("x:1:2").is_err());
    }

    #[test]
    fn env_files_and_host_values() {
        let host = |k: &str| (k == "HOME").then(|| "/root".to_owned());
        let env = parse_env_file("f", "# c\n\nA=1\nHOME\nMISSING\n", &host).unwrap();
        assert_eq!(env, ["A=1", "HOME=/root"]);
        assert!(parse_env_file("f", "BAD KEY=1", &host).is_err());
        assert_eq!(
            expand_env("HOME", &host).unwrap().as_deref(),
            Some("HOME=/root")
        );
        assert!(expand_env("=x", &host).is_err());
    }

    #[test]
    fn devices() {
        assert_eq!(
            split_device("/dev/fuse").unwrap(),
            ("/dev/fuse".into(), "/dev/fuse".into(), "rwm".into())
        );
        assert_eq!(split_device("/dev/a:r").unwrap().2, "r");
        assert_eq!(split_device("/dev/a:/dev/b:rw").unwrap().1, "/dev/b");
        assert!(split_device("/dev/a:/dev/b:x").is_err());
    }
}
