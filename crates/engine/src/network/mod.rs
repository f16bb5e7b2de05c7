//! Container networking. The monitor calls [`Network::attach`] on a
//! network namespace it made before running the runtime (or, where the
//! container's own user namespace must own it, between the runtime's
//! `create` and `start`) and [`Network::detach`] after the container
//! exited; `rm` and the crash repair call [`release`].
//!
//! - `none`: a private namespace with loopback up; `host`: nothing to do;
//!   `container:NAME`: the runtime joins that container's namespace;
//! - bridges ([`bridge`]): brig-net plumbs veths into per-network bridges,
//!   addresses come from the database ([`store`]), the firewall is
//!   rendered from the database ([`firewall`]), names are resolved through
//!   rewritten hosts files ([`hosts`]). [`manage`] has `brig network ...`.

pub mod bridge;
pub mod config;
pub mod connect;
pub mod error;
pub mod firewall;
pub mod hosts;
pub mod manage;
pub mod names;
pub mod store;
pub mod trace;

use std::path::{Path, PathBuf};

use crate::config::{NetworkMode, PortBinding};
use crate::ctx::Ctx;
use crate::error::{Error, IoContext, Result};
use crate::record::ContainerRecord;

pub use config::{BridgeConfig, DEFAULT_NETWORK, NetworkAttachment, NetworkFlags};
pub use error::NetworkError;
pub use manage::{NetworkCreateOptions, NetworkInfo};
pub use store::{Endpoint, NetworkRecord};

/// The container as networking sees it.
#[derive(Debug, Clone)]
pub struct NetworkContext<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub hostname: &'a str,
    /// `/proc/PID/ns/net` of the container's init.
    pub netns: PathBuf,
    pub ports: &'a [PortBinding],
}

/// What attaching gave the container (for `inspect`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attachment {
    pub ip_addresses: Vec<String>,
}

/// A network a container can join.
pub trait Network: std::fmt::Debug {
    fn attach(&self, ctx: &NetworkContext<'_>) -> Result<Attachment>;
    /// Gives back what the exited container held; what takes long is
    /// left in [`Leftovers`] for when nobody waits.
    fn detach(&self, ctx: &NetworkContext<'_>) -> Result<Leftovers>;
}

/// Host links a detach isolated but did not delete (a veth's deletion
/// waits for RCU grace periods, ~13 ms here).
#[derive(Debug, Default)]
#[must_use = "the links stay until removed"]
pub struct Leftovers(Vec<String>);

impl Leftovers {
    pub fn extend(&mut self, other: Leftovers) {
        self.0.extend(other.0);
    }

    /// Deletes what is still there (the kernel may have been first).
    pub fn remove(&mut self) {
        bridge::delete_links(&std::mem::take(&mut self.0));
    }
}

/// `--network none`: loopback only.
#[derive(Debug, Default)]
pub struct NoneNetwork;

impl Network for NoneNetwork {
    fn attach(&self, ctx: &NetworkContext<'_>) -> Result<Attachment> {
        loopback_up(&ctx.netns)?;
        Ok(Attachment {
            ip_addresses: vec!["127.0.0.1".to_owned()],
        })
    }

    fn detach(&self, _ctx: &NetworkContext<'_>) -> Result<Leftovers> {
        Ok(Leftovers::default())
    }
}

/// `--network host`: nothing to do.
#[derive(Debug, Default)]
pub struct HostNetwork;

impl Network for HostNetwork {
    fn attach(&self, _ctx: &NetworkContext<'_>) -> Result<Attachment> {
        Ok(Attachment::default())
    }

    fn detach(&self, _ctx: &NetworkContext<'_>) -> Result<Leftovers> {
        Ok(Leftovers::default())
    }
}

/// Bridge networks of a container.
#[derive(Debug)]
pub struct BridgeNetworks<'a> {
    ctx: &'a Ctx,
    config: &'a BridgeConfig,
}

impl Network for BridgeNetworks<'_> {
    fn attach(&self, ctx: &NetworkContext<'_>) -> Result<Attachment> {
        bridge::attach(self.ctx, ctx, self.config, None)
    }

    fn detach(&self, ctx: &NetworkContext<'_>) -> Result<Leftovers> {
        bridge::release_deferred(self.ctx, ctx.id).map(Leftovers)
    }
}

/// `--network container:NAME`: the namespace is the other container's (set
/// in the OCI config); its hosts and resolv.conf are shared too.
#[derive(Debug)]
pub struct ContainerNetwork<'a> {
    ctx: &'a Ctx,
    target: &'a str,
}

impl Network for ContainerNetwork<'_> {
    fn attach(&self, ctx: &NetworkContext<'_>) -> Result<Attachment> {
        let target = self.ctx.db.find(self.target)?;
        let from = self.ctx.paths.bundle(&target.id);
        let to = self.ctx.paths.bundle(ctx.id);
        for file in ["hosts", "resolv.conf"] {
            let text = std::fs::read(from.join(file)).ctx("read", from.join(file))?;
            std::fs::write(to.join(file), text).ctx("write", to.join(file))?;
        }
        Ok(Attachment::default())
    }

    fn detach(&self, _ctx: &NetworkContext<'_>) -> Result<Leftovers> {
        Ok(Leftovers::default())
    }
}

