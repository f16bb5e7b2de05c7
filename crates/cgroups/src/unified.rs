//! `linux.resources.unified`: raw cgroup v2 `file -> value` pairs.
//!
//! Keys are checked by name before anything is written: they must be
//! `<controller>.<file>` for a v2 controller, and the few `cgroup.*` files
//! that are limits. Membership and state files (`cgroup.procs`,
//! `cgroup.kill`, `cgroup.freeze`, ...) and read-only statistics are refused,
//! because writing them would move, kill or freeze processes behind the
//! runtime's back.

use crate::error::{CgroupError, Result};

/// Controllers whose files `unified` may name.
pub const V2_CONTROLLERS: [&str; 8] = [
    "cpu", "cpuset", "io", "memory", "pids", "hugetlb", "rdma", "misc",
];
/// The `cgroup.*` core files that `unified` may set.
pub const CORE_KEYS: [&str; 2] = ["cgroup.max.depth", "cgroup.max.descendants"];
const READ_ONLY_SUFFIXES: [&str; 5] = [
    ".stat",
    ".current",
    ".events",
    ".events.local",
    ".stat.local",
];

/// The spec field naming a unified key, for messages.
pub fn unified_field(key: &str) -> String {
    format!("linux.resources.unified[{key:?}]")
}

/// Checks one `unified` key; returns its controller name (`cgroup` for core files).
pub fn check_unified_key(key: &str) -> Result<&str> {
    let field = unified_field(key);
    // Upper case occurs in huge page sizes (hugetlb.2MB.max).
    let bad_char = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')));
    if let Some(c) = bad_char {
        return Err(CgroupError::invalid(
            field,
            format!("{c:?} cannot appear in a cgroup file name"),
        ));
    }
    let Some((controller, rest)) = key.split_once('.') else {
        return Err(CgroupError::invalid(
            field,
            "a unified key has the form <controller>.<file>",
        ));
    };
    if rest.is_empty() {
        return Err(CgroupError::invalid(
            field,
            "a unified key has the form <controller>.<file>",
        ));
    }
    if controller == "cgroup" {
        if !CORE_KEYS.contains(&key) {
            return Err(CgroupError::invalid(
                field,
                format!("of the cgroup.* files only {CORE_KEYS:?} may be set"),
            ));
        }
    } else if !V2_CONTROLLERS.contains(&controller) {
        return Err(CgroupError::invalid(
            field,
            format!("{controller:?} is not a cgroup v2 controller (known: {V2_CONTROLLERS:?})"),
        ));
    }
    if READ_ONLY_SUFFIXES.iter().any(|s| key.ends_with(s)) {
        return Err(CgroupError::invalid(
            field,
            "this file is read-only statistics",
        ));
    }
    Ok(controller)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_files_are_accepted() {
        for key in [
            "memory.high",
            "memory.oom.group",
            "cpu.max.burst",
            "io.max",
            "hugetlb.2MB.max",
            "cgroup.max.depth",
        ] {
            assert!(check_unified_key(key).is_ok(), "{key}");
        }
        assert_eq!(check_unified_key("memory.high").unwrap(), "memory");
    }

    #[test]
    fn unknown_or_dangerous_keys_are_refused_with_the_key() {
        for key in [
            "foo.bar",
            "memory",
            "cgroup.procs",
            "cgroup.kill",
            "cgroup.freeze",
            "../memory.max",
            "memory/max",
            "memory.stat",
            "pids.current",
            "memory.events",
            "Memory.max",
            "memory.",
        ] {
            let err = check_unified_key(key).unwrap_err();
            assert!(
                err.to_string().contains("linux.resources.unified"),
                "{key}: {err}"
            );
        }
    }
}
