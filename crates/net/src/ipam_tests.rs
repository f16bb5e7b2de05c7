use super::*;
use proptest::prelude::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

#[test]
fn default_gateway_is_first_host_and_allocation_starts_after_it() {
    let subnet = Subnet::parse("10.89.3.0/24", None).unwrap();
    assert_eq!(subnet.gateway(), ip("10.89.3.1"));
    let mut pool = Pool::new(subnet, BTreeSet::new());
    assert_eq!(pool.allocate(None).unwrap(), ip("10.89.3.2"));
    assert_eq!(pool.allocate(None).unwrap(), ip("10.89.3.3"));
}

#[test]
fn released_address_is_reused() {
    let mut pool = Pool::new(
        Subnet::parse("10.89.3.0/24", None).unwrap(),
        BTreeSet::new(),
    );
    let a = pool.allocate(None).unwrap();
    let _b = pool.allocate(None).unwrap();
    assert!(pool.release(a));
    assert!(!pool.release(a));
    assert_eq!(pool.allocate(None).unwrap(), a);
}

#[test]
fn explicit_gateway_is_skipped_by_allocation() {
    let subnet = Subnet::parse("10.89.3.0/24", Some("10.89.3.2")).unwrap();
    let mut pool = Pool::new(subnet, BTreeSet::new());
    assert_eq!(pool.allocate(None).unwrap(), ip("10.89.3.1"));
    assert_eq!(pool.allocate(None).unwrap(), ip("10.89.3.3"));
}

#[test]
fn ipv6_subnet_allocates() {
    let subnet = Subnet::parse("fd00:89::/64", None).unwrap();
    assert_eq!(subnet.gateway(), ip("fd00:89::1"));
    let mut pool = Pool::new(subnet, BTreeSet::new());
    assert_eq!(pool.allocate(None).unwrap(), ip("fd00:89::2"));
    assert_eq!(
        pool.allocate(Some(ip("fd00:89::ffff"))).unwrap(),
        ip("fd00:89::ffff")
    );
}

#[test]
fn small_subnet_is_exhausted_with_clear_error() {
    let mut pool = Pool::new(
        Subnet::parse("10.89.3.0/30", None).unwrap(),
        BTreeSet::new(),
    );
    assert_eq!(pool.allocate(None).unwrap(), ip("10.89.3.2"));
    let err = pool.allocate(None).unwrap_err();
    assert!(err.to_string().contains("--subnet"), "{err}");
}

#[test]
fn ip_requests_outside_reserved_or_taken_are_refused_naming_the_flag() {
    let mut pool = Pool::new(
        Subnet::parse("10.89.3.0/24", None).unwrap(),
        BTreeSet::new(),
    );
    pool.allocate(Some(ip("10.89.3.50"))).unwrap();
    for (bad, expected) in [
        (
            "10.89.4.5",
            IpamError::IpOutside {
                ip: ip("10.89.4.5"),
                subnet: net("10.89.3.0/24"),
            },
        ),
        (
            "10.89.3.1",
            IpamError::IpReserved {
                ip: ip("10.89.3.1"),
                subnet: net("10.89.3.0/24"),
                what: "gateway",
            },
        ),
        (
            "10.89.3.0",
            IpamError::IpReserved {
                ip: ip("10.89.3.0"),
                subnet: net("10.89.3.0/24"),
                what: "network",
            },
        ),
        (
            "10.89.3.255",
            IpamError::IpReserved {
                ip: ip("10.89.3.255"),
                subnet: net("10.89.3.0/24"),
                what: "broadcast",
            },
        ),
        (
            "10.89.3.50",
            IpamError::IpTaken {
                ip: ip("10.89.3.50"),
            },
        ),
        (
            "fd00::5",
            IpamError::IpOutside {
                ip: ip("fd00::5"),
                subnet: net("10.89.3.0/24"),
            },
        ),
    ] {
        let err = pool.allocate(Some(ip(bad))).unwrap_err();
        assert_eq!(err, expected);
        assert!(err.to_string().starts_with("--ip "), "{err}");
    }
}

