//! Capability names and the default set.
//!
//! The default is Podman's tight set: Docker's 14 without `CAP_NET_RAW`
//! (raw sockets: ARP/ICMP spoofing), `CAP_MKNOD` (device nodes) and
//! `CAP_AUDIT_WRITE`.

use std::collections::BTreeSet;

use crate::error::{Error, Result};

/// Every capability the kernel defines, by number.
pub const ALL: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The capabilities a container gets unless told otherwise.
pub const DEFAULT: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// `net_admin`, `NET_ADMIN`, `CAP_NET_ADMIN` -> `CAP_NET_ADMIN`; `all` -> `ALL`.
pub fn normalize(flag: &str, name: &str) -> Result<String> {
    let upper = name.trim().to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(upper);
    }
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    if ALL.contains(&full.as_str()) {
        Ok(full)
    } else {
        Err(Error::invalid(
            flag,
            name,
            "unknown capability (names look like NET_ADMIN or CAP_NET_ADMIN; see capabilities(7))",
        ))
    }
}

/// The capabilities known to this kernel (`cap_last_cap`).
pub fn known(cap_last_cap: u32) -> impl Iterator<Item = &'static str> {
    ALL.iter().take(cap_last_cap as usize + 1).copied()
}

/// The resulting set, Docker's way: start from the defaults (or every
/// capability for `privileged` or `--cap-add ALL`), drop `--cap-drop`
/// (`ALL` drops everything), then add `--cap-add` back.
pub fn effective_set(
    privileged: bool,
    add: &[String],
    drop: &[String],
    cap_last_cap: u32,
) -> BTreeSet<String> {
    if privileged {
        return known(cap_last_cap).map(str::to_owned).collect();
    }
    let mut set: BTreeSet<String> = if add.iter().any(|a| a == "ALL") {
        known(cap_last_cap).map(str::to_owned).collect()
    } else {
        DEFAULT.iter().map(|s| (*s).to_owned()).collect()
    };
    if drop.iter().any(|d| d == "ALL") {
        set.clear();
    } else {
        for d in drop {
            set.remove(d);
        }
    }
    for a in add.iter().filter(|a| *a != "ALL") {
        set.insert(a.clone());
    }
    set
}

/// The kernel's highest capability number.
pub fn host_cap_last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn defaults_are_podmans_eleven() {
        let set = effective_set(false, &[], &[], 40);
        assert_eq!(set.len(), 11);
        for absent in [
            "CAP_NET_RAW",
            "CAP_MKNOD",
            "CAP_AUDIT_WRITE",
            "CAP_SYS_ADMIN",
        ] {
            assert!(!set.contains(absent), "{absent}");
        }
    }

    #[test]
    fn drop_all_then_add_one() {
        let set = effective_set(false, &s(&["CAP_NET_BIND_SERVICE"]), &s(&["ALL"]), 40);
        assert_eq!(
            set.into_iter().collect::<Vec<_>>(),
            ["CAP_NET_BIND_SERVICE"]
        );
        assert_eq!(effective_set(false, &s(&["ALL"]), &[], 40).len(), 41);
        assert_eq!(effective_set(true, &[], &s(&["ALL"]), 37).len(), 38);
    }

    #[test]
    fn names_are_normalized_and_checked() {
        assert_eq!(
            normalize("--cap-add", "net_admin").unwrap(),
            "CAP_NET_ADMIN"
        );
        assert_eq!(
            normalize("--cap-add", "CAP_SYS_TIME").unwrap(),
            "CAP_SYS_TIME"
        );
        assert_eq!(normalize("--cap-drop", "all").unwrap(), "ALL");
        assert!(normalize("--cap-add", "FLY").is_err());
    }
}
