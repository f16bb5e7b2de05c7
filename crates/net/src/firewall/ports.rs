//! Parsing of `-p [IP:]HOST:CTR[/tcp|udp]`, `-p CTR` and `--egress-allow CIDR[:PORT]`.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use std::ops::RangeInclusive;

use super::{FirewallError, PortForward};

/// Transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// A `-p` flag as the user wrote it; `host_port` None means "pick a free one".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishSpec {
    pub host_ip: Option<IpAddr>,
    pub host_port: Option<u16>,
    pub container_port: u16,
    pub protocol: Protocol,
}

impl PublishSpec {
    /// Parses `[IP:]HOST:CTR[/tcp|udp]`, `IP::CTR` or `CTR[/proto]` (the last two
    /// leave the host port to the engine); IPv6 host IPs go in brackets.
    pub fn parse(value: &str) -> Result<Self, FirewallError> {
        let bad = |reason: &'static str| FirewallError::InvalidPublish {
            value: value.to_string(),
            reason,
        };
        let (ports, protocol) = match value.rsplit_once('/') {
            Some((ports, "tcp")) => (ports, Protocol::Tcp),
            Some((ports, "udp")) => (ports, Protocol::Udp),
            Some(_) => return Err(bad("the protocol must be tcp or udp")),
            None => (value, Protocol::Tcp),
        };
        let (host_ip, ports) =
            split_host_ip(ports).ok_or_else(|| bad("the host IP is not a valid address"))?;
        let parts: Vec<&str> = ports.split(':').collect();
        let (host_port, container_port) = match parts.as_slice() {
            [container] => (None, *container),
            [host, container] => (Some(*host), *container),
            _ => return Err(bad("expected [IP:]HOST:CTR[/tcp|udp] or CTR")),
        };
        let container_port =
            parse_port(container_port).ok_or_else(|| bad("the container port must be 1-65535"))?;
        let host_port = match host_port.filter(|port| !port.is_empty()) {
            Some(port) => {
                Some(parse_port(port).ok_or_else(|| bad("the host port must be 1-65535"))?)
            }
            None => None,
        };
        Ok(PublishSpec {
            host_ip,
            host_port,
            container_port,
            protocol,
        })
    }
}

/// Splits a leading `IP:` or `[IPv6]:` off; None when the IP part is malformed.
fn split_host_ip(ports: &str) -> Option<(Option<IpAddr>, &str)> {
    if let Some(rest) = ports.strip_prefix('[') {
        let (ip, rest) = rest.split_once("]:")?;
        return Some((Some(ip.parse().ok()?), rest));
    }
    let colons = ports.matches(':').count();
    if colons < 2 {
        return Some((None, ports));
    }
    let (ip, rest) = ports.split_once(':')?;
    if ip.is_empty() {
        return Some((None, rest));
    }
    Some((Some(ip.parse().ok()?), rest))
}

fn parse_port(value: &str) -> Option<u16> {
    value.parse::<u16>().ok().filter(|port| *port != 0)
}

/// One `--egress-allow` entry: a destination and optionally one port (tcp and udp).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EgressRule {
    pub destination: IpNet,
    pub port: Option<u16>,
}

impl EgressRule {
    /// Parses `CIDR[:PORT]` (e.g. `10.1.0.0/16:443`, `fd00::/64:53`) or a bare address.
    pub fn parse(value: &str) -> Result<Self, FirewallError> {
        let bad = || FirewallError::InvalidEgress {
            value: value.to_string(),
        };
        let (net, port) = match value.split_once('/') {
            Some((addr, rest)) => match rest.split_once(':') {
                Some((prefix, port)) => (format!("{addr}/{prefix}"), Some(port)),
                None => (value.to_string(), None),
            },
            None => return bare_address(value).ok_or_else(bad),
        };
        let destination: IpNet = net.parse().map_err(|_| bad())?;
        let port = match port {
            Some(port) => Some(parse_port(port).ok_or_else(bad)?),
            None => None,
        };
        Ok(EgressRule {
            destination: destination.trunc(),
            port,
        })
    }
}

/// `1.2.3.4`, `1.2.3.4:53` or `fd00::1` (no port for a bare IPv6 address).
fn bare_address(value: &str) -> Option<EgressRule> {
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Some(EgressRule {
            destination: IpNet::from(ip),
            port: None,
        });
    }
    let (ip, port) = value.rsplit_once(':')?;
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    Some(EgressRule {
        destination: IpNet::from(IpAddr::V4(ip)),
        port: Some(parse_port(port)?),
    })
}

/// Host ports handed out for `-p CTR` (the kernel's default ephemeral range).
pub const RANDOM_PORT_RANGE: RangeInclusive<u16> = 32768..=60999;

/// Picks the lowest port in `range` that no forward uses for `protocol`
/// (the engine still has to check that no other program listens on it).
pub fn pick_host_port(
    forwards: &[PortForward],
    protocol: Protocol,
    range: RangeInclusive<u16>,
) -> Result<u16, FirewallError> {
    let (first, last) = (*range.start(), *range.end());
    range
        .into_iter()
        .find(|port| {
            !forwards
                .iter()
                .any(|f| f.protocol == protocol && f.host_port == *port)
        })
        .ok_or(FirewallError::NoFreeHostPort { first, last })
}

/// Refuses two forwards of one protocol and host port whose host addresses
/// overlap (equal, or either one unspecified, meaning every address).
pub fn check_port_conflicts(forwards: &[PortForward]) -> Result<(), FirewallError> {
    for (index, forward) in forwards.iter().enumerate() {
        let clash = forwards[..index].iter().find(|earlier| {
            earlier.protocol == forward.protocol
                && earlier.host_port == forward.host_port
                && (earlier.host_ip.is_none()
                    || forward.host_ip.is_none()
                    || earlier.host_ip == forward.host_ip)
        });
        if let Some(earlier) = clash {
            return Err(FirewallError::PortTaken {
                host_port: forward.host_port,
                protocol: forward.protocol,
                container_ip: earlier.container_ip,
            });
        }
    }
    Ok(())
}
