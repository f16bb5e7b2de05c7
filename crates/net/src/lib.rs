//! brig networking: IP address planning, netlink bridge/veth setup and
//! nftables rules. Pure planning is kept apart from I/O so most of it is
//! testable without root.

pub mod error;
pub mod firewall;
pub mod ipam;
pub mod netlink;
pub mod netns;
pub mod setup;

pub use error::NetError;
pub use ipam::{IpamError, Pool, Subnet};
pub use netlink::Netlink;
