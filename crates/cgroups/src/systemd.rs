//! The systemd cgroup driver's path format (`--systemd-cgroup`):
//! `linux.cgroupsPath` is `slice:prefix:name`, the container becomes the
//! transient unit `<prefix>-<name>.scope` inside `slice`.
//!
//! Parsing and expansion are complete. The driver itself (creating the unit
//! through systemd's D-Bus API) is not implemented: [`systemd_driver`]
//! returns [`CgroupError::NotSupported`] saying why, and says it first when
//! systemd is not PID 1 here at all.

use std::path::Path;

use crate::error::{CgroupError, Result};

/// The slice used when the path's slice part is empty (as runc).
pub const DEFAULT_SLICE: &str = "system.slice";
/// The unit prefix brig uses when the spec gives no cgroupsPath.
pub const DEFAULT_PREFIX: &str = "brig";

/// A parsed `slice:prefix:name` path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemdPath {
    /// The parent slice, e.g. `system.slice` or `machine-foo.slice`.
    pub slice: String,
    /// The scope prefix, e.g. `brig` (may be empty).
    pub prefix: String,
    /// The container's name part; a name ending in `.slice` makes the
    /// container a slice unit instead of a scope.
    pub name: String,
}

impl SystemdPath {
    /// Parses `slice:prefix:name`; an empty slice means `system.slice`.
    pub fn parse(raw: &str) -> Result<Self> {
        let bad = |reason: String| CgroupError::InvalidPath {
            path: raw.to_owned(),
            reason,
        };
        let parts: Vec<&str> = raw.split(':').collect();
        let [slice, prefix, name] = parts[..] else {
            return Err(bad(
                "the systemd driver expects \"slice:prefix:name\"".into()
            ));
        };
        let slice = if slice.is_empty() {
            DEFAULT_SLICE
        } else {
            slice
        };
        expand_slice(slice).map_err(|reason| bad(reason.to_string()))?;
        for (what, value) in [("prefix", prefix), ("name", name)] {
            if value.contains('/') || value.contains('\0') {
                return Err(bad(format!(
                    "the {what} part {value:?} may not contain '/' or NUL"
                )));
            }
        }
        if name.is_empty() || name == "." || name == ".." {
            return Err(bad("the name part is empty or a dot name".into()));
        }
        Ok(Self {
            slice: slice.to_owned(),
            prefix: prefix.to_owned(),
            name: name.to_owned(),
        })
    }

    /// The default for a container without cgroupsPath: `system.slice:brig:<id>`.
    pub fn for_container(cgroups_path: Option<&str>, container_id: &str) -> Result<Self> {
        match cgroups_path {
            Some(raw) if !raw.is_empty() => Self::parse(raw),
            _ => Self::parse(&format!("{DEFAULT_SLICE}:{DEFAULT_PREFIX}:{container_id}")),
        }
    }

    /// The systemd unit: `<prefix>-<name>.scope`, `<name>.scope` without a
    /// prefix, or `<name>` itself when it is a slice.
    pub fn unit_name(&self) -> String {
        if self.name.ends_with(".slice") {
            self.name.clone()
        } else if self.prefix.is_empty() {
            format!("{}.scope", self.name)
        } else {
            format!("{}-{}.scope", self.prefix, self.name)
        }
    }

    /// The cgroup path systemd gives the unit: the expanded slice, then the unit.
    pub fn cgroup_path(&self) -> String {
        // parse() already checked the slice.
        let slice = expand_slice(&self.slice).unwrap_or_default();
        format!("{}/{}", slice.trim_end_matches('/'), self.unit_name())
    }
}

/// Expands a slice name to its cgroup path: `a-b-c.slice` ->
/// `/a.slice/a-b.slice/a-b-c.slice`; `-.slice` (the root slice) -> `/`.
pub fn expand_slice(slice: &str) -> Result<String, &'static str> {
    let Some(stem) = slice.strip_suffix(".slice") else {
        return Err("a systemd slice name must end in \".slice\"");
    };
    if slice.contains('/') {
        return Err("a systemd slice name may not contain '/'");
    }
    if stem == "-" {
        return Ok("/".to_owned());
    }
    if stem.is_empty() || stem.starts_with('-') || stem.ends_with('-') || stem.contains("--") {
        return Err("a systemd slice name has non-empty parts separated by single dashes");
    }
    let mut path = String::new();
    let mut prefix = String::new();
    for part in stem.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        path.push('/');
        path.push_str(&prefix);
        path.push_str(".slice");
    }
    Ok(path)
}

