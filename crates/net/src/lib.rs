//! brig networking, netavark-style: small pieces the engine puts together.
//!
//! - [`ipam`]: pure address planning (subnets, gateway, `--ip`, default subnet
//!   choice). The engine persists the allocated set and passes it in.
//! - [`netlink`], [`netns`], [`setup`]: bridge and veth setup through rtnetlink,
//!   never by running `ip`. Work inside another namespace runs on a throwaway
//!   thread that called setns(2). Multi-step setups roll back on failure.
//! - [`firewall`]: the [`firewall::Firewall`] trait and its nftables backend.
//!   The engine renders the whole desired state (all networks and published
//!   ports) into the `inet brig` table, replaced atomically; an empty plan
//!   removes the table, so it goes away with the last network.
//!
//! Typical container start (engine side): `Pool::allocate`, then inside the
//! host namespace `ensure_bridge` + `enable_route_localnet` + `attach_container`,
//! then `NftFirewall::apply` with the new plan. Stop: `detach_container`,
//! `Pool::release`, `apply` again.

pub mod error;
pub mod firewall;
pub mod ipam;
pub mod netlink;
pub mod netns;
pub mod routes;
pub mod setup;

pub use error::NetError;
pub use ipam::{IpamError, Pool, Subnet};
pub use netlink::Netlink;
