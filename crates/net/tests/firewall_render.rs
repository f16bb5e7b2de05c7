//! Golden tests of the nftables rendering and flag parsing (no root needed).
//! Set BRIG_UPDATE_GOLDEN=1 to rewrite the golden files after a deliberate change.

use std::path::PathBuf;

use brig_net::firewall::{
    ContainerEgress, EgressRule, FirewallError, FirewallPlan, NetworkRules, PortForward, Protocol,
    PublishSpec, RANDOM_PORT_RANGE, check_port_conflicts, pick_host_port, render,
};

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("BRIG_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        actual,
        expected,
        "rendering differs from {}",
        path.display()
    );
}

fn network(name: &str, bridge: &str, subnets: &[&str]) -> NetworkRules {
    NetworkRules {
        name: name.to_string(),
        bridge: bridge.to_string(),
        subnets: subnets.iter().map(|s| s.parse().unwrap()).collect(),
        internal: false,
        egress_allow: None,
        container_egress: Vec::new(),
    }
}

fn forward(spec: &str, container_ip: &str) -> PortForward {
    let spec = PublishSpec::parse(spec).unwrap();
    PortForward {
        host_ip: spec.host_ip,
        host_port: spec.host_port.unwrap(),
        container_ip: container_ip.parse().unwrap(),
        container_port: spec.container_port,
        protocol: spec.protocol,
    }
}

fn full_plan() -> FirewallPlan {
    let mut internal = network("backend", "brig1", &["10.89.1.0/24"]);
    internal.internal = true;
    let mut restricted = network("restricted", "brig2", &["10.89.2.0/24"]);
    restricted.egress_allow = Some(vec![
        EgressRule::parse("10.97.0.0/24:8080").unwrap(),
        EgressRule::parse("fd00:97::/64").unwrap(),
    ]);
    let mut default = network("brig", "brig0", &["10.88.0.0/16", "fd00:88::/64"]);
    default.container_egress.push(ContainerEgress {
        address: "10.88.0.5".parse().unwrap(),
        allow: vec![EgressRule::parse("1.1.1.1:53").unwrap()],
    });
    FirewallPlan {
        networks: vec![default, internal, restricted],
        forwards: vec![
            forward("127.0.0.1:18080:80", "10.88.0.2"),
            forward("5353:53/udp", "10.88.0.3"),
            forward("[::1]:8443:443/tcp", "fd00:88::2"),
        ],
    }
}

#[test]
fn full_plan_renders_masquerade_dnat_internal_isolation_and_egress() {
    golden("full.nft", &render(&full_plan()).unwrap());
}

#[test]
fn empty_plan_only_removes_brigs_table() {
    let script = render(&FirewallPlan::default()).unwrap();
    golden("empty.nft", &script);
    assert_eq!(script, "add table inet brig\ndelete table inet brig\n");
}

#[test]
fn dnat_with_mixed_families_is_refused() {
    let mut plan = full_plan();
    plan.forwards = vec![forward("127.0.0.1:18080:80", "fd00:88::2")];
    let error = render(&plan).unwrap_err();
    assert!(
        matches!(error, FirewallError::FamilyMismatch { .. }),
        "{error}"
    );
    assert!(
        error.to_string().starts_with("-p 127.0.0.1:18080"),
        "{error}"
    );
}

