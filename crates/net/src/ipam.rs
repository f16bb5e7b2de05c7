//! Pure IP address management: subnets, gateways, allocation and release.
//!
//! Nothing here does I/O. The caller (the engine) owns the persisted set of
//! allocated addresses and the list of routes/networks already on the host,
//! and passes them in as data.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net};

/// What went wrong while planning addresses. Each message names the flag to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    #[error("{flag} {value:?} is not a valid {expected}")]
    Parse {
        flag: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("--subnet {subnet}: {reason}")]
    InvalidSubnet {
        subnet: String,
        reason: &'static str,
    },
    #[error(
        "--subnet {subnet} overlaps {existing}, which is already in use on this host; pick another range"
    )]
    SubnetOverlaps { subnet: IpNet, existing: IpNet },
    #[error("--gateway {gateway} is not inside --subnet {subnet}")]
    GatewayOutside { gateway: IpAddr, subnet: IpNet },
    #[error("--gateway {gateway} is the {what} address of {subnet}; use a host address")]
    GatewayReserved {
        gateway: IpAddr,
        subnet: IpNet,
        what: &'static str,
    },
    #[error("--ip {ip} is not inside the network's subnet {subnet}")]
    IpOutside { ip: IpAddr, subnet: IpNet },
    #[error("--ip {ip} is the {what} address of {subnet}; pick another address")]
    IpReserved {
        ip: IpAddr,
        subnet: IpNet,
        what: &'static str,
    },
    #[error("--ip {ip} is already used by another container on this network")]
    IpTaken { ip: IpAddr },
    #[error(
        "subnet {subnet} has no free address left; remove containers or create a network with a larger --subnet"
    )]
    Exhausted { subnet: IpNet },
    #[error(
        "no free default subnet: every candidate overlaps a host route or network; create the network with --subnet"
    )]
    NoFreeDefaultSubnet,
}

/// A validated subnet with its gateway (the bridge's address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    net: IpNet,
    gateway: IpAddr,
}

impl Subnet {
    /// Validates `net` (must be a network address with room for hosts) and the
    /// optional gateway (default: the first host address).
    pub fn new(net: IpNet, gateway: Option<IpAddr>) -> Result<Self, IpamError> {
        if net.trunc() != net {
            return Err(IpamError::InvalidSubnet {
                subnet: net.to_string(),
                reason: "has host bits set; use the network address (e.g. 10.89.0.0/24)",
            });
        }
        if net.max_prefix_len() - net.prefix_len() < 2 {
            return Err(IpamError::InvalidSubnet {
                subnet: net.to_string(),
                reason: "is too small; it needs room for a gateway and at least one container",
            });
        }
        let gateway = match gateway {
            Some(gateway) => gateway,
            None => from_u128(net, to_u128(net.network()) + 1),
        };
        if !net.contains(&gateway) {
            return Err(IpamError::GatewayOutside {
                gateway,
                subnet: net,
            });
        }
        if let Some(what) = reserved_kind(net, gateway) {
            return Err(IpamError::GatewayReserved {
                gateway,
                subnet: net,
                what,
            });
        }
        Ok(Subnet { net, gateway })
    }

    /// Parses the `--subnet` and `--gateway` flag values.
    pub fn parse(subnet: &str, gateway: Option<&str>) -> Result<Self, IpamError> {
        let net: IpNet = subnet.trim().parse().map_err(|_| IpamError::Parse {
            flag: "--subnet",
            value: subnet.to_string(),
            expected: "CIDR subnet (e.g. 10.89.0.0/24 or fd00:89::/64)",
        })?;
        let gateway = gateway.map(|g| parse_ip("--gateway", g)).transpose()?;
        Self::new(net, gateway)
    }

    pub fn network(&self) -> IpNet {
        self.net
    }

    pub fn gateway(&self) -> IpAddr {
        self.gateway
    }

    pub fn prefix_len(&self) -> u8 {
        self.net.prefix_len()
    }

    /// Checks an explicit `--ip` request against the subnet and the allocated set.
    pub fn check_request(&self, ip: IpAddr, allocated: &BTreeSet<IpAddr>) -> Result<(), IpamError> {
        if !self.net.contains(&ip) {
            return Err(IpamError::IpOutside {
                ip,
                subnet: self.net,
            });
        }
        if ip == self.gateway {
            return Err(IpamError::IpReserved {
                ip,
                subnet: self.net,
                what: "gateway",
            });
        }
        if let Some(what) = reserved_kind(self.net, ip) {
            return Err(IpamError::IpReserved {
                ip,
                subnet: self.net,
                what,
            });
        }
        if allocated.contains(&ip) {
            return Err(IpamError::IpTaken { ip });
        }
        Ok(())
    }

