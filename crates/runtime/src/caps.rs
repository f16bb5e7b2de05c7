//! Capability sets by kernel number.

use oci_spec::runtime::{Capabilities, Capability};

/// Kernel capability names in number order (include/uapi/linux/capability.h).
const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The kernel number of a capability.
pub fn number(cap: Capability) -> u32 {
    let name = cap.to_string();
    NAMES
        .iter()
        .position(|n| *n == name)
        .map_or(u32::MAX, |i| i as u32)
}

/// The name of capability number `n`, as "CAP_X".
pub fn name(n: u32) -> String {
    NAMES
        .get(n as usize)
        .map_or_else(|| format!("CAP_{n}"), |n| format!("CAP_{n}"))
}

/// A set as a bit mask; capabilities the kernel does not know (above `last`) are left out.
pub fn mask(set: Option<&Capabilities>, last: u32) -> u64 {
    set.into_iter()
        .flatten()
        .map(|&c| number(c))
        .filter(|&n| n <= last && n < 64)
        .fold(0, |m, n| m | 1 << n)
}

/// The highest capability number the running kernel knows.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_the_kernel() {
        assert_eq!(number(Capability::Chown), 0);
        assert_eq!(number(Capability::NetBindService), 10);
        assert_eq!(number(Capability::SysAdmin), 21);
        assert_eq!(number(Capability::CheckpointRestore), 40);
        assert_eq!(name(21), "CAP_SYS_ADMIN");
        let set: Capabilities = [Capability::Chown, Capability::Kill].into_iter().collect();
        assert_eq!(mask(Some(&set), 40), 0b10_0001);
    }
}
