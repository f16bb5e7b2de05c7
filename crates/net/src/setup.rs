//! Multi-step link setup: the network's bridge and one container's veth.
//!
//! Each step that creates something pushes its undo onto a [`Rollback`]; if a
//! later step fails, dropping the rollback removes what was made, so a failed
//! setup leaves no half-configured links behind.

use std::net::IpAddr;
use std::os::fd::AsFd;
use std::path::PathBuf;

use crate::error::NetError;
use crate::ipam::Subnet;
use crate::netlink::{Netlink, check_link_name};
use crate::netns::{open_netns, run_in_netns};

/// The name of the container's first interface inside its namespace.
pub const CONTAINER_IFNAME: &str = "eth0";

/// Longest host-side veth name brig uses (IFNAMSIZ - 1 would be 15): room
/// for a suffix, as the earlier two-step creation needed.
pub const MAX_HOST_IFNAME: usize = 13;

/// A bridge for one network, with the gateway addresses of its subnets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeSpec {
    pub name: String,
    pub subnets: Vec<Subnet>,
    pub mtu: u32,
}

/// One container's attachment to a bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerLinkSpec {
    /// The host end of the veth pair (e.g. "brig" + 9 hex digits of the id),
    /// at most 13 bytes.
    pub host_ifname: String,
    pub bridge: String,
    /// The interface name inside the container (eth0, eth1, ...).
    pub container_ifname: String,
    /// The container's network namespace (e.g. /proc/PID/ns/net or /run/netns/NAME).
    pub netns: PathBuf,
    /// Addresses for eth0 with the subnet each belongs to (one per family).
    pub addresses: Vec<(IpAddr, Subnet)>,
    /// Whether to add default routes via the subnets' gateways (false for --internal
    /// networks only if the engine wants no default route at all).
    pub default_route: bool,
    pub mtu: u32,
    /// Let every user of the namespace open ICMP datagram sockets (`ping`
    /// without CAP_NET_RAW, as Docker does): a sysctl of the namespace.
    pub unprivileged_ping: bool,
}

/// Undo steps run in reverse order on drop unless [`Rollback::commit`] was called.
#[derive(Debug)]
pub struct Rollback<'a> {
    netlink: &'a Netlink,
    created_links: Vec<u32>,
}

impl<'a> Rollback<'a> {
    pub fn new(netlink: &'a Netlink) -> Self {
        Rollback {
            netlink,
            created_links: Vec::new(),
        }
    }

    pub fn delete_link_on_failure(&mut self, index: u32) {
        self.created_links.push(index);
    }

    /// The setup succeeded: keep everything.
    pub fn commit(mut self) {
        self.created_links.clear();
    }
}

impl Drop for Rollback<'_> {
    fn drop(&mut self) {
        for index in self.created_links.drain(..).rev() {
            // Best effort: the original error is what the caller reports.
            let _ = self.netlink.delete_link(index);
        }
    }
}

/// Creates the bridge if it does not exist: addresses of the gateways, MTU, up.
/// Returns the bridge's index. An existing bridge is left as it is.
pub fn ensure_bridge(netlink: &Netlink, spec: &BridgeSpec) -> Result<u32, NetError> {
    if let Some(index) = netlink.link_index(&spec.name)? {
        return Ok(index);
    }
    let mut rollback = Rollback::new(netlink);
    let index = netlink.create_bridge(&spec.name, spec.mtu)?;
    rollback.delete_link_on_failure(index);
    if has_ipv6(spec.subnets.iter().copied()) {
        disable_ipv6_dad(&spec.name)?;
    }
    for subnet in &spec.subnets {
        netlink.add_address(index, subnet.gateway(), subnet.prefix_len())?;
    }
    netlink.set_up(index)?;
    rollback.commit();
    Ok(index)
}

/// Removes the bridge; true when there was one.
pub fn remove_bridge(netlink: &Netlink, name: &str) -> Result<bool, NetError> {
    netlink.delete_link_by_name(name)
}

/// Creates the veth pair, plugs the host end into the bridge and configures
/// eth0 inside the container's namespace. On any failure nothing is left.
/// `netlink` must be a socket in the namespace that holds the bridge.
pub fn attach_container(netlink: &Netlink, spec: &ContainerLinkSpec) -> Result<(), NetError> {
    let bridge_index = netlink.require_link(&spec.bridge)?;
    let netns_fd = open_netns(&spec.netns)?;
    check_host_ifname(&spec.host_ifname)?;
    let mut rollback = Rollback::new(netlink);
    // One request: the host end up on the bridge, the peer born inside
    // the container's namespace under its final name.
    let create = || {
        netlink.create_veth_into(
            &spec.host_ifname,
            bridge_index,
            &spec.container_ifname,
            netns_fd.as_fd(),
            spec.mtu,
        )
    };
    let host_index = match create() {
        // A host end whose deletion was deferred (see `isolate_container`)
        // and has not happened yet: the name is this container's own.
        Err(e) if e.is_already_exists() => {
            netlink.delete_link_by_name(&spec.host_ifname)?;
            create()?
        }
        other => other?,
    };
    rollback.delete_link_on_failure(host_index);
    run_in_netns(&spec.netns, || configure_inside(spec))?;
    rollback.commit();
    Ok(())
}

