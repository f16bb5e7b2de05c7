//! Bridge networking for one container: claim addresses and host ports in
//! the database, plumb the veths (brig-net, netlink), sync the firewall and
//! the hosts files; undo all of it on failure, on exit and after a crash.
//!
//! Host-side changes happen under one host-wide lock
//! (`/run/brig-network.lock`), so two `brig` processes never render the
//! firewall from different views, race a bridge's creation against its
//! removal, or (with different `--root`s) pick one free subnet for two
//! bridges.

use std::net::IpAddr;
use std::os::fd::OwnedFd;

use brig_net::Netlink;
use brig_net::firewall::{Protocol, RANDOM_PORT_RANGE, check_port_conflicts, pick_host_port};
use brig_net::ipam::{Pool, Subnet};
use brig_net::setup::{self, BridgeSpec, ContainerLinkSpec};

use super::config::BridgeConfig;
use super::error::NetworkError;
use super::store::{self, Endpoint, NetworkRecord};
use super::trace::Phases;
use super::{Attachment, NetworkContext, firewall, hosts, manage, names};
use crate::config::PortBinding;
use crate::ctx::Ctx;
use crate::db::TxError;
use crate::error::{Error, Result};

/// The host-wide lock around network changes (released on drop).
#[derive(Debug)]
pub struct NetLock(#[allow(dead_code)] OwnedFd);

impl NetLock {
    pub fn acquire() -> Result<NetLock> {
        let path = std::path::PathBuf::from(LOCK_PATH);
        let lock_err = |source: std::io::Error| NetworkError::Lock {
            path: path.clone(),
            source,
        };
        let fd = rustix::fs::open(
            &path,
            rustix::fs::OFlags::CREATE | rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .map_err(|e| lock_err(e.into()))?;
        rustix::fs::flock(&fd, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| lock_err(e.into()))?;
        Ok(NetLock(fd))
    }
}

/// Shared by every brig root on the host: the subnets and links are the host's.
pub const LOCK_PATH: &str = "/run/brig-network.lock";

/// Attaches the container to every network of `config`, or to the one
/// named `only` (`network connect` of a running container).
pub fn attach(
    ctx: &Ctx,
    net: &NetworkContext<'_>,
    config: &BridgeConfig,
    only: Option<&str>,
) -> Result<Attachment> {
    let mut phases = Phases::start("attach");
    let tag = names::root_tag(ctx.paths.root());
    let _lock = NetLock::acquire()?;
    phases.mark("lock");
    // Whatever an earlier run of this container left (a crashed monitor).
    release_locked(ctx, &tag, net.id, only)?;
    let records = manage::networks_for(ctx, &tag, config)?;
    let endpoints = claim(ctx, net, config, &records, only)?;
    phases.mark("database");
    let done = plumb(net, &records, &endpoints).and_then(|()| {
        phases.mark("links");
        firewall::sync(ctx, &names::table(&tag))?;
        phases.mark("firewall");
        let refs: Vec<&NetworkRecord> = records.iter().collect();
        hosts::refresh(ctx, &refs, Some(net.id))?;
        phases.mark("hosts");
        Ok(())
    });
    if let Err(e) = done {
        let _ = release_locked(ctx, &tag, net.id, only);
        return Err(e);
    }
    Ok(Attachment {
        ip_addresses: endpoints
            .iter()
            .flat_map(|e| e.addresses.iter().map(IpAddr::to_string))
            .collect(),
    })
}

/// Detaches the container from all its networks (or one); idempotent.
pub fn release(ctx: &Ctx, container_id: &str, network: Option<&str>) -> Result<()> {
    release_as(ctx, container_id, network, Teardown::Now).map(drop)
}

/// [`release`] for an exited container whose caller waits: the host ends
/// are only isolated, and returned to be deleted with [`delete_links`]
/// once nobody waits (or by the kernel as the container's namespace dies).
pub fn release_deferred(ctx: &Ctx, container_id: &str) -> Result<Vec<String>> {
    release_as(ctx, container_id, None, Teardown::Deferred)
}

fn release_as(
    ctx: &Ctx,
    container_id: &str,
    network: Option<&str>,
    teardown: Teardown,
) -> Result<Vec<String>> {
    // Nothing to give back (the usual case): no host-wide lock.
    if network.is_none() && ctx.db.endpoints_of(container_id)?.is_empty() {
        return Ok(Vec::new());
    }
    let tag = names::root_tag(ctx.paths.root());
    let _lock = NetLock::acquire()?;
    release_with(ctx, &tag, container_id, network, teardown)
}

/// Deletes host links [`release_deferred`] left (if still there).
pub fn delete_links(links: &[String]) {
    if links.is_empty() {
        return;
    }
    if let Ok(netlink) = Netlink::open() {
        for link in links {
            let _ = setup::detach_container(&netlink, link);
        }
    }
}

/// Deletes the host ends of the container's veths that are still there:
/// a deferred deletion that has not happened yet (or never will, its
/// monitor was killed), so `rm` leaves no link behind.
pub fn delete_stale_links(container_id: &str) -> Result<()> {
    let prefix = names::host_veth_prefix(container_id);
    let netlink = Netlink::open().map_err(NetworkError::from)?;
    let names = netlink.link_names().map_err(NetworkError::from)?;
    for name in names.iter().filter(|n| n.starts_with(&prefix)) {
        setup::detach_container(&netlink, name).map_err(NetworkError::from)?;
    }
    Ok(())
}

/// How a release removes a container's veths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Teardown {
    Now,
    Deferred,
}

fn release_locked(ctx: &Ctx, tag: &str, container_id: &str, network: Option<&str>) -> Result<()> {
    release_with(ctx, tag, container_id, network, Teardown::Now).map(drop)
}

/// Gives back the endpoints; returns the host links left to delete.
fn release_with(
    ctx: &Ctx,
    tag: &str,
    container_id: &str,
    network: Option<&str>,
    teardown: Teardown,
) -> Result<Vec<String>> {
    let mut phases = Phases::start("detach");
    let removed = ctx.db.remove_endpoints(container_id, network)?;
    if removed.is_empty() {
        return Ok(Vec::new());
    }
    phases.mark("database");
    // The endpoints are gone from the database: the firewall and the
    // hosts files follow even if a link could not be undone.
    let mut link_error = None;
    let mut left = Vec::new();
    match Netlink::open() {
        Ok(netlink) => {
            for endpoint in &removed {
                let link = &endpoint.host_ifname;
                // Gone already when the container's namespace died with it.
                let present = match teardown {
                    Teardown::Now => setup::detach_container(&netlink, link),
                    Teardown::Deferred => setup::isolate_container(&netlink, link),
                };
                match present {
                    Ok(true) if teardown == Teardown::Deferred => left.push(link.clone()),
                    Ok(_) => {}
                    Err(e) => link_error = link_error.or(Some(e)),
                }
            }
        }
        Err(e) => link_error = Some(e),
    }
    phases.mark("links");
    let networks = ctx.db.networks()?;
    let touched: Vec<&NetworkRecord> = networks
        .iter()
        .filter(|n| removed.iter().any(|e| e.network == n.name))
        .collect();
    firewall::sync(ctx, &names::table(tag))?;
    phases.mark("firewall");
    hosts::refresh(ctx, &touched, None)?;
    phases.mark("hosts");
    match link_error {
        Some(e) => Err(NetworkError::from(e).into()),
        None => Ok(left),
    }
}

/// Allocates addresses and host ports and records the endpoints, all in one
/// transaction.
fn claim(
    ctx: &Ctx,
    net: &NetworkContext<'_>,
    config: &BridgeConfig,
    records: &[NetworkRecord],
    only: Option<&str>,
) -> Result<Vec<Endpoint>> {
    ctx.db.network_tx(|tx| {
        let mut out = Vec::new();
        let all = config.networks.iter().zip(records).enumerate();
        for (index, (attachment, record)) in all {
            if only.is_some_and(|name| name != record.name) {
                continue;
            }
            let taken = store::taken_addresses(tx, &record.name)?;
            let mut addresses = Vec::new();
            for subnet in &record.subnets {
                let subnet = Subnet::new(subnet.subnet, Some(subnet.gateway))
                    .map_err(|e| ipam_error(record, e))?;
                let mut pool = Pool::new(subnet, taken.clone());
                let wanted = attachment.ip.filter(|ip| subnet.network().contains(ip));
                addresses.push(pool.allocate(wanted).map_err(|e| ipam_error(record, e))?);
            }
            if let Some(ip) = attachment.ip
                && !addresses.contains(&ip)
            {
                let subnet = record.subnets[0].subnet;
                return Err(ipam_error(
                    record,
                    brig_net::IpamError::IpOutside { ip, subnet },
                ));
            }
            let ports = if index == 0 {
                resolve_ports(tx, net.ports)?
            } else {
                Vec::new()
            };
            let endpoint = Endpoint {
                container_id: net.id.to_owned(),
                container_name: net.name.to_owned(),
                hostname: net.hostname.to_owned(),
                network: record.name.clone(),
                host_ifname: names::host_veth(net.id, index),
                ifname: format!("eth{index}"),
                addresses,
                aliases: attachment.aliases.clone(),
                ports,
                egress_allow: config.egress_allow.clone(),
            };
            store::insert_endpoint(tx, &endpoint)?;
            out.push(endpoint);
        }
        Ok(out)
    })
}

fn ipam_error(record: &NetworkRecord, source: brig_net::IpamError) -> TxError {
    TxError::Engine(Error::from(NetworkError::Ipam {
        network: record.name.clone(),
        source,
    }))
}

/// Chooses the host port of `-p CTR` and refuses ports other containers
/// publish or another program listens on.
fn resolve_ports(
    tx: &rusqlite::Transaction<'_>,
    wanted: &[PortBinding],
) -> Result<Vec<PortBinding>, TxError> {
    let others = store::endpoints_where(tx, "1 = 1", [])?;
    let mut forwards: Vec<_> = others.iter().flat_map(firewall::forwards).collect();
    let mut out = Vec::new();
    for port in wanted {
        let mut port = port.clone();
        let protocol = firewall::protocol(&port);
        if port.host_port == 0 {
            let mut range = RANDOM_PORT_RANGE;
            loop {
                let candidate = pick_host_port(&forwards, protocol, range.clone())
                    .map_err(|e| TxError::Engine(NetworkError::from(e).into()))?;
                if host_port_free(&port.host_ip, candidate, protocol) {
                    port.host_port = candidate;
                    break;
                }
                range = candidate + 1..=*RANDOM_PORT_RANGE.end();
            }
        } else if !host_port_free(&port.host_ip, port.host_port, protocol) {
            return Err(TxError::Engine(
                NetworkError::HostPortBusy {
                    port: port.host_port,
                    protocol: port.protocol.clone(),
                }
                .into(),
            ));
        }
        let probe = Endpoint {
            addresses: vec![IpAddr::from([0, 0, 0, 1])],
            ports: vec![port.clone()],
            ..blank_endpoint()
        };
        forwards.extend(firewall::forwards(&probe));
        check_port_conflicts(&forwards)
            .map_err(|e| TxError::Engine(NetworkError::from(e).into()))?;
        out.push(port);
    }
    Ok(out)
}

fn blank_endpoint() -> Endpoint {
    Endpoint {
        container_id: String::new(),
        container_name: String::new(),
        hostname: String::new(),
        network: String::new(),
        host_ifname: String::new(),
        ifname: String::new(),
        addresses: Vec::new(),
        aliases: Vec::new(),
        ports: Vec::new(),
        egress_allow: Vec::new(),
    }
}

/// Whether no program listens on the host port (a bind to it succeeds).
fn host_port_free(host_ip: &str, port: u16, protocol: Protocol) -> bool {
    let ip: IpAddr = host_ip.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let address = std::net::SocketAddr::new(ip, port);
    match protocol {
        Protocol::Tcp => std::net::TcpListener::bind(address).is_ok(),
        Protocol::Udp => std::net::UdpSocket::bind(address).is_ok(),
    }
}

/// Bridges (created on first use), veths, addresses and routes.
fn plumb(
    net: &NetworkContext<'_>,
    records: &[NetworkRecord],
    endpoints: &[Endpoint],
) -> Result<()> {
    let netlink = Netlink::open().map_err(NetworkError::from)?;
    for endpoint in endpoints {
        let Some(record) = records.iter().find(|r| r.name == endpoint.network) else {
            continue;
        };
        let subnets: Vec<Subnet> = record
            .subnets
            .iter()
            .filter_map(|s| Subnet::new(s.subnet, Some(s.gateway)).ok())
            .collect();
        if netlink
            .link_index(&record.bridge)
            .map_err(NetworkError::from)?
            .is_none()
        {
            manage::check_routes(record)?;
            setup::ensure_bridge(
                &netlink,
                &BridgeSpec {
                    name: record.bridge.clone(),
                    subnets: subnets.clone(),
                    mtu: record.mtu,
                },
            )
            .map_err(NetworkError::from)?;
            let sysctls = setup::enable_route_localnet(&record.bridge).and_then(|()| {
                if record.internal {
                    Ok(())
                } else {
                    setup::enable_forwarding(&record.bridge)
                }
            });
            if let Err(e) = sysctls {
                let _ = setup::remove_bridge(&netlink, &record.bridge);
                return Err(NetworkError::from(e).into());
            }
        }
        let addresses = endpoint
            .addresses
            .iter()
            .copied()
            .zip(subnets.iter().copied())
            .collect();
        setup::attach_container(
            &netlink,
            &ContainerLinkSpec {
                host_ifname: endpoint.host_ifname.clone(),
                bridge: record.bridge.clone(),
                container_ifname: endpoint.ifname.clone(),
                netns: net.netns.clone(),
                addresses,
                // One default route: the first network's, unless it is internal.
                default_route: endpoint.ifname == "eth0" && !record.internal,
                mtu: record.mtu,
                unprivileged_ping: true,
            },
        )
        .map_err(NetworkError::from)?;
    }
    Ok(())
}