    /// The lowest usable address that is neither the gateway nor allocated.
    pub fn next_free(&self, allocated: &BTreeSet<IpAddr>) -> Result<IpAddr, IpamError> {
        let (first, last) = usable_range(self.net);
        // Each step skips the gateway or an allocated address, so the walk is
        // bounded by allocated.len() + 2 even in a /64.
        let mut candidate = first;
        while candidate <= last {
            let ip = from_u128(self.net, candidate);
            if ip != self.gateway && !allocated.contains(&ip) {
                return Ok(ip);
            }
            candidate += 1;
        }
        Err(IpamError::Exhausted { subnet: self.net })
    }
}

/// One subnet plus the addresses handed out in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    subnet: Subnet,
    allocated: BTreeSet<IpAddr>,
}

impl Pool {
    pub fn new(subnet: Subnet, allocated: BTreeSet<IpAddr>) -> Self {
        Pool { subnet, allocated }
    }

    pub fn subnet(&self) -> &Subnet {
        &self.subnet
    }

    pub fn allocated(&self) -> &BTreeSet<IpAddr> {
        &self.allocated
    }

    /// Allocates `requested` (an `--ip`) or the next free address.
    pub fn allocate(&mut self, requested: Option<IpAddr>) -> Result<IpAddr, IpamError> {
        let ip = match requested {
            Some(ip) => {
                self.subnet.check_request(ip, &self.allocated)?;
                ip
            }
            None => self.subnet.next_free(&self.allocated)?,
        };
        self.allocated.insert(ip);
        Ok(ip)
    }

    /// Returns `ip` to the pool; false when it was not allocated.
    pub fn release(&mut self, ip: IpAddr) -> bool {
        self.allocated.remove(&ip)
    }
}

/// Parses an address flag such as `--ip` or `--gateway`.
pub fn parse_ip(flag: &'static str, value: &str) -> Result<IpAddr, IpamError> {
    value.trim().parse().map_err(|_| IpamError::Parse {
        flag,
        value: value.to_string(),
        expected: "IP address",
    })
}

/// Refuses a user-given `--subnet` that overlaps a host route or another network.
pub fn check_no_overlap(subnet: IpNet, in_use: &[IpNet]) -> Result<(), IpamError> {
    match in_use.iter().find(|existing| overlaps(subnet, **existing)) {
        Some(existing) => Err(IpamError::SubnetOverlaps {
            subnet,
            existing: *existing,
        }),
        None => Ok(()),
    }
}

/// Candidate IPv4 subnets for networks created without `--subnet`:
/// 10.88.0.0/16 (the default `brig` network), then 10.89.0.0/24 .. 10.89.255.0/24.
pub fn default_candidates() -> impl Iterator<Item = IpNet> {
    let first = Ipv4Net::new(Ipv4Addr::new(10, 88, 0, 0), 16).map(IpNet::V4);
    let rest =
        (0..=255u8).map(|third| Ipv4Net::new(Ipv4Addr::new(10, 89, third, 0), 24).map(IpNet::V4));
    std::iter::once(first).chain(rest).filter_map(Result::ok)
}

/// The first candidate that overlaps nothing in `in_use` (host routes and
/// existing networks). Default routes (prefix 0) are ignored: they overlap
/// everything and do not make a subnet unreachable.
pub fn choose_subnet(
    candidates: impl IntoIterator<Item = IpNet>,
    in_use: &[IpNet],
) -> Result<IpNet, IpamError> {
    let in_use: Vec<IpNet> = in_use
        .iter()
        .copied()
        .filter(|n| n.prefix_len() > 0)
        .collect();
    candidates
        .into_iter()
        .find(|candidate| check_no_overlap(*candidate, &in_use).is_ok())
        .ok_or(IpamError::NoFreeDefaultSubnet)
}

fn overlaps(a: IpNet, b: IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Network (both families) and broadcast (IPv4 only) are not host addresses.
fn reserved_kind(net: IpNet, ip: IpAddr) -> Option<&'static str> {
    if ip == net.network() {
        return Some("network");
    }
    if matches!(net, IpNet::V4(_)) && ip == net.broadcast() {
        return Some("broadcast");
    }
    None
}

fn usable_range(net: IpNet) -> (u128, u128) {
    let first = to_u128(net.network()) + 1;
    let last = match net {
        IpNet::V4(_) => to_u128(net.broadcast()) - 1,
        IpNet::V6(_) => to_u128(net.broadcast()),
    };
    (first, last)
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn from_u128(net: IpNet, value: u128) -> IpAddr {
    match net {
        // Values come from inside a v4 subnet, so they fit in u32.
        IpNet::V4(_) => IpAddr::V4(Ipv4Addr::from(value as u32)),
        IpNet::V6(_) => IpAddr::V6(Ipv6Addr::from(value)),
    }
}

#[cfg(test)]
#[path = "ipam_tests.rs"]
mod tests;
