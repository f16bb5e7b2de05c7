//! Networking errors as the engine reports them.

use crate::error::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("no such network: {0}; create it with `brig network create {0}`")]
    NoSuchNetwork(String),
    #[error("a network named {0} already exists")]
    NetworkExists(String),
    #[error(
        "network {name} has active containers ({containers}); stop them or `brig network disconnect` them first"
    )]
    NetworkInUse { name: String, containers: String },
    #[error(
        "network {network}: subnet {subnet} overlaps {route}, a route already on this host; recreate the network with another --subnet"
    )]
    SubnetOnHost {
        network: String,
        subnet: ipnet::IpNet,
        route: ipnet::IpNet,
    },
    #[error("-p {port}/{protocol}: the host port is in use by another program; pick another")]
    HostPortBusy { port: u16, protocol: String },
    #[error("cannot take the network lock {path}: {source}")]
    Lock {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("network {network}: {source}")]
    Ipam {
        network: String,
        source: brig_net::IpamError,
    },
    #[error(transparent)]
    Firewall(#[from] brig_net::firewall::FirewallError),
    #[error(transparent)]
    Link(#[from] brig_net::NetError),
}

impl From<NetworkError> for crate::error::Error {
    fn from(e: NetworkError) -> Self {
        crate::error::Error::Network(Box::new(e))
    }
}

impl NetworkError {
    pub fn kind(&self) -> ErrorKind {
        use brig_net::firewall::FirewallError as F;
        match self {
            NetworkError::NoSuchNetwork(_) => ErrorKind::NotFound,
            NetworkError::NetworkExists(_)
            | NetworkError::NetworkInUse { .. }
            | NetworkError::SubnetOnHost { .. }
            | NetworkError::HostPortBusy { .. } => ErrorKind::Conflict,
            NetworkError::Ipam { .. } => ErrorKind::Invalid,
            NetworkError::Firewall(
                F::InvalidPublish { .. }
                | F::InvalidEgress { .. }
                | F::FamilyMismatch { .. }
                | F::PortTaken { .. }
                | F::NoFreeHostPort { .. },
            ) => ErrorKind::Invalid,
            _ => ErrorKind::System,
        }
    }
}
