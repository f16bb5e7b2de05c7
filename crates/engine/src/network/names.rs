//! Names brig gives to host objects. Several brig roots (tests, users with
//! `--root`) may share one host, so the nftables table and the bridges carry
//! a short tag derived from the root directory; veths carry the container ID.

use std::path::Path;

/// 8 hex digits identifying a brig root (FNV-1a of its path).
pub fn root_tag(root: &Path) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in root.as_os_str().as_encoded_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:08x}", hash as u32)
}

/// The nftables table (family inet) of a root: `brig-TAG`.
pub fn table(tag: &str) -> String {
    format!("brig-{tag}")
}

/// A network's bridge: `brig` + 4 digits of the root tag + 6 of the network
/// ID (14 bytes, under the kernel's 15).
pub fn bridge(tag: &str, network_id: &str) -> String {
    format!("brig{}{}", &tag[..4], &network_id[..6])
}

/// The host end of a container's veth on its `index`-th network: `vb` + 9
/// digits of the ID + the index (at most 13 bytes, see brig-net's setup).
pub fn host_veth(container_id: &str, index: usize) -> String {
    format!("{}{}", host_veth_prefix(container_id), index.min(99))
}

/// What the host ends of all of a container's veths start with.
pub fn host_veth_prefix(container_id: &str) -> String {
    format!("vb{}", &container_id[..9])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_the_kernel_limits_and_differ_per_root() {
        let a = root_tag(Path::new("/var/lib/brig"));
        let b = root_tag(Path::new("/tmp/x"));
        assert_ne!(a, b);
        assert_eq!(a.len(), 8);
        assert!(bridge(&a, &"f".repeat(64)).len() <= 15);
        assert!(host_veth(&"a".repeat(64), 42).len() <= brig_net::setup::MAX_HOST_IFNAME);
    }
}