#[test]
fn bad_subnet_and_gateway_name_their_flag() {
    let cases = [
        (Subnet::parse("10.89.3.7/24", None), "--subnet"),
        (Subnet::parse("not-a-subnet", None), "--subnet"),
        (Subnet::parse("10.89.3.0/31", None), "--subnet"),
        (Subnet::parse("10.89.3.0/24", Some("10.1.1.1")), "--gateway"),
        (
            Subnet::parse("10.89.3.0/24", Some("10.89.3.255")),
            "--gateway",
        ),
        (
            Subnet::parse("10.89.3.0/24", Some("10.89.3.0")),
            "--gateway",
        ),
        (Subnet::parse("10.89.3.0/24", Some("bogus")), "--gateway"),
    ];
    for (result, flag) in cases {
        let err = result.unwrap_err().to_string();
        assert!(err.starts_with(flag), "{err} should name {flag}");
    }
    assert!(
        parse_ip("--ip", "1.2.3")
            .unwrap_err()
            .to_string()
            .starts_with("--ip")
    );
}

#[test]
fn default_subnet_avoids_host_routes_and_existing_networks() {
    let in_use = [
        net("0.0.0.0/0"),
        net("10.64.0.0/10"),
        net("10.89.0.0/24"),
        net("10.89.1.0/24"),
    ];
    // 10.64.0.0/10 covers 10.64-10.127, so every candidate clashes.
    assert_eq!(
        choose_subnet(default_candidates(), &in_use),
        Err(IpamError::NoFreeDefaultSubnet)
    );
    let in_use = [
        net("0.0.0.0/0"),
        net("10.88.5.0/24"),
        net("10.89.0.0/24"),
        net("192.168.1.0/24"),
    ];
    assert_eq!(
        choose_subnet(default_candidates(), &in_use).unwrap(),
        net("10.89.1.0/24")
    );
    assert_eq!(
        choose_subnet(default_candidates(), &[]).unwrap(),
        net("10.88.0.0/16")
    );
}

#[test]
fn user_subnet_overlapping_a_route_is_refused() {
    let err = check_no_overlap(net("10.88.0.0/16"), &[net("10.88.7.0/24")]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("--subnet 10.88.0.0/16 overlaps 10.88.7.0/24"),
        "{err}"
    );
    assert!(check_no_overlap(net("10.88.0.0/16"), &[net("10.89.0.0/24")]).is_ok());
}

proptest! {
    #[test]
    fn allocations_are_distinct_usable_and_inside(prefix in 22u8..=29, count in 1usize..300, seed in any::<u32>()) {
        let base = Ipv4Addr::from(seed & 0x0aff_ffff | 0x0a00_0000);
        let net = IpNet::V4(Ipv4Net::new(base, prefix).unwrap().trunc());
        let subnet = Subnet::new(net, None).unwrap();
        let mut pool = Pool::new(subnet, BTreeSet::new());
        let capacity = (1usize << (32 - prefix)) - 3;
        let mut seen = BTreeSet::new();
        for _ in 0..count.min(capacity) {
            let ip = pool.allocate(None).unwrap();
            prop_assert!(net.contains(&ip));
            prop_assert!(ip != subnet.gateway() && ip != net.network() && ip != net.broadcast());
            prop_assert!(seen.insert(ip));
        }
        if count >= capacity {
            let exhausted = matches!(pool.allocate(None), Err(IpamError::Exhausted { .. }));
            prop_assert!(exhausted);
        }
    }

    #[test]
    fn release_then_allocate_returns_lowest_free(n in 2usize..50, pick in any::<prop::sample::Index>()) {
        let mut pool = Pool::new(Subnet::parse("fd00:1::/120", None).unwrap(), BTreeSet::new());
        let ips: Vec<IpAddr> = (0..n).map(|_| pool.allocate(None).unwrap()).collect();
        let freed = ips[pick.index(n)];
        prop_assert!(pool.release(freed));
        prop_assert_eq!(pool.allocate(None).unwrap(), freed);
    }
}
