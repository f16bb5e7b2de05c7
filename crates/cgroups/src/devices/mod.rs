//! Device access rules: what `linux.resources.devices` means, the OCI
//! default devices every container gets, and the two ways of enforcing the
//! result (v1 `devices.allow`/`devices.deny` lines, a v2 eBPF program).
//!
//! Semantics, the same on both layouts: a cgroup starts with every device
//! allowed; rules are applied in order, so for each kind of access the
//! *last* rule that matches decides. A list that begins with a deny-all
//! (`{"allow": false, "access": "rwm"}`, as generated specs do) therefore
//! denies everything not allowed later.
//! [`effective_rules`] appends the OCI default devices (null, zero, full,
//! random, urandom, tty, console, ptmx, pts) after the spec's rules, as runc
//! does, so they always work; nothing allows `mknod` of other devices.

pub mod ebpf;

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};

use crate::error::{CgroupError, Result};

/// Which devices a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    /// Every device (`a`).
    All,
    /// Character devices (`c`).
    Char,
    /// Block devices (`b`).
    Block,
}

/// Access bits, as the kernel's BPF_DEVCG_ACC_* values.
pub mod access {
    /// `m`: create the node with mknod.
    pub const MKNOD: u8 = 1;
    /// `r`: open for reading.
    pub const READ: u8 = 2;
    /// `w`: open for writing.
    pub const WRITE: u8 = 4;
    /// `rwm`.
    pub const ALL: u8 = MKNOD | READ | WRITE;
}

/// One checked device rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceRule {
    /// Allow (true) or deny.
    pub allow: bool,
    /// Device kind.
    pub kind: DeviceKind,
    /// Major number, `None` for any.
    pub major: Option<u32>,
    /// Minor number, `None` for any.
    pub minor: Option<u32>,
    /// Bits of [`access`].
    pub access: u8,
}

impl DeviceRule {
    /// Converts a spec rule; `field` names it in errors. A missing type
    /// means `a`, a missing access means `rwm`, -1 numbers mean "any".
    pub fn from_spec(field: &str, rule: &LinuxDeviceCgroup) -> Result<Self> {
        let kind = match rule.typ() {
            None | Some(LinuxDeviceType::A) => DeviceKind::All,
            Some(LinuxDeviceType::C) => DeviceKind::Char,
            Some(LinuxDeviceType::B) => DeviceKind::Block,
            Some(other) => {
                return Err(CgroupError::invalid(
                    format!("{field}.type"),
                    format!(
                        "{:?} is not a device cgroup type (use \"a\", \"b\" or \"c\")",
                        other.as_str()
                    ),
                ));
            }
        };
        let number = |name: &str, n: Option<i64>| -> Result<Option<u32>> {
            match n {
                None | Some(-1) => Ok(None),
                Some(n) => u32::try_from(n).map(Some).map_err(|_| {
                    CgroupError::invalid(
                        format!("{field}.{name}"),
                        format!("{n} is not a device number (or -1 for any)"),
                    )
                }),
            }
        };
        let access = match rule.access().as_deref() {
            None => access::ALL,
            Some(text) => parse_access(text).ok_or_else(|| {
                CgroupError::invalid(
                    format!("{field}.access"),
                    format!("{text:?} is not a combination of r, w and m"),
                )
            })?,
        };
        Ok(Self {
            allow: rule.allow(),
            kind,
            major: number("major", rule.major())?,
            minor: number("minor", rule.minor())?,
            access,
        })
    }

    /// True when the rule covers every device (`a`, or `c`/`b` never: those
    /// leave the other kind out).
    pub fn covers_all_devices(&self) -> bool {
        self.kind == DeviceKind::All
    }

    /// Does this rule cover this device (ignoring access)?
    pub fn matches(&self, kind: DeviceKind, major: u32, minor: u32) -> bool {
        if self.kind == DeviceKind::All {
            return true;
        }
        self.kind == kind
            && self.major.is_none_or(|m| m == major)
            && self.minor.is_none_or(|m| m == minor)
    }

    /// The line for v1 `devices.allow` / `devices.deny`.
    pub fn v1_line(&self) -> String {
        let kind = match self.kind {
            DeviceKind::All => return "a".to_owned(),
            DeviceKind::Char => 'c',
            DeviceKind::Block => 'b',
        };
        let number = |n: Option<u32>| n.map_or_else(|| "*".to_owned(), |n| n.to_string());
        format!(
            "{kind} {}:{} {}",
            number(self.major),
            number(self.minor),
            access_string(self.access)
        )
    }
}

