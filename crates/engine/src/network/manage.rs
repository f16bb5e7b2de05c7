//! `brig network create|ls|inspect|rm|prune` and the default network.

use std::collections::BTreeMap;

use brig_net::IpamError;
use brig_net::ipam::{Subnet, check_no_overlap, choose_subnet, default_candidates};
use brig_net::routes::{HostRoute, host_routes};
use ipnet::IpNet;
use serde_json::{Value, json};

use super::bridge::NetLock;
use super::config::{BridgeConfig, DEFAULT_NETWORK, valid_network_name};
use super::error::NetworkError;
use super::store::{self, NetworkRecord, SubnetRecord};
use super::{firewall, names};
use crate::ctx::Ctx;
use crate::db::TxError;
use crate::engine::{Engine, new_id};
use crate::error::{Error, Result};

/// MTU of new bridges (Docker's and netavark's default).
pub const DEFAULT_MTU: u32 = 1500;

/// `brig network create` flags.
#[derive(Debug, Clone, Default)]
pub struct NetworkCreateOptions {
    pub name: String,
    /// `--subnet`, each with the `--gateway` at the same position, if any.
    pub subnets: Vec<String>,
    pub gateways: Vec<String>,
    pub internal: bool,
    pub ipv6: bool,
    pub labels: BTreeMap<String, String>,
    pub egress_allow: Vec<String>,
}

/// A network and its active members, for `ls` and `inspect`.
#[derive(Debug, Clone)]
pub struct NetworkInfo {
    pub record: NetworkRecord,
    pub members: Vec<super::store::Endpoint>,
}

impl Engine {
    pub fn network_create(&self, opts: &NetworkCreateOptions) -> Result<NetworkRecord> {
        let name = opts.name.as_str();
        if !valid_network_name(name) || matches!(name, "host" | "none" | "bridge" | "default") {
            return Err(Error::invalid(
                "network name",
                name,
                "names match [a-zA-Z0-9][a-zA-Z0-9_.-]* and are not host, none, bridge or default",
            ));
        }
        for rule in &opts.egress_allow {
            brig_net::firewall::EgressRule::parse(rule)
                .map_err(|e| Error::invalid("--egress-allow", rule, e.to_string()))?;
        }
        let wanted = parse_subnets(opts)?;
        let routes = foreign_routes(&host_routes(), None);
        let tag = names::root_tag(self.ctx.paths.root());
        self.ctx.db.network_tx(|tx| {
            let existing = store::networks(tx)?;
            if existing.iter().any(|n| n.name == name) || name == DEFAULT_NETWORK {
                return Err(TxError::Engine(
                    NetworkError::NetworkExists(name.to_owned()).into(),
                ));
            }
            let in_use: Vec<IpNet> = routes
                .iter()
                .copied()
                .chain(
                    existing
                        .iter()
                        .flat_map(|n| n.subnets.iter().map(|s| s.subnet)),
                )
                .collect();
            let subnets =
                complete_subnets(&wanted, opts.ipv6, &in_use).map_err(|e| ipam(name, e))?;
            let id = new_id();
            let record = NetworkRecord {
                name: name.to_owned(),
                bridge: names::bridge(&tag, &id),
                id,
                subnets,
                internal: opts.internal,
                dns: true,
                egress_allow: opts.egress_allow.clone(),
                labels: opts.labels.clone(),
                mtu: DEFAULT_MTU,
                created_at: crate::time::now_ns(),
            };
            store::insert_network(tx, &record)?;
            Ok(record)
        })
    }

    /// Every network with its active members.
    pub fn network_list(&self) -> Result<Vec<NetworkInfo>> {
        let endpoints = self.ctx.db.endpoints()?;
        Ok(self
            .ctx
            .db
            .networks()?
            .into_iter()
            .map(|record| NetworkInfo {
                members: endpoints
                    .iter()
                    .filter(|e| e.network == record.name)
                    .cloned()
                    .collect(),
                record,
            })
            .collect())
    }

    /// A network by name, or ID prefix.
    pub fn network_find(&self, reference: &str) -> Result<NetworkInfo> {
        self.network_list()?
            .into_iter()
            .find(|n| n.record.name == reference)
            .or_else(|| {
                let by_id: Vec<NetworkInfo> = self
                    .network_list()
                    .ok()?
                    .into_iter()
                    .filter(|n| !reference.is_empty() && n.record.id.starts_with(reference))
                    .collect();
                (by_id.len() == 1)
                    .then(|| by_id.into_iter().next())
                    .flatten()
            })
            .ok_or_else(|| NetworkError::NoSuchNetwork(reference.to_owned()).into())
    }