/// Removes the container's veth pair (the host end; the kernel removes the peer).
pub fn detach_container(netlink: &Netlink, host_ifname: &str) -> Result<bool, NetError> {
    netlink.delete_link_by_name(host_ifname)
}

/// Cuts the container off its bridge at once (the host end down: the
/// bridge forwards nothing to it, so its addresses can be handed out
/// again) and leaves the deletion, which waits for RCU grace periods
/// (~13 ms here), to [`detach_container`] later or to the kernel when the
/// container's namespace dies. False when the link is gone already.
pub fn isolate_container(netlink: &Netlink, host_ifname: &str) -> Result<bool, NetError> {
    let Some(index) = netlink.link_index(host_ifname)? else {
        return Ok(false);
    };
    match netlink.set_down(index) {
        // The dying namespace took the pair between the lookup and now.
        Err(e) if e.is_no_such_device() => Ok(false),
        other => other.map(|()| true),
    }
}

/// Lets the bridge route packets DNATed from 127.0.0.1 (ports published on
/// loopback). Acts on the calling thread's network namespace.
pub fn enable_route_localnet(bridge: &str) -> Result<(), NetError> {
    check_link_name(bridge)?;
    write_sysctl(
        format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet"),
        "1",
    )
}

/// Skips IPv6 duplicate address detection on `ifname`: brig's IPAM already
/// guarantees uniqueness, and DAD would keep the address unusable for ~1 s.
fn disable_ipv6_dad(ifname: &str) -> Result<(), NetError> {
    write_sysctl(format!("/proc/sys/net/ipv6/conf/{ifname}/accept_dad"), "0")
}

/// Lets the host forward packets that arrive on `bridge` (containers going
/// out). Only the bridge's own switch: the host's global `ip_forward` and its
/// other interfaces are left as they are.
pub fn enable_forwarding(bridge: &str) -> Result<(), NetError> {
    check_link_name(bridge)?;
    write_sysctl(format!("/proc/sys/net/ipv4/conf/{bridge}/forwarding"), "1")
}

fn write_sysctl(path: String, value: &str) -> Result<(), NetError> {
    let path = PathBuf::from(path);
    std::fs::write(&path, value).map_err(|source| NetError::Sysctl { path, source })
}

fn has_ipv6(subnets: impl IntoIterator<Item = Subnet>) -> bool {
    subnets.into_iter().any(|subnet| subnet.gateway().is_ipv6())
}

/// Runs inside the container's namespace: addresses, up, routes, lo up.
fn configure_inside(spec: &ContainerLinkSpec) -> Result<(), NetError> {
    let netlink = Netlink::open()?;
    let index = netlink.require_link(&spec.container_ifname)?;
    if has_ipv6(spec.addresses.iter().map(|(_, subnet)| *subnet)) {
        disable_ipv6_dad(&spec.container_ifname)?;
    }
    for (address, subnet) in &spec.addresses {
        netlink.add_address(index, *address, subnet.prefix_len())?;
    }
    // Not at creation: the kernel refuses (ENOTCONN) to open a veth end
    // before its pair is complete.
    netlink.set_up(index)?;
    if spec.default_route {
        for (_, subnet) in &spec.addresses {
            netlink.add_default_route(index, subnet.gateway())?;
        }
    }
    if spec.unprivileged_ping {
        write_sysctl(
            "/proc/sys/net/ipv4/ping_group_range".to_owned(),
            "0 2147483647",
        )?;
    }
    // `lo` is index 1 in every network namespace.
    netlink.set_up(1)
}

/// Host-side names are at most [`MAX_HOST_IFNAME`] bytes.
fn check_host_ifname(host_ifname: &str) -> Result<(), NetError> {
    check_link_name(host_ifname)?;
    if host_ifname.len() > MAX_HOST_IFNAME {
        return Err(NetError::InvalidLinkName {
            name: host_ifname.to_string(),
            reason: "a container's host interface name must be at most 13 bytes",
        });
    }
    Ok(())
}
