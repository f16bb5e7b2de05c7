//! What `--network`, `--ip`, `--network-alias` and `--egress-allow` decide,
//! validated at `create` (pure: no host access) and stored in the container's
//! configuration.

use std::net::IpAddr;

use brig_net::firewall::EgressRule;
use serde::{Deserialize, Serialize};

use crate::config::NetworkMode;
use crate::error::{Error, Result};

/// The network a container joins when `--network` is not given.
pub const DEFAULT_NETWORK: &str = "brig";

/// A container on one or more bridge networks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeConfig {
    /// In `--network` order; the first one carries the default route and the
    /// published ports.
    pub networks: Vec<NetworkAttachment>,
    /// `--egress-allow CIDR[:PORT]`: replaces the networks' allow lists for
    /// this container (empty: the networks' lists apply).
    #[serde(default)]
    pub egress_allow: Vec<String>,
}

impl BridgeConfig {
    /// The first network's name (Docker's `HostConfig.NetworkMode`).
    pub fn primary(&self) -> &str {
        self.networks
            .first()
            .map_or(DEFAULT_NETWORK, |n| n.network.as_str())
    }
}

/// One network a container joins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAttachment {
    pub network: String,
    /// `--ip` (first network only).
    pub ip: Option<IpAddr>,
    /// `--network-alias`: more names other members resolve to this container.
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// The networking flags of `run`/`create`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NetworkFlags<'a> {
    pub network: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub aliases: &'a [String],
    pub egress_allow: &'a [String],
}

/// Validates the flags into a [`NetworkMode`]. An empty `--network` (or
/// `bridge`/`default`, Docker's names) is the default network.
pub fn parse_network_flags(flags: &NetworkFlags<'_>) -> Result<NetworkMode> {
    let spec = flags.network.unwrap_or("").trim();
    let mode = match spec {
        "none" => NetworkMode::None,
        "host" => NetworkMode::Host,
        _ if spec.starts_with("container:") => {
            let target = &spec["container:".len()..];
            if target.is_empty() {
                return Err(Error::invalid(
                    "--network",
                    spec,
                    "container: needs a container name or ID",
                ));
            }
            NetworkMode::Container(target.to_owned())
        }
        _ => NetworkMode::Bridge(bridge_config(spec, flags)?),
    };
    let bridged = matches!(mode, NetworkMode::Bridge(_));
    for (flag, given) in [
        ("--ip", flags.ip.is_some()),
        ("--network-alias", !flags.aliases.is_empty()),
        ("--egress-allow", !flags.egress_allow.is_empty()),
    ] {
        if given && !bridged {
            return Err(Error::ConflictingOptions(format!(
                "{flag} needs a bridge network, not --network {spec}"
            )));
        }
    }
    Ok(mode)
}

fn bridge_config(spec: &str, flags: &NetworkFlags<'_>) -> Result<BridgeConfig> {
    let ip = flags
        .ip
        .map(|ip| brig_net::ipam::parse_ip("--ip", ip))
        .transpose()
        .map_err(|e| Error::invalid("--ip", flags.ip.unwrap_or(""), e.to_string()))?;
    for alias in flags.aliases {
        if !valid_hostname(alias) {
            return Err(Error::invalid(
                "--network-alias",
                alias,
                "a name is letters, digits, '-', '_' and '.'",
            ));
        }
    }
    for rule in flags.egress_allow {
        EgressRule::parse(rule)
            .map_err(|e| Error::invalid("--egress-allow", rule, e.to_string()))?;
    }
    let mut networks = Vec::new();
    let names: Vec<&str> = if spec.is_empty() {
        vec![DEFAULT_NETWORK]
    } else {
        spec.split(',').map(str::trim).collect()
    };
    for name in names {
        let name = match name {
            "bridge" | "default" => DEFAULT_NETWORK,
            other => other,
        };
        if !valid_network_name(name) {
            return Err(Error::invalid(
                "--network",
                spec,
                format!(
                    "{name:?} is not a network name (none, host, container:NAME, or NET[,NET...])"
                ),
            ));
        }
        if networks
            .iter()
            .any(|n: &NetworkAttachment| n.network == name)
        {
            return Err(Error::invalid(
                "--network",
                spec,
                "a network is listed twice",
            ));
        }
        networks.push(NetworkAttachment {
            network: name.to_owned(),
            ip: if networks.is_empty() { ip } else { None },
            aliases: flags.aliases.to_vec(),
        });
    }
    Ok(BridgeConfig {
        networks,
        egress_allow: flags.egress_allow.to_vec(),
    })
}

/// Network names: like container names, `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn valid_network_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && name.len() <= 64
}

fn valid_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(network: Option<&str>, ip: Option<&str>) -> Result<NetworkMode> {
        parse_network_flags(&NetworkFlags {
            network,
            ip,
            ..NetworkFlags::default()
        })
    }

    #[test]
    fn default_is_the_brig_bridge_and_docker_names_map_to_it() {
        for spec in [None, Some(""), Some("bridge"), Some("default")] {
            let NetworkMode::Bridge(b) = parse(spec, None).unwrap() else {
                panic!("{spec:?} is not a bridge");
            };
            assert_eq!(b.primary(), DEFAULT_NETWORK);
        }
        assert_eq!(parse(Some("none"), None).unwrap(), NetworkMode::None);
        assert_eq!(
            parse(Some("container:web"), None).unwrap(),
            NetworkMode::Container("web".into())
        );
    }

    #[test]
    fn ip_goes_to_the_first_of_several_networks() {
        let NetworkMode::Bridge(b) = parse(Some("a,b"), Some("10.1.0.5")).unwrap() else {
            panic!("not a bridge");
        };
        assert_eq!(b.networks.len(), 2);
        assert_eq!(b.networks[0].ip, Some("10.1.0.5".parse().unwrap()));
        assert_eq!(b.networks[1].ip, None);
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let err = parse(Some("host"), Some("10.1.0.5"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--ip"), "{err}");
        let err = parse(None, Some("10.1.0")).unwrap_err().to_string();
        assert!(err.contains("--ip"), "{err}");
        let err = parse(Some("a,a"), None).unwrap_err().to_string();
        assert!(err.contains("twice"), "{err}");
        let err = parse(Some("bad/name"), None).unwrap_err().to_string();
        assert!(err.contains("not a network name"), "{err}");
        let err = parse_network_flags(&NetworkFlags {
            egress_allow: &["10.0.0.0/8:x".to_owned()],
            ..NetworkFlags::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("--egress-allow"), "{err}");
    }
}
