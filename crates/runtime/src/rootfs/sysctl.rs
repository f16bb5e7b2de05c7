//! `linux.sysctl`: only keys that belong to a namespace the container has
//! its own of may be set (runc's rule), since /proc/sys of every other key is
//! the host's.

use std::path::PathBuf;

use super::RootfsError;

/// A validated sysctl, ready to be written after pivot_root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Sysctl {
    /// The key as config.json spells it, for errors.
    pub name: String,
    /// `/proc/sys/...` inside the container.
    pub path: PathBuf,
    pub value: String,
}

/// What the container's namespaces mean for sysctls.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct SysctlNamespaces {
    pub ipc: bool,
    pub uts: bool,
    /// The container has a network namespace that is not the runtime's own.
    pub private_net: bool,
}

/// IPC keys (kernel/ipc/ipc_sysctl.c) besides `fs.mqueue.*`.
const IPC_KEYS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Checks one `linux.sysctl` entry and returns where to write it.
///
/// Keys use dots (`net.ipv4.ip_forward`) or slashes (`net/ipv4/conf/eth0.100/forwarding`,
/// where dots are part of names), like sysctl(8).
pub(super) fn plan_sysctl(
    name: &str,
    value: &str,
    ns: SysctlNamespaces,
) -> Result<Sysctl, RootfsError> {
    let invalid = |reason: String| RootfsError::InvalidSysctl {
        name: name.to_owned(),
        reason,
    };
    let separator = if name.contains('/') { '/' } else { '.' };
    let components: Vec<&str> = name.split(separator).collect();
    if components
        .iter()
        .any(|c| c.is_empty() || *c == "." || *c == "..")
    {
        return Err(invalid(
            "empty, `.` or `..` components are not allowed".into(),
        ));
    }
    if value.contains('\0') {
        return Err(invalid("the value contains a NUL byte".into()));
    }
    // The dotted form, for the namespace rules.
    let dotted = components.join(".");
    check_namespaced(&dotted, ns).map_err(invalid)?;
    let mut path = PathBuf::from("/proc/sys");
    path.extend(&components);
    Ok(Sysctl {
        name: name.to_owned(),
        path,
        value: value.to_owned(),
    })
}

fn check_namespaced(key: &str, ns: SysctlNamespaces) -> Result<(), String> {
    if IPC_KEYS.contains(&key) || key.starts_with("fs.mqueue.") {
        return if ns.ipc {
            Ok(())
        } else {
            Err(
                "it belongs to the IPC namespace; add an \"ipc\" namespace to linux.namespaces"
                    .into(),
            )
        };
    }
    if key.starts_with("net.") {
        return if ns.private_net {
            Ok(())
        } else {
            Err("it belongs to the network namespace and the container uses the host's".into())
        };
    }
    if ns.uts {
        match key {
            "kernel.hostname" => return Err("set the \"hostname\" field instead".into()),
            "kernel.domainname" => return Err("set the \"domainname\" field instead".into()),
            _ => {}
        }
    }
    Err("it is not in any namespace of the container, so it would change the host".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: SysctlNamespaces = SysctlNamespaces {
        ipc: true,
        uts: true,
        private_net: true,
    };

    #[test]
    fn namespaced_keys_become_proc_sys_paths() {
        let s = plan_sysctl("net.ipv4.ip_forward", "1", ALL).unwrap();
        assert_eq!(s.path, PathBuf::from("/proc/sys/net/ipv4/ip_forward"));
        let s = plan_sysctl("net/ipv4/conf/eth0.100/forwarding", "1", ALL).unwrap();
        assert_eq!(
            s.path,
            PathBuf::from("/proc/sys/net/ipv4/conf/eth0.100/forwarding")
        );
        let s = plan_sysctl("kernel.shmmax", "1000", ALL).unwrap();
        assert_eq!(s.path, PathBuf::from("/proc/sys/kernel/shmmax"));
        plan_sysctl("fs.mqueue.msg_max", "20", ALL).unwrap();
    }

    #[test]
    fn keys_of_namespaces_the_container_lacks_are_refused() {
        let none = SysctlNamespaces::default();
        let err = plan_sysctl("net.ipv4.ip_forward", "1", none)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("net.ipv4.ip_forward") && err.contains("network namespace"),
            "{err}"
        );
        let err = plan_sysctl("kernel.msgmax", "1", none)
            .unwrap_err()
            .to_string();
        assert!(err.contains("IPC namespace"), "{err}");
    }

    #[test]
    fn host_wide_keys_are_refused() {
        for key in ["vm.overcommit_memory", "kernel.panic", "fs.file-max"] {
            let err = plan_sysctl(key, "1", ALL).unwrap_err().to_string();
            assert!(err.contains("not in any namespace"), "{key}: {err}");
        }
        let err = plan_sysctl("kernel.hostname", "x", ALL)
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"hostname\" field"), "{err}");
    }

    #[test]
    fn dotdot_and_empty_components_are_refused() {
        for key in [
            "net/../../kernel/panic",
            "net/ipv4/..",
            "net..ipv4",
            "",
            "net/./x",
            "/net/x",
        ] {
            assert!(
                plan_sysctl(key, "1", ALL).is_err(),
                "{key:?} must be refused"
            );
        }
    }
}
