//! The nftables backend: renders a plan to `nft -f` text (pure) and feeds it
//! to `nft` (I/O). All rules live in the `inet brig` table, which belongs to
//! brig alone and is replaced as a whole in one transaction.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use ipnet::IpNet;

use super::{EgressRule, Firewall, FirewallError, FirewallPlan, NetworkRules, PortForward};
use crate::netns::run_in_netns;

/// The table brig owns.
pub const TABLE: &str = "inet brig";

/// Applies plans with the `nft` binary, optionally inside a network namespace.
#[derive(Debug, Clone)]
pub struct NftFirewall {
    program: PathBuf,
    netns: Option<PathBuf>,
    /// The `inet` table's name (`brig` unless [`NftFirewall::with_table`]).
    table: String,
}

impl Default for NftFirewall {
    fn default() -> Self {
        NftFirewall {
            program: PathBuf::from("nft"),
            netns: None,
            table: "brig".to_owned(),
        }
    }
}

impl NftFirewall {
    /// Runs `nft` in the network namespace at `netns` instead of the caller's.
    pub fn in_netns(netns: PathBuf) -> Self {
        NftFirewall {
            netns: Some(netns),
            ..Self::default()
        }
    }

    /// Uses the table `inet NAME` (one per brig root sharing a host).
    pub fn with_table(mut self, name: &str) -> Self {
        self.table = name.to_owned();
        self
    }

    /// The script [`Firewall::apply`] would feed to nft for `plan`.
    pub fn script(&self, plan: &FirewallPlan) -> Result<String, FirewallError> {
        render_table(plan, &self.table)
    }

    fn run(&self, script: &str) -> Result<(), FirewallError> {
        match &self.netns {
            // The child inherits the namespace of the thread that forks it.
            Some(path) => run_in_netns(path, || Ok(self.feed_nft(script)))?,
            None => self.feed_nft(script),
        }
    }

