//! Root tests of bridge/veth setup, all inside namespaces the tests create:
//! a "host" namespace holds the bridge, "container" namespaces get eth0.

mod common;

use std::net::IpAddr;

use brig_net::netns::run_in_netns;
use brig_net::setup::{
    BridgeSpec, ContainerLinkSpec, attach_container, detach_container, ensure_bridge,
    isolate_container, remove_bridge,
};
use brig_net::{NetError, Netlink, Subnet};
use common::{TestNetns, links_in, need_root};

const BRIDGE: &str = "brigtest0";

fn bridge_spec(subnets: Vec<Subnet>) -> BridgeSpec {
    BridgeSpec {
        name: BRIDGE.to_string(),
        subnets,
        mtu: 1400,
    }
}

fn container_spec(
    host_ifname: &str,
    ns: &TestNetns,
    address: &str,
    subnet: Subnet,
) -> ContainerLinkSpec {
    ContainerLinkSpec {
        host_ifname: host_ifname.to_string(),
        bridge: BRIDGE.to_string(),
        container_ifname: "eth0".to_string(),
        netns: ns.path(),
        addresses: vec![(address.parse::<IpAddr>().unwrap(), subnet)],
        default_route: true,
        mtu: 1400,
        unprivileged_ping: true,
    }
}

fn in_host<T: Send>(
    host: &TestNetns,
    work: impl FnOnce(&Netlink) -> Result<T, NetError> + Send,
) -> Result<T, NetError> {
    run_in_netns(&host.path(), || work(&Netlink::open()?))
}

#[test]
fn two_containers_on_a_bridge_ping_each_other_and_teardown_leaves_no_link() {
    if !need_root("two_containers_on_a_bridge_ping_each_other_and_teardown_leaves_no_link") {
        return;
    }
    let host_links_before = host_link_names();
    let (host, c1, c2) = (
        TestNetns::new("host"),
        TestNetns::new("c1"),
        TestNetns::new("c2"),
    );
    let subnet = Subnet::parse("10.99.0.0/24", None).unwrap();
    in_host(&host, |nl| {
        ensure_bridge(nl, &bridge_spec(vec![subnet]))?;
        attach_container(nl, &container_spec("brigtv1", &c1, "10.99.0.2", subnet))?;
        attach_container(nl, &container_spec("brigtv2", &c2, "10.99.0.3", subnet))
    })
    .unwrap();

    assert_eq!(links_in(&c1), ["eth0", "lo"]);
    let (ok, out) = c1.exec("ip", &["-o", "link", "show", "eth0"]);
    assert!(
        ok && out.contains("mtu 1400") && out.contains("UP"),
        "{out}"
    );
    let (ok, out) = c1.exec("ip", &["route", "show", "default"]);
    assert!(ok && out.contains("via 10.99.0.1 dev eth0"), "{out}");
    for (from, to) in [
        (&c1, "10.99.0.3"),
        (&c2, "10.99.0.2"),
        (&c1, "10.99.0.1"),
        (&c1, "127.0.0.1"),
    ] {
        let (ok, out) = from.exec("/bin/busybox", &["ping", "-c", "1", "-W", "2", to]);
        assert!(ok, "ping {to} from {}: {out}", from.name);
    }

    in_host(&host, |nl| {
        assert!(detach_container(nl, "brigtv1")?);
        assert!(detach_container(nl, "brigtv2")?);
        assert!(
            !detach_container(nl, "brigtv2")?,
            "second detach finds nothing"
        );
        assert!(remove_bridge(nl, BRIDGE)?);
        Ok(())
    })
    .unwrap();
    assert_eq!(links_in(&host), ["lo"]);
    assert_eq!(links_in(&c1), ["lo"]);
    assert_eq!(links_in(&c2), ["lo"]);
    assert_eq!(
        host_link_names(),
        host_links_before,
        "the machine's own links changed"
    );
}