    /// Removes a network without active members, its bridge and its rules.
    /// The default network may be removed too: it comes back on next use.
    pub fn network_remove(&self, reference: &str) -> Result<String> {
        let info = self.network_find(reference)?;
        let name = info.record.name.clone();
        let _lock = NetLock::acquire()?;
        if let Err(members) = self.ctx.db.delete_network(&name)? {
            return Err(NetworkError::NetworkInUse {
                name,
                containers: members.join(", "),
            }
            .into());
        }
        let netlink = brig_net::Netlink::open().map_err(NetworkError::from)?;
        brig_net::setup::remove_bridge(&netlink, &info.record.bridge)
            .map_err(NetworkError::from)?;
        let tag = names::root_tag(self.ctx.paths.root());
        firewall::sync(&self.ctx, &names::table(&tag))?;
        Ok(name)
    }

    /// Removes every user network without active members (not `brig`).
    pub fn network_prune(&self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for info in self.network_list()? {
            if info.record.name != DEFAULT_NETWORK && info.members.is_empty() {
                match self.network_remove(&info.record.name) {
                    Ok(name) => removed.push(name),
                    Err(Error::Network(e)) if matches!(*e, NetworkError::NetworkInUse { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }
}

/// Docker's `network inspect` document.
pub fn inspect_json(info: &NetworkInfo) -> Value {
    let r = &info.record;
    let containers: serde_json::Map<String, Value> = info
        .members
        .iter()
        .map(|e| {
            let with_prefix = |v4: bool| {
                e.addresses
                    .iter()
                    .zip(&r.subnets)
                    .find(|(a, _)| a.is_ipv4() == v4)
                    .map(|(a, s)| format!("{a}/{}", s.subnet.prefix_len()))
                    .unwrap_or_default()
            };
            (
                e.container_id.clone(),
                json!({"Name": e.container_name, "IPv4Address": with_prefix(true),
                       "IPv6Address": with_prefix(false), "Aliases": e.aliases}),
            )
        })
        .collect();
    json!({
        "Name": r.name,
        "Id": r.id,
        "Created": crate::time::rfc3339_nanos(r.created_at),
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv6": r.subnets.iter().any(|s| s.subnet.addr().is_ipv6()),
        "IPAM": {"Driver": "default", "Config": r.subnets.iter().map(|s| json!({"Subnet": s.subnet.to_string(), "Gateway": s.gateway.to_string()})).collect::<Vec<_>>()},
        "Internal": r.internal,
        "Containers": containers,
        "Options": {"com.docker.network.bridge.name": r.bridge, "com.docker.network.driver.mtu": r.mtu.to_string()},
        "Labels": r.labels,
        "Brig": {"EgressAllow": r.egress_allow, "DNS": r.dns},
    })
}

fn ipam(network: &str, source: IpamError) -> TxError {
    TxError::Engine(
        NetworkError::Ipam {
            network: network.to_owned(),
            source,
        }
        .into(),
    )
}

/// `--subnet`/`--gateway` pairs, validated.
fn parse_subnets(opts: &NetworkCreateOptions) -> Result<Vec<Subnet>> {
    if opts.gateways.len() > opts.subnets.len() {
        return Err(Error::invalid(
            "--gateway",
            &opts.gateways.join(","),
            "each --gateway needs a --subnet before it",
        ));
    }
    opts.subnets
        .iter()
        .enumerate()
        .map(|(i, subnet)| {
            Subnet::parse(subnet, opts.gateways.get(i).map(String::as_str)).map_err(|e| {
                NetworkError::Ipam {
                    network: opts.name.clone(),
                    source: e,
                }
                .into()
            })
        })
        .collect()
}

/// The given subnets (checked against `in_use`), plus a free IPv4 one when
/// none was given and a free IPv6 one for `--ipv6` without an IPv6 subnet.
fn complete_subnets(
    wanted: &[Subnet],
    ipv6: bool,
    in_use: &[IpNet],
) -> std::result::Result<Vec<SubnetRecord>, IpamError> {
    let mut taken: Vec<IpNet> = in_use.to_vec();
    let mut out = Vec::new();
    for subnet in wanted {
        check_no_overlap(subnet.network(), &taken)?;
        taken.push(subnet.network());
        out.push(record(*subnet));
    }
    if !wanted.iter().any(|s| s.network().addr().is_ipv4()) {
        // 10.88.0.0/16 stays for the default network.
        let net = choose_subnet(default_candidates().skip(1), &taken)?;
        taken.push(net);
        out.push(record(Subnet::new(net, None)?));
    }
    if ipv6 && !wanted.iter().any(|s| s.network().addr().is_ipv6()) {
        let candidates = (0..=0xffu16).filter_map(|n| format!("fd00:89:{n:x}::/64").parse().ok());
        let net = choose_subnet(candidates, &taken)?;
        out.push(record(Subnet::new(net, None)?));
    }
    Ok(out)
}

fn record(subnet: Subnet) -> SubnetRecord {
    SubnetRecord {
        subnet: subnet.network(),
        gateway: subnet.gateway(),
    }
}

/// Routes that are not on `own_bridge` and are not default routes.
fn foreign_routes(routes: &[HostRoute], own_bridge: Option<&str>) -> Vec<IpNet> {
    routes
        .iter()
        .filter(|r| r.destination.prefix_len() > 0 && Some(r.ifname.as_str()) != own_bridge)
        .map(|r| r.destination)
        .collect()
}

/// Before a bridge comes up: none of its subnets may be routed elsewhere
/// (another brig root's bridge, a VPN, a host interface).
pub fn check_routes(record: &NetworkRecord) -> Result<()> {
    let routes = foreign_routes(&host_routes(), Some(&record.bridge));
    for subnet in &record.subnets {
        if let Some(route) = routes
            .iter()
            .find(|r| r.contains(&subnet.subnet.network()) || subnet.subnet.contains(&r.network()))
        {
            return Err(NetworkError::SubnetOnHost {
                network: record.name.clone(),
                subnet: subnet.subnet,
                route: *route,
            }
            .into());
        }
    }
    Ok(())
}

/// The records of the container's networks; the default network is created
/// on first use and then stays, like Docker's docker0, until `network rm
/// brig` (moved to a free subnet while idle if its subnet has been taken
/// by a route since).
pub fn networks_for(ctx: &Ctx, tag: &str, config: &BridgeConfig) -> Result<Vec<NetworkRecord>> {
    let mut out = Vec::new();
    for attachment in &config.networks {
        let record = if attachment.network == DEFAULT_NETWORK {
            ensure_default(ctx, tag)?
        } else {
            ctx.db
                .network(&attachment.network)?
                .ok_or_else(|| NetworkError::NoSuchNetwork(attachment.network.clone()))?
        };
        out.push(record);
    }
    Ok(out)
}

fn ensure_default(ctx: &Ctx, tag: &str) -> Result<NetworkRecord> {
    let routes = host_routes();
    let mut moved = false;
    let record = ctx.db.network_tx(|tx| {
        let all = store::networks(tx)?;
        let existing = all.iter().find(|n| n.name == DEFAULT_NETWORK);
        let own_bridge = existing.map(|n| n.bridge.as_str());
        let mut in_use = foreign_routes(&routes, own_bridge);
        in_use.extend(
            all.iter()
                .filter(|n| n.name != DEFAULT_NETWORK)
                .flat_map(|n| n.subnets.iter().map(|s| s.subnet)),
        );
        if let Some(rec) = existing {
            let clash = rec
                .subnets
                .iter()
                .any(|s| check_no_overlap(s.subnet, &in_use).is_err());
            let idle = store::endpoints_where(tx, "network = ?1", [DEFAULT_NETWORK])?.is_empty();
            if !(clash && idle) {
                return Ok(rec.clone());
            }
        }
        let net =
            choose_subnet(default_candidates(), &in_use).map_err(|e| ipam(DEFAULT_NETWORK, e))?;
        let subnet = Subnet::new(net, None).map_err(|e| ipam(DEFAULT_NETWORK, e))?;
        moved = existing.is_some();
        let id = existing.map_or_else(new_id, |r| r.id.clone());
        let record = NetworkRecord {
            name: DEFAULT_NETWORK.to_owned(),
            bridge: names::bridge(tag, &id),
            id,
            subnets: vec![record(subnet)],
            internal: false,
            dns: false,
            egress_allow: Vec::new(),
            labels: BTreeMap::new(),
            mtu: DEFAULT_MTU,
            created_at: crate::time::now_ns(),
        };
        tx.execute(
            "INSERT OR REPLACE INTO networks (name, data) VALUES (?1, ?2)",
            rusqlite::params![record.name, crate::db::to_json(&record)?],
        )?;
        Ok(record)
    })?;
    if moved {
        // The idle bridge still has the old gateway: made anew on use.
        let netlink = brig_net::Netlink::open().map_err(NetworkError::from)?;
        brig_net::setup::remove_bridge(&netlink, &record.bridge).map_err(NetworkError::from)?;
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_networks_avoid_routes_and_each_other() {
        let in_use: Vec<IpNet> = vec!["10.89.0.0/24".parse().unwrap()];
        let got = complete_subnets(&[], true, &in_use).unwrap();
        assert_eq!(got[0].subnet.to_string(), "10.89.1.0/24");
        assert_eq!(got[0].gateway.to_string(), "10.89.1.1");
        assert_eq!(got[1].subnet.to_string(), "fd00:89::/64");
        let overlap = Subnet::parse("10.89.0.128/25", None).unwrap();
        let err = complete_subnets(&[overlap], false, &in_use).unwrap_err();
        assert!(matches!(err, IpamError::SubnetOverlaps { .. }), "{err}");
    }

    #[test]
    fn default_routes_and_our_own_bridge_do_not_count() {
        let routes = vec![
            HostRoute {
                ifname: "eth0".into(),
                destination: "0.0.0.0/0".parse().unwrap(),
            },
            HostRoute {
                ifname: "brigx".into(),
                destination: "10.88.0.0/16".parse().unwrap(),
            },
        ];
        assert!(foreign_routes(&routes, Some("brigx")).is_empty());
        assert_eq!(foreign_routes(&routes, None).len(), 1);
    }
}