fn parse_access(text: &str) -> Option<u8> {
    if text.is_empty() {
        return None;
    }
    text.chars().try_fold(0u8, |bits, c| match c {
        'r' => Some(bits | access::READ),
        'w' => Some(bits | access::WRITE),
        'm' => Some(bits | access::MKNOD),
        _ => None,
    })
}

fn access_string(bits: u8) -> String {
    [
        (access::READ, 'r'),
        (access::WRITE, 'w'),
        (access::MKNOD, 'm'),
    ]
    .into_iter()
    .filter(|(bit, _)| bits & bit != 0)
    .map(|(_, c)| c)
    .collect()
}

fn char_rule(major: i64, minor: Option<i64>) -> LinuxDeviceCgroup {
    let mut rule = LinuxDeviceCgroup::default();
    rule.set_allow(true);
    rule.set_typ(Some(LinuxDeviceType::C));
    rule.set_major(Some(major));
    rule.set_minor(minor);
    rule.set_access(Some("rwm".to_owned()));
    rule
}

/// The devices the OCI runtime spec requires in every container, plus the
/// pseudo-terminals: null, zero, full, random, urandom, tty, console, ptmx
/// and `/dev/pts/*`. All `rwm`.
pub fn default_allowed_devices() -> Vec<LinuxDeviceCgroup> {
    let nodes = [
        (1, 3),
        (1, 5),
        (1, 7),
        (1, 8),
        (1, 9),
        (5, 0),
        (5, 1),
        (5, 2),
    ];
    let mut rules: Vec<LinuxDeviceCgroup> = nodes
        .iter()
        .map(|&(major, minor)| char_rule(major, Some(minor)))
        .collect();
    rules.push(char_rule(136, None));
    rules
}

/// Allow rules (`rwm`) for the device nodes of `linux.devices`, which the
/// runtime creates in the container and which must therefore work. Append
/// them to `linux.resources.devices` before calling `set_resources`.
/// FIFOs need no rule (the device cgroup does not govern them); `u`
/// (unbuffered character) nodes are character devices.
pub fn allow_rules_for_nodes(nodes: &[LinuxDevice]) -> Vec<LinuxDeviceCgroup> {
    nodes
        .iter()
        .filter(|node| node.typ() != LinuxDeviceType::P)
        .map(|node| {
            let mut rule = LinuxDeviceCgroup::from(node);
            if node.typ() == LinuxDeviceType::U {
                rule.set_typ(Some(LinuxDeviceType::C));
            }
            rule
        })
        .collect()
}

/// The spec's rules followed by [`default_allowed_devices`], checked.
pub fn effective_rules(spec: &[LinuxDeviceCgroup]) -> Result<Vec<DeviceRule>> {
    let defaults = default_allowed_devices();
    let spec_rules = spec
        .iter()
        .enumerate()
        .map(|(i, r)| DeviceRule::from_spec(&format!("linux.resources.devices[{i}]"), r));
    let default_rules = defaults
        .iter()
        .map(|r| DeviceRule::from_spec("default device rule", r));
    spec_rules.chain(default_rules).collect()
}

/// The reference decision: may a process of a cgroup with `rules` do
/// `wanted` (bits of [`access`]) on this device? Each requested bit is
/// decided by the last rule that matches the device and has that bit; a bit
/// no rule mentions is allowed (the cgroup's initial state).
pub fn is_allowed(
    rules: &[DeviceRule],
    kind: DeviceKind,
    major: u32,
    minor: u32,
    wanted: u8,
) -> bool {
    [access::MKNOD, access::READ, access::WRITE]
        .into_iter()
        .filter(|bit| wanted & bit != 0)
        .all(|bit| {
            rules
                .iter()
                .rev()
                .find(|r| r.access & bit != 0 && r.matches(kind, major, minor))
                .is_none_or(|r| r.allow)
        })
}

