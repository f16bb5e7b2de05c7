//! Root tests of the nftables rules with real traffic, all inside namespaces
//! the tests create: "host" holds two bridges and brig's table, "outside"
//! stands in for the world behind the host and has no route back to the
//! bridges' subnets (so reaching it proves masquerade).

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use brig_net::firewall::{
    ContainerEgress, EgressRule, Firewall, FirewallPlan, NetworkRules, NftFirewall, PortForward,
    PublishSpec,
};
use brig_net::netns::run_in_netns;
use brig_net::setup::{
    BridgeSpec, ContainerLinkSpec, attach_container, enable_route_localnet, ensure_bridge,
};
use brig_net::{Netlink, Subnet};
use common::{TestNetns, need_root};

struct Topology {
    host: TestNetns,
    outside: TestNetns,
    a: TestNetns,
    b: TestNetns,
}

const OUTSIDE_IP: &str = "10.97.0.2";

fn build_topology() -> Topology {
    let topology = Topology {
        host: TestNetns::new("host"),
        outside: TestNetns::new("out"),
        a: TestNetns::new("a"),
        b: TestNetns::new("b"),
    };
    let (host, outside) = (&topology.host.name, &topology.outside.name);
    let ip = |args: &[&str]| common::run("ip", args);
    ip(&[
        "-n", host, "link", "add", "brigtout", "type", "veth", "peer", "name", "eth0", "netns",
        outside,
    ]);
    ip(&["-n", host, "addr", "add", "10.97.0.1/24", "dev", "brigtout"]);
    ip(&["-n", host, "link", "set", "brigtout", "up"]);
    ip(&["-n", host, "link", "set", "lo", "up"]);
    ip(&["-n", outside, "addr", "add", "10.97.0.2/24", "dev", "eth0"]);
    ip(&["-n", outside, "link", "set", "eth0", "up"]);
    let (ok, out) = topology
        .host
        .exec("sysctl", &["-w", "net.ipv4.ip_forward=1"]);
    assert!(ok, "{out}");
    let (subnet_a, subnet_b) = (subnet("10.96.1.0/24"), subnet("10.96.2.0/24"));
    run_in_netns(&topology.host.path(), || {
        let nl = Netlink::open()?;
        for (bridge, subnet, container, address, veth) in [
            ("brigta", subnet_a, &topology.a, "10.96.1.2", "brigtva"),
            ("brigtb", subnet_b, &topology.b, "10.96.2.2", "brigtvb"),
        ] {
            ensure_bridge(
                &nl,
                &BridgeSpec {
                    name: bridge.into(),
                    subnets: vec![subnet],
                    mtu: 1500,
                },
            )?;
            enable_route_localnet(bridge)?;
            let link = ContainerLinkSpec {
                host_ifname: veth.into(),
                bridge: bridge.into(),
                container_ifname: "eth0".into(),
                netns: container.path(),
                addresses: vec![(address.parse().unwrap(), subnet)],
                default_route: true,
                mtu: 1500,
                unprivileged_ping: false,
            };
            attach_container(&nl, &link)?;
        }
        Ok(())
    })
    .unwrap();
    topology
}

fn subnet(value: &str) -> Subnet {
    Subnet::parse(value, None).unwrap()
}

fn network(name: &str, bridge: &str, subnet: &str) -> NetworkRules {
    NetworkRules {
        name: name.into(),
        bridge: bridge.into(),
        subnets: vec![subnet.parse().unwrap()],
        internal: false,
        egress_allow: None,
        container_egress: Vec::new(),
    }
}

fn two_networks() -> FirewallPlan {
    FirewallPlan {
        networks: vec![
            network("a", "brigta", "10.96.1.0/24"),
            network("b", "brigtb", "10.96.2.0/24"),
        ],
        forwards: Vec::new(),
    }
}

fn pings(from: &TestNetns, to: &str) -> bool {
    from.exec("/bin/busybox", &["ping", "-c", "1", "-W", "1", to])
        .0
}

/// Opens a TCP listener inside `ns`; the socket stays in that namespace.
fn listen_in(ns: &TestNetns, addr: &str) -> TcpListener {
    let addr: SocketAddr = addr.parse().unwrap();
    run_in_netns(&ns.path(), || Ok(TcpListener::bind(addr).expect("bind"))).unwrap()
}

fn connects_from(ns: &TestNetns, addr: &str) -> bool {
    let addr: SocketAddr = addr.parse().unwrap();
    run_in_netns(&ns.path(), || {
        Ok(TcpStream::connect_timeout(&addr, Duration::from_millis(700)).is_ok())
    })
    .unwrap()
}

fn tables_in(ns: &TestNetns) -> String {
    let (ok, out) = ns.exec("nft", &["list", "tables"]);
    assert!(ok, "{out}");
    out
}

