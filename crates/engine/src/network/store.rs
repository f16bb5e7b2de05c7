//! The `networks`, `network_endpoints` and `network_addresses` tables.
//!
//! An endpoint is one running container on one network: its host veth, its
//! addresses and its resolved published ports. It exists from the monitor's
//! attach to its detach (or the repair after a crash). The primary key of
//! `network_addresses` makes two containers holding one address impossible,
//! whatever the number of concurrent `brig` processes: allocation reads the
//! taken set and inserts inside one `BEGIN IMMEDIATE` transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

use crate::config::PortBinding;
use crate::db::{Db, TxResult, from_json, to_json};
use crate::error::Result;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS networks (
    name TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS network_endpoints (
    container_id TEXT NOT NULL,
    network TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (container_id, network)
);
CREATE TABLE IF NOT EXISTS network_addresses (
    network TEXT NOT NULL,
    address TEXT NOT NULL,
    container_id TEXT NOT NULL,
    PRIMARY KEY (network, address)
);
";

/// A bridge network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub name: String,
    /// 64 hex digits.
    pub id: String,
    /// The host bridge's interface name.
    pub bridge: String,
    pub subnets: Vec<SubnetRecord>,
    /// `--internal`: no route out, no masquerade.
    pub internal: bool,
    /// Members resolve each other by name (user networks; not `brig`).
    pub dns: bool,
    /// `--egress-allow` for every container on the network.
    pub egress_allow: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub mtu: u32,
    /// Unix nanoseconds.
    pub created_at: i64,
}

/// One subnet of a network and its gateway (the bridge's address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetRecord {
    #[serde(with = "as_text")]
    pub subnet: ipnet::IpNet,
    pub gateway: IpAddr,
}

/// One container attached to one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub container_id: String,
    pub container_name: String,
    pub hostname: String,
    pub network: String,
    /// The host end of the veth pair.
    pub host_ifname: String,
    /// The interface inside the container (eth0, eth1, ...).
    pub ifname: String,
    pub addresses: Vec<IpAddr>,
    pub aliases: Vec<String>,
    /// Published ports with their host port chosen (first network only).
    pub ports: Vec<PortBinding>,
    /// The container's own `--egress-allow`.
    pub egress_allow: Vec<String>,
}

impl Db {
    /// Adds a network; false when the name is taken.
    pub fn insert_network(&self, rec: &NetworkRecord) -> Result<bool> {
        self.write(|tx| insert_network(tx, rec))
    }

