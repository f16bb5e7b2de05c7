//! The host's routes, as the subnets they cover: new networks must not
//! overlap them. Read from procfs (one read each, no netlink dump needed).

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// A route of the main table: where it goes out, what it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRoute {
    pub ifname: String,
    pub destination: IpNet,
}

/// The IPv4 and IPv6 routes of the calling thread's namespace. Unreadable
/// files (IPv6 disabled) count as no routes.
pub fn host_routes() -> Vec<HostRoute> {
    let v4 = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let v6 = std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default();
    let mut out = parse_ipv4_routes(&v4);
    out.extend(parse_ipv6_routes(&v6));
    out
}

/// `/proc/net/route`: Iface Destination Gateway Flags ... Mask, addresses in
/// host-order hex (little endian on x86).
pub fn parse_ipv4_routes(text: &str) -> Vec<HostRoute> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let destination = u32::from_str_radix(fields.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(fields.get(7)?, 16).ok()?;
            let destination = Ipv4Addr::from(u32::from_be(destination.to_le()));
            let prefix = u32::from_be(mask.to_le()).leading_ones() as u8;
            Some(HostRoute {
                ifname: fields[0].to_owned(),
                destination: IpNet::V4(Ipv4Net::new(destination, prefix).ok()?),
            })
        })
        .collect()
}

/// `/proc/net/ipv6_route`: destination (32 hex digits), prefix length (hex), ...
/// Local and multicast routes (fe80::/64, ff00::/8, ::1/128) are kept: they
/// never overlap a subnet a user would choose.
pub fn parse_ipv6_routes(text: &str) -> Vec<HostRoute> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let destination = u128::from_str_radix(fields.first()?, 16).ok()?;
            let prefix = u8::from_str_radix(fields.get(1)?, 16).ok()?;
            Some(HostRoute {
                ifname: (*fields.get(9)?).to_owned(),
                destination: IpNet::V6(Ipv6Net::new(Ipv6Addr::from(destination), prefix).ok()?),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_route_tables_parse_into_subnets() {
        let v4 = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                  eth0\t00000000\t0102000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                  eth0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        let nets: Vec<IpNet> = parse_ipv4_routes(v4)
            .into_iter()
            .map(|r| r.destination)
            .collect();
        assert_eq!(
            nets,
            vec![
                "0.0.0.0/0".parse::<IpNet>().unwrap(),
                "10.0.2.0/24".parse().unwrap()
            ]
        );
        let v6 = "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth0\n";
        assert_eq!(
            parse_ipv6_routes(v6),
            vec![HostRoute {
                ifname: "eth0".into(),
                destination: "fd00::/64".parse().unwrap()
            }]
        );
    }
}
