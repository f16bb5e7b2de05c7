//! Name resolution between containers, by `/etc/hosts`.
//!
//! Each container's `/etc/hosts` is a file in its bundle, bind-mounted by the
//! runtime. When a member joins or leaves a user network, the file of every
//! member is rewritten in place (same inode, so the bind mount shows the new
//! text): members resolve each other by name, short ID and `--network-alias`
//! through the C library's own `files` lookup, and names disappear as
//! containers stop. The host's resolvers (resolv.conf) answer everything
//! else. No resolver process runs; the cost is one small write per member.

use std::net::IpAddr;

use super::store::{Endpoint, NetworkRecord};
use crate::ctx::Ctx;
use crate::error::{IoContext, Result};

/// The hosts file of `me`, knowing the members of its DNS-enabled networks
/// (`peers`, which may include `me`'s own endpoints).
pub fn render(me: &[Endpoint], peers: &[Endpoint]) -> String {
    let mut out = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    let Some(own) = me.first() else {
        return out;
    };
    for address in me.iter().flat_map(|e| e.addresses.iter()) {
        out.push_str(&line(*address, &own.hostname, &[]));
    }
    for peer in peers.iter().filter(|p| p.container_id != own.container_id) {
        let mut names = vec![peer.container_name.clone(), short(&peer.container_id)];
        if peer.hostname != peer.container_name && peer.hostname != short(&peer.container_id) {
            names.push(peer.hostname.clone());
        }
        names.extend(peer.aliases.iter().cloned());
        for address in &peer.addresses {
            out.push_str(&line(*address, &names[0], &names[1..]));
        }
    }
    out
}

fn line(address: IpAddr, name: &str, more: &[String]) -> String {
    let mut text = format!("{address}\t{name}");
    for extra in more {
        text.push(' ');
        text.push_str(extra);
    }
    text.push('\n');
    text
}

fn short(id: &str) -> String {
    id.chars().take(12).collect()
}

/// Rewrites the hosts file of every container on the DNS-enabled networks
/// among `networks` (and of `also`, the container just attached).
pub fn refresh(ctx: &Ctx, networks: &[&NetworkRecord], also: Option<&str>) -> Result<()> {
    let mut containers: Vec<String> = also.map(str::to_owned).into_iter().collect();
    for network in networks.iter().filter(|n| n.dns) {
        for member in ctx.db.endpoints_on(&network.name)? {
            if !containers.contains(&member.container_id) {
                containers.push(member.container_id);
            }
        }
    }
    let all_networks = ctx.db.networks()?;
    for id in containers {
        let mine = ctx.db.endpoints_of(&id)?;
        let mut peers = Vec::new();
        for endpoint in &mine {
            let dns = all_networks
                .iter()
                .any(|n| n.name == endpoint.network && n.dns);
            if dns {
                peers.extend(ctx.db.endpoints_on(&endpoint.network)?);
            }
        }
        let path = ctx.paths.bundle(&id).join("hosts");
        if mine.is_empty() || !path.exists() {
            continue;
        }
        // Truncate and write: a rename would leave the bind mount on the old file.
        std::fs::write(&path, render(&mine, &peers)).ctx("write", &path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(id: &str, name: &str, ip: &str, aliases: &[&str]) -> Endpoint {
        Endpoint {
            container_id: id.repeat(64),
            container_name: name.into(),
            hostname: id.repeat(12),
            network: "app".into(),
            host_ifname: "vb".into(),
            ifname: "eth0".into(),
            addresses: vec![ip.parse().unwrap()],
            aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
            ports: vec![],
            egress_allow: vec![],
        }
    }

    #[test]
    fn members_see_each_other_by_name_id_and_alias_but_not_themselves_twice() {
        let web = endpoint("a", "web", "10.90.0.2", &["www"]);
        let db = endpoint("b", "db", "10.90.0.3", &[]);
        let text = render(std::slice::from_ref(&web), &[web.clone(), db.clone()]);
        assert!(text.contains("10.90.0.2\taaaaaaaaaaaa\n"), "{text}");
        assert!(text.contains("10.90.0.3\tdb bbbbbbbbbbbb\n"), "{text}");
        assert!(!text.contains("www"), "{text}");
        let text = render(std::slice::from_ref(&db), &[web, db.clone()]);
        assert!(text.contains("10.90.0.2\tweb aaaaaaaaaaaa www\n"), "{text}");
    }
}