#[test]
fn conflicting_host_ports_are_refused_and_random_ports_avoid_taken_ones() {
    let mut plan = full_plan();
    plan.forwards.push(forward("18080:8080", "10.88.0.9"));
    let error = render(&plan).unwrap_err();
    assert!(
        matches!(
            error,
            FirewallError::PortTaken {
                host_port: 18080,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().starts_with("-p 18080/tcp"), "{error}");
    // Same port, other protocol or other explicit address: no conflict.
    let ok = [
        forward("127.0.0.1:18080:80", "10.88.0.2"),
        forward("127.0.0.2:18080:80", "10.88.0.3"),
        forward("18080:80/udp", "10.88.0.4"),
    ];
    assert!(check_port_conflicts(&ok).is_ok());

    let taken = [
        forward("32768:80", "10.88.0.2"),
        forward("32769:80", "10.88.0.3"),
        forward("32770:53/udp", "10.88.0.4"),
    ];
    assert_eq!(
        pick_host_port(&taken, Protocol::Tcp, RANDOM_PORT_RANGE).unwrap(),
        32770
    );
    assert_eq!(
        pick_host_port(&taken, Protocol::Udp, RANDOM_PORT_RANGE).unwrap(),
        32768
    );
    let error = pick_host_port(&taken, Protocol::Tcp, 32768..=32769).unwrap_err();
    assert!(
        matches!(error, FirewallError::NoFreeHostPort { .. }),
        "{error}"
    );
}

#[test]
fn publish_flag_forms_parse() {
    let cases = [
        ("80", None, None, 80, Protocol::Tcp),
        ("8080:80", None, Some(8080), 80, Protocol::Tcp),
        ("53:53/udp", None, Some(53), 53, Protocol::Udp),
        (
            "127.0.0.1:18080:80",
            Some("127.0.0.1"),
            Some(18080),
            80,
            Protocol::Tcp,
        ),
        (
            "[::1]:8443:443/tcp",
            Some("::1"),
            Some(8443),
            443,
            Protocol::Tcp,
        ),
        ("::80", None, None, 80, Protocol::Tcp),
        (
            "127.0.0.1::80/udp",
            Some("127.0.0.1"),
            None,
            80,
            Protocol::Udp,
        ),
    ];
    for (value, ip, host_port, container_port, protocol) in cases {
        let spec = PublishSpec::parse(value).unwrap_or_else(|e| panic!("{value}: {e}"));
        assert_eq!(spec.host_ip, ip.map(|ip| ip.parse().unwrap()), "{value}");
        assert_eq!(
            (spec.host_port, spec.container_port, spec.protocol),
            (host_port, container_port, protocol),
            "{value}"
        );
    }
}

#[test]
fn bad_publish_and_egress_flags_name_the_flag() {
    for bad in ["", "0", "70000", "80/sctp", "1.2.3:80:80", "a:b", "1:2:3:4"] {
        let error = PublishSpec::parse(bad).unwrap_err().to_string();
        assert!(error.starts_with("-p "), "{bad}: {error}");
    }
    for bad in ["10.0.0.0/33", "nonsense", "10.0.0.0/8:0", "10.0.0.0/8:x"] {
        let error = EgressRule::parse(bad).unwrap_err().to_string();
        assert!(error.starts_with("--egress-allow "), "{bad}: {error}");
    }
    let rule = EgressRule::parse("10.1.2.3/16:443").unwrap();
    assert_eq!(
        (rule.destination.to_string(), rule.port),
        ("10.1.0.0/16".to_string(), Some(443))
    );
    assert_eq!(EgressRule::parse("1.2.3.4:53").unwrap().port, Some(53));
    assert_eq!(EgressRule::parse("fd00::/64:53").unwrap().port, Some(53));
}

proptest::proptest! {
    #[test]
    fn flag_parsers_never_panic(value in "[0-9a-f:./\\[\\]tcpud]{0,24}") {
        let _ = PublishSpec::parse(&value);
        let _ = EgressRule::parse(&value);
    }

    #[test]
    fn published_host_port_form_round_trips(host in 1u16.., container in 1u16.., udp in proptest::bool::ANY) {
        let proto = if udp { "udp" } else { "tcp" };
        let spec = PublishSpec::parse(&format!("127.0.0.1:{host}:{container}/{proto}")).unwrap();
        proptest::prop_assert_eq!(spec.host_port, Some(host));
        proptest::prop_assert_eq!(spec.container_port, container);
        proptest::prop_assert_eq!(spec.protocol.to_string(), proto);
    }
}
