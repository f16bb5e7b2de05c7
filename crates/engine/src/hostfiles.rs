//! The container's `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf`,
//! generated in its bundle and bind-mounted (as Docker does), so the image
//! is never changed.

use std::path::Path;

use crate::config::NetworkMode;
use crate::error::{IoContext, Result};

/// `/etc/hosts` for a container.
pub fn hosts(hostname: &str) -> String {
    format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n127.0.1.1\t{hostname}\n"
    )
}

/// `/etc/resolv.conf`: the host's, without loopback name servers (which
/// mean nothing inside a private network namespace).
pub fn resolv_conf(host: &str, network: &NetworkMode) -> String {
    if *network == NetworkMode::Host {
        return host.to_owned();
    }
    host.lines()
        .filter(|l| {
            let mut f = l.split_whitespace();
            !(f.next() == Some("nameserver")
                && f.next()
                    .is_some_and(|ip| ip.starts_with("127.") || ip == "::1"))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Writes the three files into `bundle`.
pub fn write(bundle: &Path, hostname: &str, network: &NetworkMode) -> Result<()> {
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    for (name, text) in [
        ("hostname", format!("{hostname}\n")),
        ("hosts", hosts(hostname)),
        ("resolv.conf", resolv_conf(&host_resolv, network)),
    ] {
        let path = bundle.join(name);
        std::fs::write(&path, text).ctx("write", &path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_name_servers_are_dropped_without_host_network() {
        let host = "search lan\nnameserver 127.0.0.53\nnameserver 10.0.0.1\n";
        assert_eq!(
            resolv_conf(host, &NetworkMode::None),
            "search lan\nnameserver 10.0.0.1\n"
        );
        assert_eq!(resolv_conf(host, &NetworkMode::Host), host);
        assert!(hosts("web").ends_with("127.0.1.1\tweb\n"));
    }
}