/// The systemd driver. Always an error for now: why depends on the machine.
pub fn systemd_driver(path: &SystemdPath) -> Result<std::convert::Infallible> {
    systemd_driver_at(path, Path::new("/run/systemd/system"))
}

fn systemd_driver_at(path: &SystemdPath, booted_marker: &Path) -> Result<std::convert::Infallible> {
    let reason = if booted_marker.is_dir() {
        format!(
            "creating the unit {} through systemd's D-Bus API is not implemented in brig yet; \
             run without --systemd-cgroup (the cgroupfs driver)",
            path.unit_name()
        )
    } else {
        format!(
            "systemd is not PID 1 on this machine ({} is missing), so it cannot create the unit {}; \
             run without --systemd-cgroup",
            booted_marker.display(),
            path.unit_name()
        )
    };
    Err(CgroupError::not_supported(
        "the systemd cgroup driver (--systemd-cgroup)",
        reason,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_parts() {
        let p = SystemdPath::parse("machine.slice:libpod:abc").unwrap();
        assert_eq!(
            (p.slice.as_str(), p.prefix.as_str(), p.name.as_str()),
            ("machine.slice", "libpod", "abc")
        );
        assert_eq!(p.unit_name(), "libpod-abc.scope");
        assert_eq!(p.cgroup_path(), "/machine.slice/libpod-abc.scope");
    }

    #[test]
    fn empty_slice_means_system_slice() {
        let p = SystemdPath::parse(":brig:c1").unwrap();
        assert_eq!(p.cgroup_path(), "/system.slice/brig-c1.scope");
        assert_eq!(SystemdPath::for_container(None, "c1").unwrap(), p);
    }

    #[test]
    fn nested_slices_expand() {
        assert_eq!(
            expand_slice("a-b-c.slice").unwrap(),
            "/a.slice/a-b.slice/a-b-c.slice"
        );
        assert_eq!(expand_slice("-.slice").unwrap(), "/");
        let p = SystemdPath::parse("user-1000.slice::c1").unwrap();
        assert_eq!(p.cgroup_path(), "/user.slice/user-1000.slice/c1.scope");
    }

    #[test]
    fn a_slice_name_makes_a_slice_unit() {
        let p = SystemdPath::parse("system.slice:x:mine.slice").unwrap();
        assert_eq!(p.unit_name(), "mine.slice");
        assert_eq!(
            SystemdPath::parse("-.slice:p:n").unwrap().cgroup_path(),
            "/p-n.scope"
        );
    }

    #[test]
    fn malformed_paths_are_refused_with_the_format() {
        for raw in [
            "/a/b",
            "a:b",
            "a:b:c:d",
            "system:brig:c1",
            "a--b.slice:p:n",
            "-a.slice:p:n",
            "s.slice:p:",
            "s.slice:p/q:n",
        ] {
            let err = SystemdPath::parse(raw).unwrap_err();
            assert!(matches!(err, CgroupError::InvalidPath { .. }), "{raw}");
        }
        let err = SystemdPath::parse("/a/b").unwrap_err().to_string();
        assert!(err.contains("slice:prefix:name"), "{err}");
    }

    #[test]
    fn driver_says_not_supported_and_why() {
        let p = SystemdPath::parse("system.slice:brig:c1").unwrap();
        let missing = tempfile::tempdir().unwrap();
        let err = systemd_driver_at(&p, &missing.path().join("nope")).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::NotSupported);
        assert!(err.to_string().contains("not PID 1"), "{err}");
        let err = systemd_driver_at(&p, missing.path()).unwrap_err();
        assert!(err.to_string().contains("not implemented"), "{err}");
    }
}