    fn feed_nft(&self, script: &str) -> Result<(), FirewallError> {
        let spawn_error = |source| FirewallError::Spawn {
            program: self.program.clone(),
            source,
        };
        let mut child = Command::new(&self.program)
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_error)?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(script.as_bytes()).map_err(spawn_error)?;
        }
        let output = child.wait_with_output().map_err(spawn_error)?;
        if output.status.success() {
            return Ok(());
        }
        Err(FirewallError::Rejected {
            program: self.program.clone(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

impl Firewall for NftFirewall {
    fn apply(&self, plan: &FirewallPlan) -> Result<(), FirewallError> {
        self.run(&self.script(plan)?)
    }

    fn remove(&self) -> Result<(), FirewallError> {
        self.run(&self.script(&FirewallPlan::default())?)
    }
}

/// Renders the `nft -f` script for `plan`. The first two lines make the
/// delete succeed whether or not the table exists; an empty plan ends there,
/// so the table disappears with the last network.
pub fn render(plan: &FirewallPlan) -> Result<String, FirewallError> {
    render_table(plan, "brig")
}

/// [`render`] into the table `inet NAME`.
pub fn render_table(plan: &FirewallPlan, name: &str) -> Result<String, FirewallError> {
    super::check_port_conflicts(&plan.forwards)?;
    let table = format!("inet {name}");
    let mut out = format!("add table {table}\ndelete table {table}\n");
    if plan.is_empty() {
        return Ok(out);
    }
    out.push_str(&format!("table {table} {{\n"));
    render_forward_chain(&mut out, plan);
    for network in plan.networks.iter().filter(|n| !n.internal) {
        for (chain, allow) in egress_chains(network) {
            render_egress_chain(&mut out, &chain, allow);
        }
    }
    render_published_chains(&mut out, &plan.forwards)?;
    render_postrouting_chain(&mut out, plan);
    out.push_str("}\n");
    Ok(out)
}

fn render_forward_chain(out: &mut String, plan: &FirewallPlan) {
    out.push_str(
        "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n",
    );
    out.push_str("\t\tct state established,related accept\n");
    // Published ports stay reachable from other networks, like Docker.
    out.push_str("\t\tct status dnat accept\n");
    for network in &plan.networks {
        let bridge = quote(&network.bridge);
        if network.internal {
            let _ = writeln!(out, "\t\tiifname {bridge} oifname != {bridge} drop");
            let _ = writeln!(out, "\t\toifname {bridge} iifname != {bridge} drop");
            continue;
        }
        let others: Vec<String> = plan
            .networks
            .iter()
            .filter(|other| other.bridge != network.bridge)
            .map(|other| quote(&other.bridge))
            .collect();
        if !others.is_empty() {
            let _ = writeln!(
                out,
                "\t\tiifname {bridge} oifname {{ {} }} drop",
                others.join(", ")
            );
        }
        // A container's own list comes first and ends in a verdict, so it
        // replaces the network's list for that container.
        for (index, container) in network.container_egress.iter().enumerate() {
            let saddr = format!(
                "{} saddr {}",
                family_keyword(container.address),
                container.address
            );
            let _ = writeln!(
                out,
                "\t\tiifname {bridge} oifname != {bridge} {saddr} jump {}",
                container_chain_name(network, index)
            );
        }
        if network.egress_allow.is_some() {
            let _ = writeln!(
                out,
                "\t\tiifname {bridge} oifname != {bridge} jump {}",
                egress_chain_name(network)
            );
        }
    }
    out.push_str("\t}\n");
}

/// Allowed destinations accept, everything else is dropped.
fn render_egress_chain(out: &mut String, chain: &str, allow: &[EgressRule]) {
    let _ = writeln!(out, "\tchain {chain} {{");
    for rule in allow {
        let daddr = format!(
            "{} daddr {}",
            family_keyword(rule.destination.addr()),
            rule.destination
        );
        match rule.port {
            Some(port) => {
                let _ = writeln!(out, "\t\t{daddr} tcp dport {port} accept");
                let _ = writeln!(out, "\t\t{daddr} udp dport {port} accept");
            }
            None => {
                let _ = writeln!(out, "\t\t{daddr} accept");
            }
        }
    }
    out.push_str("\t\tdrop\n\t}\n");
}

fn render_published_chains(
    out: &mut String,
    forwards: &[PortForward],
) -> Result<(), FirewallError> {
    if forwards.is_empty() {
        return Ok(());
    }
    out.push_str("\tchain published {\n");
    for forward in forwards {
        let _ = writeln!(out, "\t\t{}", dnat_rule(forward)?);
    }
    out.push_str("\t}\n");
    // Traffic from outside arrives in prerouting, the host's own in output.
    out.push_str(
        "\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n",
    );
    out.push_str("\t\tfib daddr type local jump published\n\t}\n");
    out.push_str("\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n");
    out.push_str("\t\tfib daddr type local jump published\n\t}\n");
    Ok(())
}

fn dnat_rule(forward: &PortForward) -> Result<String, FirewallError> {
    let family = family_keyword(forward.container_ip);
    let destination = match forward.host_ip {
        Some(host_ip) if host_ip.is_ipv4() != forward.container_ip.is_ipv4() => {
            return Err(FirewallError::FamilyMismatch {
                host_ip,
                host_port: forward.host_port,
                container_ip: forward.container_ip,
            });
        }
        Some(host_ip) => format!("{family} daddr {host_ip}"),
        None => format!("meta nfproto {}", nfproto(forward.container_ip)),
    };
    let target = match forward.container_ip {
        IpAddr::V4(ip) => format!("{ip}:{}", forward.container_port),
        IpAddr::V6(ip) => format!("[{ip}]:{}", forward.container_port),
    };
    Ok(format!(
        "{destination} {} dport {} dnat {family} to {target}",
        forward.protocol, forward.host_port
    ))
}

fn render_postrouting_chain(out: &mut String, plan: &FirewallPlan) {
    out.push_str(
        "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n",
    );
    for network in plan.networks.iter().filter(|n| !n.internal) {
        for subnet in &network.subnets {
            let family = family_keyword(subnet.addr());
            let _ = writeln!(
                out,
                "\t\t{family} saddr {subnet} {family} daddr != {subnet} masquerade"
            );
        }
        if network.subnets.iter().any(|s| matches!(s, IpNet::V4(_))) {
            // Connections to a port published on 127.0.0.1 need a source the
            // container can answer (the bridge needs route_localnet=1 too).
            let _ = writeln!(
                out,
                "\t\tip saddr 127.0.0.0/8 oifname {} masquerade",
                quote(&network.bridge)
            );
        }
    }
    out.push_str("\t}\n");
}

fn egress_chain_name(network: &NetworkRules) -> String {
    format!("egress-{}", network.bridge)
}

fn container_chain_name(network: &NetworkRules, index: usize) -> String {
    format!("egress-{}-{index}", network.bridge)
}

/// (chain name, allow list) for every egress chain of `network`.
fn egress_chains(network: &NetworkRules) -> Vec<(String, &[EgressRule])> {
    let containers = network
        .container_egress
        .iter()
        .enumerate()
        .map(|(index, container)| {
            (
                container_chain_name(network, index),
                container.allow.as_slice(),
            )
        });
    let own = network
        .egress_allow
        .as_deref()
        .map(|allow| (egress_chain_name(network), allow));
    containers.chain(own).collect()
}

fn family_keyword(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "ip" } else { "ip6" }
}

fn nfproto(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "ipv4" } else { "ipv6" }
}

/// Interface names are checked by the netlink layer; quoting keeps nft from
/// reading them as keywords.
fn quote(name: &str) -> String {
    format!("\"{name}\"")
}