/// The implementation for a mode.
pub fn for_mode<'a>(ctx: &'a Ctx, mode: &'a NetworkMode) -> Box<dyn Network + 'a> {
    match mode {
        NetworkMode::None => Box::new(NoneNetwork),
        NetworkMode::Host => Box::new(HostNetwork),
        NetworkMode::Container(target) => Box::new(ContainerNetwork { ctx, target }),
        NetworkMode::Bridge(config) => Box::new(BridgeNetworks { ctx, config }),
    }
}

/// Frees whatever network resources the container still holds (its run
/// ended without a detach: `rm`, or the repair after a crashed monitor).
pub fn release(ctx: &Ctx, container_id: &str) -> Result<()> {
    bridge::release(ctx, container_id, None)
}

/// `/proc/PID/ns/net` of the container whose network `container:NAME` joins;
/// it must be running.
pub fn joined_netns(ctx: &Ctx, target: &str) -> Result<PathBuf> {
    let rec = ctx.db.find(target)?;
    match rec.pid {
        Some(pid) if rec.state.has_monitor() => Ok(PathBuf::from(format!("/proc/{pid}/ns/net"))),
        _ => Err(Error::wrong_state(
            &rec.id,
            rec.state.as_str(),
            "--network container: needs it running; start it first",
        )),
    }
}

/// Points the OCI config's network namespace at `path` (joined, not new).
pub fn join_netns(spec: &mut oci_spec::runtime::Spec, path: PathBuf) {
    use oci_spec::runtime::LinuxNamespaceType;
    let Some(linux) = spec.linux_mut().as_mut() else {
        return;
    };
    if let Some(namespaces) = linux.namespaces_mut().as_mut() {
        for ns in namespaces.iter_mut() {
            if ns.typ() == LinuxNamespaceType::Network {
                ns.set_path(Some(path.clone()));
            }
        }
    }
}

/// `NetworkSettings.Networks` of `inspect`: each network with the
/// container's addresses while it runs.
pub fn networks_json(ctx: &Ctx, rec: &ContainerRecord) -> serde_json::Value {
    let endpoints = ctx.db.endpoints_of(&rec.id).unwrap_or_default();
    let names: Vec<String> = match &rec.config.network {
        NetworkMode::Bridge(b) => b.networks.iter().map(|n| n.network.clone()).collect(),
        other => vec![other.name()],
    };
    let mut out = serde_json::Map::new();
    for name in names {
        let endpoint = endpoints.iter().find(|e| e.network == name);
        let address = |v4: bool| {
            endpoint
                .and_then(|e| e.addresses.iter().find(|a| a.is_ipv4() == v4))
                .map(ToString::to_string)
                .unwrap_or_default()
        };
        let aliases = endpoint.map(|e| e.aliases.clone()).unwrap_or_default();
        out.insert(
            name,
            serde_json::json!({"IPAddress": address(true), "GlobalIPv6Address": address(false), "Aliases": aliases}),
        );
    }
    serde_json::Value::Object(out)
}

/// The container's first IPv4 address while it runs (`NetworkSettings.IPAddress`).
pub fn primary_ip(ctx: &Ctx, rec: &ContainerRecord) -> String {
    ctx.db
        .endpoints_of(&rec.id)
        .unwrap_or_default()
        .iter()
        .flat_map(|e| e.addresses.iter())
        .find(|a| a.is_ipv4())
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// The published ports as they are now: host ports chosen for `-p CTR`
/// while the container runs, the requested ones otherwise.
pub fn published_ports(ctx: &Ctx, rec: &ContainerRecord) -> Result<Vec<PortBinding>> {
    let endpoints = ctx.db.endpoints_of(&rec.id)?;
    Ok(match endpoints.first() {
        Some(first) if !first.ports.is_empty() => first.ports.clone(),
        _ => rec.config.ports.clone(),
    })
}

/// Checks at `create` what needs the database: the networks exist and an
/// `--ip` lies in the first one's subnet.
pub fn check_create(ctx: &Ctx, mode: &NetworkMode) -> Result<()> {
    match mode {
        NetworkMode::Bridge(config) => {
            for (index, attachment) in config.networks.iter().enumerate() {
                if attachment.network == DEFAULT_NETWORK {
                    continue;
                }
                let record = ctx
                    .db
                    .network(&attachment.network)?
                    .ok_or_else(|| NetworkError::NoSuchNetwork(attachment.network.clone()))?;
                if let (0, Some(ip)) = (index, attachment.ip) {
                    let inside = record.subnets.iter().any(|s| s.subnet.contains(&ip));
                    if !inside {
                        return Err(NetworkError::Ipam {
                            network: record.name.clone(),
                            source: brig_net::IpamError::IpOutside {
                                ip,
                                subnet: record.subnets[0].subnet,
                            },
                        }
                        .into());
                    }
                }
            }
            Ok(())
        }
        NetworkMode::Container(target) => ctx.db.find(target).map(|_| ()),
        _ => Ok(()),
    }
}

/// Sets `lo` (index 1 in every network namespace) up inside `netns`,
/// from a thread that joins it (the engine never leaves its own).
pub fn loopback_up(netns: &Path) -> Result<()> {
    brig_net::netns::run_in_netns(netns, || brig_net::Netlink::open()?.set_up(1))
        .map_err(|e| NetworkError::from(e).into())
}