    pub fn network(&self, name: &str) -> Result<Option<NetworkRecord>> {
        self.read(|c| {
            let data: Option<String> = c
                .query_row("SELECT data FROM networks WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()?;
            data.map(|d| from_json("a network record", &d)).transpose()
        })
    }

    /// Every network, by name.
    pub fn networks(&self) -> Result<Vec<NetworkRecord>> {
        self.read(networks)
    }

    /// Replaces a network's record (the default network's subnet when idle).
    pub fn update_network(&self, rec: &NetworkRecord) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE networks SET data = ?2 WHERE name = ?1",
                params![rec.name, to_json(rec)?],
            )?;
            Ok(())
        })
    }

    /// Deletes a network without endpoints; Err(names) lists the attached containers.
    pub fn delete_network(&self, name: &str) -> Result<std::result::Result<bool, Vec<String>>> {
        self.write(|tx| {
            let members: Vec<String> = endpoints_where(tx, "network = ?1", [name])?
                .into_iter()
                .map(|e| e.container_name)
                .collect();
            if !members.is_empty() {
                return Ok(Err(members));
            }
            Ok(Ok(tx
                .execute("DELETE FROM networks WHERE name = ?1", [name])?
                > 0))
        })
    }

    /// Every endpoint.
    pub fn endpoints(&self) -> Result<Vec<Endpoint>> {
        self.read(|c| endpoints_where(c, "1 = 1", []))
    }

    /// A container's endpoints, in attach order.
    pub fn endpoints_of(&self, container_id: &str) -> Result<Vec<Endpoint>> {
        self.read(|c| endpoints_where(c, "container_id = ?1", [container_id]))
    }

    /// The members of a network.
    pub fn endpoints_on(&self, network: &str) -> Result<Vec<Endpoint>> {
        self.read(|c| endpoints_where(c, "network = ?1", [network]))
    }

    /// Removes a container's endpoints (all, or one network's) and frees
    /// their addresses; returns what was removed.
    pub fn remove_endpoints(
        &self,
        container_id: &str,
        network: Option<&str>,
    ) -> Result<Vec<Endpoint>> {
        self.write(|tx| {
            let removed: Vec<Endpoint> = endpoints_where(tx, "container_id = ?1", [container_id])?
                .into_iter()
                .filter(|e| network.is_none_or(|n| e.network == n))
                .collect();
            for e in &removed {
                tx.execute(
                    "DELETE FROM network_endpoints WHERE container_id = ?1 AND network = ?2",
                    [container_id, &e.network],
                )?;
                tx.execute(
                    "DELETE FROM network_addresses WHERE container_id = ?1 AND network = ?2",
                    [container_id, &e.network],
                )?;
            }
            Ok(removed)
        })
    }

    /// Runs `f` in one write transaction (allocation reads and inserts).
    pub(crate) fn network_tx<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> TxResult<T>,
    ) -> Result<T> {
        self.write(f)
    }
}

pub(crate) fn insert_network(tx: &Transaction<'_>, rec: &NetworkRecord) -> TxResult<bool> {
    let n = tx.execute(
        "INSERT OR IGNORE INTO networks (name, data) VALUES (?1, ?2)",
        params![rec.name, to_json(rec)?],
    )?;
    Ok(n > 0)
}

pub(crate) fn networks(c: &rusqlite::Connection) -> TxResult<Vec<NetworkRecord>> {
    let mut stmt = c.prepare("SELECT data FROM networks ORDER BY name")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for data in rows {
        out.push(from_json("a network record", &data?)?);
    }
    Ok(out)
}

/// Addresses taken on `network`.
pub(crate) fn taken_addresses(tx: &Transaction<'_>, network: &str) -> TxResult<BTreeSet<IpAddr>> {
    let mut stmt = tx.prepare("SELECT address FROM network_addresses WHERE network = ?1")?;
    let rows = stmt.query_map([network], |r| r.get::<_, String>(0))?;
    let mut out = BTreeSet::new();
    for text in rows {
        if let Ok(ip) = text?.parse() {
            out.insert(ip);
        }
    }
    Ok(out)
}

/// Records an endpoint and claims its addresses.
pub(crate) fn insert_endpoint(tx: &Transaction<'_>, e: &Endpoint) -> TxResult<()> {
    tx.execute(
        "INSERT INTO network_endpoints (container_id, network, data) VALUES (?1, ?2, ?3)",
        params![e.container_id, e.network, to_json(e)?],
    )?;
    for ip in &e.addresses {
        tx.execute(
            "INSERT INTO network_addresses (network, address, container_id) VALUES (?1, ?2, ?3)",
            params![e.network, ip.to_string(), e.container_id],
        )?;
    }
    Ok(())
}

pub(crate) fn endpoints_where<P: rusqlite::Params>(
    c: &rusqlite::Connection,
    condition: &str,
    params: P,
) -> TxResult<Vec<Endpoint>> {
    let mut stmt = c.prepare(&format!(
        "SELECT data FROM network_endpoints WHERE {condition} ORDER BY rowid"
    ))?;
    let rows = stmt.query_map(params, |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for data in rows {
        out.push(from_json("a network endpoint record", &data?)?);
    }
    Ok(out)
}

/// `IpNet` as its text form (ipnet's serde feature is not enabled).
mod as_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(net: &ipnet::IpNet, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(net)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ipnet::IpNet, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
