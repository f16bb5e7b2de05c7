//! brig's nftables state, computed from the database: every network (the
//! default one once created, like Docker's docker0), every published port. Applied
//! as one `nft -f` transaction into the root's own table; skipped when the
//! script is the one applied last (a container without published ports or
//! its own allow list on a user network changes nothing here), and the
//! table disappears with the last network.

use std::net::IpAddr;

use brig_net::firewall::{
    ContainerEgress, EgressRule, Firewall, FirewallPlan, NetworkRules, NftFirewall, PortForward,
    Protocol,
};

use super::error::NetworkError;
use super::store::{Endpoint, NetworkRecord};
use crate::config::PortBinding;
use crate::ctx::Ctx;
use crate::error::Result;

/// The plan for these networks and endpoints (pure).
pub fn plan(networks: &[NetworkRecord], endpoints: &[Endpoint]) -> FirewallPlan {
    let mut out = FirewallPlan::default();
    for network in networks {
        let members: Vec<&Endpoint> = endpoints
            .iter()
            .filter(|e| e.network == network.name)
            .collect();
        let container_egress = members
            .iter()
            .filter(|e| !e.egress_allow.is_empty())
            .flat_map(|e| {
                e.addresses.iter().map(|address| ContainerEgress {
                    address: *address,
                    allow: egress_rules(&e.egress_allow),
                })
            })
            .collect();
        out.networks.push(NetworkRules {
            name: network.name.clone(),
            bridge: network.bridge.clone(),
            subnets: network.subnets.iter().map(|s| s.subnet).collect(),
            internal: network.internal,
            egress_allow: (!network.egress_allow.is_empty())
                .then(|| egress_rules(&network.egress_allow)),
            container_egress,
        });
        for member in members {
            out.forwards.extend(forwards(member));
        }
    }
    out
}

/// The endpoint's published ports as DNAT targets (to its first address of
/// the host IP's family; IPv4 without a host IP).
pub fn forwards(endpoint: &Endpoint) -> Vec<PortForward> {
    endpoint
        .ports
        .iter()
        .filter_map(|p| {
            let host_ip: Option<IpAddr> = p.host_ip.parse().ok();
            let want_v4 = host_ip.is_none_or(|ip| ip.is_ipv4());
            let container_ip = endpoint.addresses.iter().find(|a| a.is_ipv4() == want_v4)?;
            Some(PortForward {
                host_ip: host_ip.filter(|ip| !ip.is_unspecified()),
                host_port: p.host_port,
                container_ip: *container_ip,
                container_port: p.container_port,
                protocol: protocol(p),
            })
        })
        .collect()
}

pub fn protocol(p: &PortBinding) -> Protocol {
    if p.protocol == "udp" {
        Protocol::Udp
    } else {
        Protocol::Tcp
    }
}

fn egress_rules(list: &[String]) -> Vec<EgressRule> {
    // Validated when the flag was given.
    list.iter()
        .filter_map(|r| EgressRule::parse(r).ok())
        .collect()
}

/// Makes the root's table match the database. Call with the network lock held.
pub fn sync(ctx: &Ctx, table: &str) -> Result<()> {
    let plan = plan(&ctx.db.networks()?, &ctx.db.endpoints()?);
    let firewall = NftFirewall::default().with_table(table);
    let script = firewall.script(&plan).map_err(NetworkError::from)?;
    let applied = ctx.paths.runroot().join("network").join("applied.nft");
    if std::fs::read_to_string(&applied).is_ok_and(|last| last == script) {
        return Ok(());
    }
    // Forget the last state first: if nft fails half way we re-apply next time.
    let _ = std::fs::remove_file(&applied);
    firewall.apply(&plan).map_err(NetworkError::from)?;
    if let Some(dir) = applied.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(&applied, script);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::store::SubnetRecord;

    fn network(name: &str, subnet: &str) -> NetworkRecord {
        let subnet: ipnet::IpNet = subnet.parse().unwrap();
        NetworkRecord {
            name: name.into(),
            id: "0".repeat(64),
            bridge: format!("br-{name}"),
            subnets: vec![SubnetRecord {
                subnet,
                gateway: subnet.hosts().next().unwrap(),
            }],
            internal: false,
            dns: name != "brig",
            egress_allow: vec![],
            labels: Default::default(),
            mtu: 1500,
            created_at: 0,
        }
    }

    #[test]
    fn idle_networks_keep_their_rules_and_ports_go_to_the_first_address() {
        let networks = [
            network("brig", "10.88.0.0/16"),
            network("app", "10.89.0.0/24"),
        ];
        let idle = plan(&networks, &[]);
        let names: Vec<&str> = idle.networks.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["brig", "app"], "the default network's too");
        assert!(idle.forwards.is_empty());
        let web = Endpoint {
            container_id: "a".repeat(64),
            container_name: "web".into(),
            hostname: "web".into(),
            network: "brig".into(),
            host_ifname: "vb".into(),
            ifname: "eth0".into(),
            addresses: vec!["fd00::2".parse().unwrap(), "10.88.0.2".parse().unwrap()],
            aliases: vec![],
            ports: vec![PortBinding {
                host_ip: "127.0.0.1".into(),
                host_port: 8080,
                container_port: 80,
                protocol: "tcp".into(),
            }],
            egress_allow: vec!["1.1.1.1:53".into()],
        };
        let busy = plan(&networks, std::slice::from_ref(&web));
        assert_eq!(busy.networks.len(), 2);
        assert_eq!(busy.forwards.len(), 1);
        assert_eq!(busy.forwards[0].container_ip.to_string(), "10.88.0.2");
        let own = &busy
            .networks
            .iter()
            .find(|n| n.name == "brig")
            .unwrap()
            .container_egress;
        assert_eq!(own.len(), 2, "one entry per address of the container");
    }
}
