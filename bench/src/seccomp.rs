//! A seccomp profile the size of Docker's default: an allow-list of about
//! 360 syscall names with EPERM as the default action.

use serde_json::{Value, json};

const SYSCALLS: &str = include_str!("syscalls.txt");

/// The syscall names of the profile.
pub fn syscall_names() -> Vec<&'static str> {
    SYSCALLS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// `linux.seccomp` allowing [`syscall_names`], refusing the rest with EPERM.
pub fn docker_sized_profile() -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": syscall_names(), "action": "SCMP_ACT_ALLOW"}]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_has_docker_size() {
        let names = syscall_names();
        assert!((340..=380).contains(&names.len()), "{} names", names.len());
        for needed in ["execve", "read", "write", "exit_group", "clone3", "openat"] {
            assert!(names.contains(&needed), "{needed} missing");
        }
        assert!(!names.contains(&"kexec_load"));
    }
}