#[test]
fn isolated_container_is_cut_off_and_its_name_can_be_reused() {
    if !need_root("isolated_container_is_cut_off_and_its_name_can_be_reused") {
        return;
    }
    let (host, c1, c2) = (
        TestNetns::new("host"),
        TestNetns::new("c1"),
        TestNetns::new("c2"),
    );
    let subnet = Subnet::parse("10.99.5.0/24", None).unwrap();
    in_host(&host, |nl| {
        ensure_bridge(nl, &bridge_spec(vec![subnet]))?;
        attach_container(nl, &container_spec("brigtv5", &c1, "10.99.5.2", subnet))
    })
    .unwrap();
    let ping =
        |ns: &TestNetns| ns.exec("/bin/busybox", &["ping", "-c", "1", "-W", "1", "10.99.5.1"]);
    assert!(ping(&c1).0, "attached: {}", ping(&c1).1);
    let (ok, range) = c1.exec("cat", &["/proc/sys/net/ipv4/ping_group_range"]);
    assert!(
        ok && range.split_whitespace().eq(["0", "2147483647"]),
        "{range}"
    );

    assert!(in_host(&host, |nl| isolate_container(nl, "brigtv5")).unwrap());
    assert!(
        !ping(&c1).0,
        "the bridge forwards nothing to an isolated container"
    );
    // The deferred deletion has not happened: a new attachment under the
    // same host name replaces the stale link.
    in_host(&host, |nl| {
        attach_container(nl, &container_spec("brigtv5", &c2, "10.99.5.2", subnet))
    })
    .unwrap();
    assert_eq!(
        links_in(&c1),
        ["lo"],
        "the stale pair went with its host end"
    );
    assert!(ping(&c2).0, "the address works again: {}", ping(&c2).1);
    in_host(&host, |nl| {
        assert!(detach_container(nl, "brigtv5")?);
        assert!(
            !isolate_container(nl, "brigtv5")?,
            "nothing left to isolate"
        );
        remove_bridge(nl, BRIDGE)
    })
    .unwrap();
    assert_eq!(links_in(&host), ["lo"]);
}

#[test]
fn failed_setup_rolls_back_veth_and_leaves_container_namespace_empty() {
    if !need_root("failed_setup_rolls_back_veth_and_leaves_container_namespace_empty") {
        return;
    }
    let (host, c1) = (TestNetns::new("host"), TestNetns::new("c1"));
    let subnet = Subnet::parse("10.99.1.0/24", None).unwrap();
    // The address is outside the gateway's subnet, so the last step (the
    // default route via 10.99.1.1) fails after veth, move, rename and address.
    let mut spec = container_spec("brigtv3", &c1, "10.98.1.2", subnet);
    let error = in_host(&host, |nl| {
        ensure_bridge(nl, &bridge_spec(vec![subnet]))?;
        attach_container(nl, &spec)
    })
    .unwrap_err();
    assert!(
        error.to_string().contains("default route via 10.99.1.1"),
        "{error}"
    );
    assert_eq!(links_in(&host), [BRIDGE, "lo"]);
    assert_eq!(links_in(&c1), ["lo"]);

    // An unknown bridge fails before anything is created.
    spec.bridge = "nosuchbridge".to_string();
    let error = in_host(&host, |nl| attach_container(nl, &spec)).unwrap_err();
    assert!(
        matches!(error, NetError::LinkNotFound { ref name } if name == "nosuchbridge"),
        "{error}"
    );
    assert_eq!(links_in(&host), [BRIDGE, "lo"]);
    assert_eq!(links_in(&c1), ["lo"]);
}

#[test]
fn dual_stack_bridge_is_idempotent_and_removed() {
    if !need_root("dual_stack_bridge_is_idempotent_and_removed") {
        return;
    }
    let (host, c1) = (TestNetns::new("host"), TestNetns::new("c1"));
    let v4 = Subnet::parse("10.99.2.0/24", None).unwrap();
    let v6 = Subnet::parse("fd00:99:2::/64", None).unwrap();
    let spec = bridge_spec(vec![v4, v6]);
    in_host(&host, |nl| {
        let first = ensure_bridge(nl, &spec)?;
        assert_eq!(ensure_bridge(nl, &spec)?, first);
        let mut link = container_spec("brigtv4", &c1, "10.99.2.2", v4);
        link.addresses.push(("fd00:99:2::2".parse().unwrap(), v6));
        attach_container(nl, &link)
    })
    .unwrap();
    let (ok, out) = host.exec("ip", &["-o", "addr", "show", "dev", BRIDGE]);
    assert!(
        ok && out.contains("10.99.2.1/24") && out.contains("fd00:99:2::1/64"),
        "{out}"
    );
    let (ok, out) = c1.exec("ip", &["-o", "addr", "show", "dev", "eth0"]);
    assert!(
        ok && out.contains("10.99.2.2/24") && out.contains("fd00:99:2::2/64"),
        "{out}"
    );
    assert!(!out.contains("tentative"), "no DAD delay: {out}");
    for to in ["fd00:99:2::1", "10.99.2.1"] {
        let (ok, out) = c1.exec("/bin/busybox", &["ping", "-c", "1", "-W", "2", to]);
        assert!(ok, "ping {to}: {out}");
    }
    in_host(&host, |nl| remove_bridge(nl, BRIDGE)).unwrap();
    assert_eq!(
        links_in(&host),
        ["brigtv4", "lo"],
        "the veth stays until its container is detached"
    );
    in_host(&host, |nl| detach_container(nl, "brigtv4")).unwrap();
    assert_eq!(links_in(&host), ["lo"]);
}

