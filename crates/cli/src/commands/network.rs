//! `brig network create|ls|inspect|rm|prune|connect|disconnect`.

use anyhow::Result;
use brig_engine::network::{NetworkCreateOptions, manage::inspect_json};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::commands::container::{each, engine, fail};
use crate::context::Context;
use crate::output::{self, Column, Format};

pub const EXAMPLES: &str = "\
Examples:
  brig network create app
  brig run -d --name db --network app busybox:1.36 sleep 1d
  brig run --rm --network app busybox:1.36 ping -c1 db
  brig network create --internal --subnet 10.90.0.0/24 backend
  brig network rm app backend";

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum NetworkCommand {
    /// Create a bridge network; its members resolve each other by name.
    Create(CreateArgs),
    /// List networks.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show networks' details as JSON.
    Inspect(InspectArgs),
    /// Remove networks no running container uses.
    #[command(alias = "remove")]
    Rm(NamesArgs),
    /// Remove every network no running container uses.
    Prune(PruneArgs),
    /// Connect a container to a network (a running one at once).
    Connect(ConnectArgs),
    /// Disconnect a container from a network.
    Disconnect(DisconnectArgs),
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  brig network connect --alias api app web")]
pub struct ConnectArgs {
    /// The container's address on the network.
    #[arg(long)]
    pub ip: Option<String>,
    /// Another name the network's members resolve to the container.
    #[arg(long = "alias")]
    pub alias: Vec<String>,
    pub network: String,
    pub container: String,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  brig network disconnect app web")]
pub struct DisconnectArgs {
    /// Accepted for Docker's scripts.
    #[arg(short, long)]
    pub force: bool,
    pub network: String,
    pub container: String,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  brig network create app\n  brig network create --subnet 10.90.0.0/24 --gateway 10.90.0.254 --internal backend\n  brig network create --ipv6 --egress-allow 10.0.0.0/8:443 app6"
)]
pub struct CreateArgs {
    /// A subnet in CIDR form (repeat for IPv4 and IPv6); default: a free 10.89.N.0/24.
    #[arg(long)]
    pub subnet: Vec<String>,
    /// The gateway of the --subnet at the same position (default: its first address).
    #[arg(long)]
    pub gateway: Vec<String>,
    /// No route out of the network: members reach only each other.
    #[arg(long)]
    pub internal: bool,
    /// Add an IPv6 subnet (a free fd00:89:N::/64 unless --subnet gives one).
    #[arg(long)]
    pub ipv6: bool,
    /// Members may open connections only to CIDR[:PORT] outside the network.
    #[arg(long = "egress-allow", value_name = "CIDR[:PORT]")]
    pub egress_allow: Vec<String>,
    /// Accepted for Docker's scripts: only `bridge` exists.
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// Set a label (KEY=VALUE).
    #[arg(long = "label")]
    pub label: Vec<String>,
    pub name: String,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  brig network ls\n  brig network ls -q")]
pub struct LsArgs {
    #[arg(short, long)]
    pub quiet: bool,
    #[arg(long, default_value = "table")]
    pub format: Format,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  brig network inspect app\n  brig network inspect -f '{{.Driver}}' app"
)]
pub struct InspectArgs {
    /// Format with a Go template.
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true, value_name = "NETWORK")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  brig network rm app")]
pub struct NamesArgs {
    #[arg(required = true, value_name = "NETWORK")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  brig network prune -f")]
pub struct PruneArgs {
    /// Accepted for Docker's scripts (brig never asks).
    #[arg(short, long)]
    pub force: bool,
}

const COLUMNS: [Column; 4] = [
    Column {
        header: "NETWORK ID",
        field: "ShortId",
    },
    Column {
        header: "NAME",
        field: "Name",
    },
    Column {
        header: "DRIVER",
        field: "Driver",
    },
    Column {
        header: "SUBNETS",
        field: "Subnets",
    },
];

pub fn dispatch(ctx: &Context, command: NetworkCommand) -> Result<()> {
    let engine = engine(ctx)?;
    match command {
        NetworkCommand::Create(a) => {
            if a.driver != "bridge" {
                anyhow::bail!("--driver {}: only the bridge driver exists", a.driver);
            }
            let opts = NetworkCreateOptions {
                name: a.name,
                subnets: a.subnet,
                gateways: a.gateway,
                internal: a.internal,
                ipv6: a.ipv6,
                labels: a
                    .label
                    .iter()
                    .map(|l| {
                        let (k, v) = l.split_once('=').unwrap_or((l, ""));
                        (k.to_owned(), v.to_owned())
                    })
                    .collect(),
                egress_allow: a.egress_allow,
            };
            let record = engine.network_create(&opts).map_err(fail)?;
            println!("{}", record.id);
            Ok(())
        }
        NetworkCommand::Ls(a) => {
            let rows: Vec<Value> = engine
                .network_list()
                .map_err(fail)?
                .iter()
                .map(|n| {
                    let subnets: Vec<String> = n
                        .record
                        .subnets
                        .iter()
                        .map(|s| s.subnet.to_string())
                        .collect();
                    json!({"ShortId": n.record.id.chars().take(12).collect::<String>(),
                           "ID": n.record.id, "Name": n.record.name, "Driver": "bridge",
                           "Scope": "local", "Subnets": subnets.join(","),
                           "Internal": n.record.internal, "Containers": n.members.len()})
                })
                .collect();
            output::print_listing(&a.format, a.quiet, "ShortId", &COLUMNS, &rows)
        }
        NetworkCommand::Inspect(a) => output::print_inspected(&a.names, a.format.as_deref(), |n| {
            engine
                .network_find(n)
                .map(|i| inspect_json(&i))
                .map_err(fail)
        }),
        NetworkCommand::Rm(a) => each(&a.names, |n| {
            println!("{}", engine.network_remove(n).map_err(fail)?);
            Ok(())
        }),
        NetworkCommand::Connect(a) => {
            let ip =
                a.ip.as_deref()
                    .map(|ip| ip.parse())
                    .transpose()
                    .map_err(|_| anyhow::anyhow!("--ip {:?} is not an IP address", a.ip))?;
            engine
                .network_connect(&a.network, &a.container, ip, &a.alias)
                .map_err(fail)
        }
        NetworkCommand::Disconnect(a) => engine
            .network_disconnect(&a.network, &a.container)
            .map_err(fail),
        NetworkCommand::Prune(_) => {
            let removed = engine.network_prune().map_err(fail)?;
            if !removed.is_empty() {
                println!("Deleted Networks:");
                for n in &removed {
                    println!("{n}");
                }
            }
            Ok(())
        }
    }
}
