//! Packet filtering and NAT for brig networks.
//!
//! The engine describes the whole desired state in a [`FirewallPlan`] (every
//! network and every published port) and hands it to a [`Firewall`], which
//! replaces brig's rules atomically. An empty plan removes them: the table goes
//! away with the last network.

mod nft;
mod ports;

use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;

pub use nft::{NftFirewall, TABLE, render, render_table};
pub use ports::{
    EgressRule, Protocol, PublishSpec, RANDOM_PORT_RANGE, check_port_conflicts, pick_host_port,
};

/// A firewall backend.
pub trait Firewall {
    /// Makes brig's rules match `plan` (all at once, or not at all).
    fn apply(&self, plan: &FirewallPlan) -> Result<(), FirewallError>;
    /// Removes every rule brig installed.
    fn remove(&self) -> Result<(), FirewallError>;
}

/// Everything brig's firewall must do, for all networks at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirewallPlan {
    pub networks: Vec<NetworkRules>,
    pub forwards: Vec<PortForward>,
}

impl FirewallPlan {
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty() && self.forwards.is_empty()
    }
}

/// Rules for one bridge network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRules {
    pub name: String,
    pub bridge: String,
    pub subnets: Vec<IpNet>,
    /// `--internal`: no traffic leaves the bridge, no masquerade.
    pub internal: bool,
    /// `--egress-allow`: when Some, new outbound connections go only to these.
    pub egress_allow: Option<Vec<EgressRule>>,
    /// Per-container `--egress-allow` lists; a container's list replaces the network's.
    pub container_egress: Vec<ContainerEgress>,
}

/// One container's own egress allow list, keyed by its address on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEgress {
    pub address: IpAddr,
    pub allow: Vec<EgressRule>,
}

/// A published port, resolved to the container's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortForward {
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_ip: IpAddr,
    pub container_port: u16,
    pub protocol: Protocol,
}

/// What went wrong rendering or applying firewall rules.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error("-p {value}: {reason}")]
    InvalidPublish { value: String, reason: &'static str },
    #[error("--egress-allow {value}: expected CIDR[:PORT], e.g. 10.1.0.0/16:443")]
    InvalidEgress { value: String },
    #[error(
        "-p {host_ip}:{host_port}: the host address and the container address {container_ip} are of different IP families"
    )]
    FamilyMismatch {
        host_ip: IpAddr,
        host_port: u16,
        container_ip: IpAddr,
    },
    #[error(
        "-p {host_port}/{protocol}: the host port is already published for {container_ip}; pick another host port"
    )]
    PortTaken {
        host_port: u16,
        protocol: Protocol,
        container_ip: IpAddr,
    },
    #[error("no free host port in {first}-{last} for -p; give the host port explicitly")]
    NoFreeHostPort { first: u16, last: u16 },
    #[error("cannot run {program}: {source}; install nftables")]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} refused brig's rules: {stderr}")]
    Rejected { program: PathBuf, stderr: String },
    #[error(transparent)]
    Netns(#[from] crate::NetError),
}