#[test]
fn networks_are_isolated_masqueraded_and_internal_has_no_way_out() {
    if !need_root("networks_are_isolated_masqueraded_and_internal_has_no_way_out") {
        return;
    }
    let t = build_topology();
    let firewall = NftFirewall::in_netns(t.host.path());
    assert!(
        pings(&t.a, "10.96.2.2"),
        "without rules the host routes between the bridges"
    );
    assert!(
        !pings(&t.a, OUTSIDE_IP),
        "without masquerade the outside cannot answer"
    );

    firewall.apply(&two_networks()).unwrap();
    assert!(
        !pings(&t.a, "10.96.2.2"),
        "containers on different networks must not reach each other"
    );
    assert!(!pings(&t.b, "10.96.1.2"));
    assert!(
        pings(&t.a, OUTSIDE_IP),
        "masquerade lets the container reach the outside"
    );

    let mut plan = two_networks();
    plan.networks[0].internal = true;
    firewall.apply(&plan).unwrap();
    assert!(
        !pings(&t.a, OUTSIDE_IP),
        "an --internal network has no way out"
    );
    assert!(
        pings(&t.a, "10.96.1.1"),
        "the bridge address stays reachable"
    );
    assert!(pings(&t.b, OUTSIDE_IP), "other networks are not affected");

    firewall.remove().unwrap();
    assert_eq!(
        tables_in(&t.host),
        "",
        "nothing of brig stays in the ruleset"
    );
    firewall.remove().unwrap();
}

#[test]
fn egress_allow_list_lets_one_port_through_and_drops_another() {
    if !need_root("egress_allow_list_lets_one_port_through_and_drops_another") {
        return;
    }
    let t = build_topology();
    let _allowed = listen_in(&t.outside, "10.97.0.2:8080");
    let _other = listen_in(&t.outside, "10.97.0.2:8081");
    let mut plan = two_networks();
    plan.networks[0].egress_allow = Some(vec![EgressRule::parse("10.97.0.2/32:8080").unwrap()]);
    let firewall = NftFirewall::in_netns(t.host.path());
    firewall.apply(&plan).unwrap();
    assert!(
        connects_from(&t.a, "10.97.0.2:8080"),
        "the allowed port is reachable"
    );
    assert!(
        !connects_from(&t.a, "10.97.0.2:8081"),
        "other ports are dropped"
    );
    assert!(!pings(&t.a, OUTSIDE_IP), "other protocols are dropped");
    assert!(
        connects_from(&t.b, "10.97.0.2:8081"),
        "a network without a list is unrestricted"
    );

    plan.networks[1].container_egress.push(ContainerEgress {
        address: "10.96.2.2".parse().unwrap(),
        allow: vec![EgressRule::parse("10.97.0.2:8081").unwrap()],
    });
    firewall.apply(&plan).unwrap();
    assert!(
        connects_from(&t.b, "10.97.0.2:8081"),
        "the container's own list allows 8081"
    );
    assert!(
        !connects_from(&t.b, "10.97.0.2:8080"),
        "and drops what it does not list"
    );
    firewall.apply(&FirewallPlan::default()).unwrap();
    assert_eq!(tables_in(&t.host), "");
}

#[test]
fn published_port_is_reachable_from_host_loopback_and_other_networks() {
    if !need_root("published_port_is_reachable_from_host_loopback_and_other_networks") {
        return;
    }
    let t = build_topology();
    let _server = listen_in(&t.a, "10.96.1.2:80");
    let mut plan = two_networks();
    for (spec, ip) in [
        ("127.0.0.1:18080:80", "10.96.1.2"),
        ("18081:80", "10.96.1.2"),
    ] {
        let spec = PublishSpec::parse(spec).unwrap();
        plan.forwards.push(PortForward {
            host_ip: spec.host_ip,
            host_port: spec.host_port.unwrap(),
            container_ip: ip.parse().unwrap(),
            container_port: spec.container_port,
            protocol: spec.protocol,
        });
    }
    let firewall = NftFirewall::in_netns(t.host.path());
    assert!(!connects_from(&t.host, "127.0.0.1:18080"));
    firewall.apply(&plan).unwrap();
    assert!(
        connects_from(&t.host, "127.0.0.1:18080"),
        "-p 127.0.0.1:18080:80 from the host's loopback"
    );
    assert!(
        connects_from(&t.b, "10.96.2.1:18081"),
        "-p 18081:80 from a container on another network"
    );
    assert!(
        connects_from(&t.outside, "10.97.0.1:18081"),
        "-p 18081:80 from outside"
    );
    assert!(
        !connects_from(&t.outside, "10.97.0.1:18080"),
        "a port bound to 127.0.0.1 is not published outside"
    );
    firewall.remove().unwrap();
    assert!(!connects_from(&t.host, "127.0.0.1:18080"));
    assert_eq!(tables_in(&t.host), "");
}