#[test]
fn failed_bridge_setup_removes_the_bridge_and_bad_names_create_nothing() {
    if !need_root("failed_bridge_setup_removes_the_bridge_and_bad_names_create_nothing") {
        return;
    }
    let (host, c1) = (TestNetns::new("host"), TestNetns::new("c1"));
    // The same subnet twice: adding its gateway address again fails (EEXIST)
    // after the bridge was created.
    let same_gateway = vec![Subnet::parse("10.99.3.0/24", None).unwrap(); 2];
    let error = in_host(&host, |nl| ensure_bridge(nl, &bridge_spec(same_gateway))).unwrap_err();
    assert!(
        error.to_string().contains("add address 10.99.3.1/24"),
        "{error}"
    );
    assert_eq!(links_in(&host), ["lo"]);

    let subnet = Subnet::parse("10.99.4.0/24", None).unwrap();
    let spec = container_spec("brig-fourteen1", &c1, "10.99.4.2", subnet);
    let error = in_host(&host, |nl| {
        ensure_bridge(nl, &bridge_spec(vec![subnet]))?;
        attach_container(nl, &spec)
    })
    .unwrap_err();
    assert!(error.to_string().contains("at most 13 bytes"), "{error}");
    assert_eq!(links_in(&host), [BRIDGE, "lo"]);
    assert_eq!(links_in(&c1), ["lo"]);
}

#[test]
fn invalid_interface_names_are_refused_before_any_change() {
    let error = brig_net::netlink::check_link_name("a-name-that-is-far-too-long").unwrap_err();
    assert!(error.to_string().contains("1 to 15 bytes"), "{error}");
    assert!(brig_net::netlink::check_link_name("eth0").is_ok());
    assert!(brig_net::netlink::check_link_name("a/b").is_err());
}

fn host_link_names() -> Vec<String> {
    let out = common::run("ip", &["-o", "link", "show"]);
    let mut names: Vec<String> = out
        .lines()
        .filter_map(|line| line.split(": ").nth(1))
        .map(|name| name.split('@').next().unwrap_or(name).to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn attach_and_detach_timing_is_reported() {
    if !need_root("attach_and_detach_timing_is_reported") {
        return;
    }
    let host = TestNetns::new("host");
    let containers: Vec<TestNetns> = (0..5).map(|_| TestNetns::new("c")).collect();
    let subnet = Subnet::parse("10.99.5.0/24", None).unwrap();
    let timings = in_host(&host, |nl| {
        ensure_bridge(nl, &bridge_spec(vec![subnet]))?;
        let mut timings = Vec::new();
        for (n, container) in containers.iter().enumerate() {
            let spec = container_spec(
                &format!("brigtt{n}"),
                container,
                &format!("10.99.5.{}", n + 2),
                subnet,
            );
            let start = std::time::Instant::now();
            attach_container(nl, &spec)?;
            let attached = start.elapsed();
            detach_container(nl, &spec.host_ifname)?;
            timings.push((attached, start.elapsed() - attached));
        }
        Ok(timings)
    })
    .unwrap();
    for (attach, detach) in &timings {
        eprintln!("attach_container {attach:?}, detach_container {detach:?}");
        assert!(attach.as_millis() < 1000, "attach took {attach:?}");
    }
    assert_eq!(links_in(&host), [BRIDGE, "lo"]);
}
