//! `brig network connect|disconnect`: change a container's networks; a
//! running container is attached or detached at once, a stopped one on its
//! next start.

use std::net::IpAddr;

use super::config::{DEFAULT_NETWORK, NetworkAttachment};
use super::error::NetworkError;
use super::{NetworkContext, bridge};
use crate::config::NetworkMode;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::record::{ContainerRecord, State};

impl Engine {
    /// Adds `network` to the container's networks (with `--ip`, `--alias`).
    pub fn network_connect(
        &self,
        network: &str,
        container: &str,
        ip: Option<IpAddr>,
        aliases: &[String],
    ) -> Result<()> {
        if network != DEFAULT_NETWORK && self.ctx.db.network(network)?.is_none() {
            return Err(NetworkError::NoSuchNetwork(network.to_owned()).into());
        }
        let found = self.find(container)?;
        let _lock = self.ctx.lock(&found.id)?;
        let rec = self.ctx.db.modify(&found.id, |r| {
            let NetworkMode::Bridge(config) = &mut r.config.network else {
                return Err(not_bridged(r));
            };
            if config.networks.iter().any(|n| n.network == network) {
                return Err(Error::ConflictingOptions(format!(
                    "container {} is already connected to network {network}",
                    r.name
                )));
            }
            config.networks.push(NetworkAttachment {
                network: network.to_owned(),
                ip,
                aliases: aliases.to_vec(),
            });
            Ok(r.clone())
        })?;
        if let (Some(pid), NetworkMode::Bridge(config)) = (running_pid(&rec), &rec.config.network) {
            let attached = bridge::attach(&self.ctx, &context(&rec, pid), config, Some(network));
            if let Err(e) = attached {
                // Leave the record as it was: the connection did not happen.
                let _ = self.ctx.db.modify(&rec.id, |r| {
                    if let NetworkMode::Bridge(c) = &mut r.config.network {
                        c.networks.retain(|n| n.network != network);
                    }
                    Ok(())
                });
                return Err(e);
            }
        }
        Ok(())
    }

    /// Removes `network` from the container's networks (it keeps at least one).
    pub fn network_disconnect(&self, network: &str, container: &str) -> Result<()> {
        let found = self.find(container)?;
        let _lock = self.ctx.lock(&found.id)?;
        let rec = self.ctx.db.modify(&found.id, |r| {
            let name = r.name.clone();
            let NetworkMode::Bridge(config) = &mut r.config.network else {
                return Err(not_bridged(r));
            };
            if !config.networks.iter().any(|n| n.network == network) {
                return Err(Error::ConflictingOptions(format!(
                    "container {name} is not connected to network {network}"
                )));
            }
            if config.networks.len() == 1 {
                return Err(Error::ConflictingOptions(format!(
                    "network {network} is the only network of container {name}; connect another first, or recreate it with --network none"
                )));
            }
            config.networks.retain(|n| n.network != network);
            Ok(r.clone())
        })?;
        if running_pid(&rec).is_some() {
            bridge::release(&self.ctx, &rec.id, Some(network))?;
        }
        Ok(())
    }
}

fn not_bridged(r: &ContainerRecord) -> Error {
    Error::ConflictingOptions(format!(
        "container {} uses --network {}, which has no bridge networks to connect or disconnect",
        r.name,
        r.config.network.name()
    ))
}

fn running_pid(rec: &ContainerRecord) -> Option<i32> {
    matches!(rec.state, State::Running | State::Paused)
        .then_some(rec.pid)
        .flatten()
}

fn context(rec: &ContainerRecord, pid: i32) -> NetworkContext<'_> {
    NetworkContext {
        id: &rec.id,
        name: &rec.name,
        hostname: &rec.config.hostname,
        netns: format!("/proc/{pid}/ns/net").into(),
        ports: &rec.config.ports,
    }
}