/// The v1 writes for `rules`: `(file, line)` pairs in order. The initial
/// state is "allow all", so a list that does not begin with a rule for all
/// devices first resets to that.
pub fn v1_writes(rules: &[DeviceRule]) -> Vec<(&'static str, String)> {
    let mut writes = Vec::new();
    if !rules.first().is_some_and(|r| r.covers_all_devices()) {
        writes.push(("devices.allow", "a".to_owned()));
    }
    for rule in rules {
        let file = if rule.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        writes.push((file, rule.v1_line()));
    }
    writes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(json: &str) -> Vec<DeviceRule> {
        let spec: Vec<LinuxDeviceCgroup> = serde_json::from_str(json).unwrap();
        effective_rules(&spec).unwrap()
    }

    const DENY_ALL: &str = r#"[{"allow": false, "access": "rwm"}]"#;

    #[test]
    fn defaults_let_dev_null_work_and_refuse_disks_and_mem() {
        let r = rules(DENY_ALL);
        assert!(
            is_allowed(&r, DeviceKind::Char, 1, 3, access::READ | access::WRITE),
            "/dev/null"
        );
        assert!(
            is_allowed(&r, DeviceKind::Char, 136, 4, access::READ | access::WRITE),
            "/dev/pts/4"
        );
        assert!(
            is_allowed(&r, DeviceKind::Char, 1, 9, access::READ),
            "/dev/urandom"
        );
        assert!(
            !is_allowed(&r, DeviceKind::Block, 8, 0, access::MKNOD),
            "mknod /dev/sda"
        );
        assert!(
            !is_allowed(&r, DeviceKind::Char, 1, 1, access::READ),
            "read /dev/mem"
        );
    }

    #[test]
    fn last_matching_rule_wins_per_access_bit() {
        let r = rules(
            r#"[{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 10, "access": "rw"}, {"allow": false, "type": "c", "major": 10, "minor": 200, "access": "w"}]"#,
        );
        assert!(is_allowed(&r, DeviceKind::Char, 10, 200, access::READ));
        assert!(!is_allowed(
            &r,
            DeviceKind::Char,
            10,
            200,
            access::READ | access::WRITE
        ));
        assert!(is_allowed(&r, DeviceKind::Char, 10, 1, access::WRITE));
        assert!(!is_allowed(&r, DeviceKind::Char, 10, 1, access::MKNOD));
    }

    #[test]
    fn no_rules_means_everything_is_allowed() {
        assert!(is_allowed(&[], DeviceKind::Block, 8, 0, access::ALL));
    }

    #[test]
    fn bad_type_and_access_name_the_field() {
        let spec: Vec<LinuxDeviceCgroup> =
            serde_json::from_str(r#"[{"allow": true, "type": "p", "access": "r"}]"#).unwrap();
        let err = effective_rules(&spec).unwrap_err().to_string();
        assert!(err.contains("linux.resources.devices[0].type"), "{err}");
        let spec: Vec<LinuxDeviceCgroup> =
            serde_json::from_str(r#"[{"allow": true, "type": "c", "access": "rx"}]"#).unwrap();
        let err = effective_rules(&spec).unwrap_err().to_string();
        assert!(err.contains("devices[0].access"), "{err}");
    }

    #[test]
    fn v1_lines_follow_the_kernel_syntax() {
        let r = rules(DENY_ALL);
        let writes = v1_writes(&r);
        assert_eq!(writes[0], ("devices.deny", "a".to_owned()));
        assert_eq!(writes[1], ("devices.allow", "c 1:3 rwm".to_owned()));
        assert!(writes.contains(&("devices.allow", "c 136:* rwm".to_owned())));
        let allow_first = rules(r#"[{"allow": false, "type": "b", "major": 8, "access": "m"}]"#);
        let writes = v1_writes(&allow_first);
        assert_eq!(writes[0], ("devices.allow", "a".to_owned()));
        assert_eq!(writes[1], ("devices.deny", "b 8:* m".to_owned()));
    }

    #[test]
    fn node_rules_allow_the_containers_own_devices() {
        let node: LinuxDevice = serde_json::from_str(
            r#"{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}"#,
        )
        .unwrap();
        let mut spec: Vec<LinuxDeviceCgroup> = serde_json::from_str(DENY_ALL).unwrap();
        spec.extend(allow_rules_for_nodes(&[node]));
        let r = effective_rules(&spec).unwrap();
        assert!(is_allowed(
            &r,
            DeviceKind::Char,
            10,
            229,
            access::READ | access::WRITE
        ));
    }
}
