//! Running as a user other than root ("rootless"), the way runc does:
//!
//! - the new user namespace's maps are written directly when they only map
//!   the caller's own uid/gid (with `setgroups` denied first, as the kernel
//!   requires), and by the setuid helpers `newuidmap`/`newgidmap` (package
//!   `uidmap`, ranges from /etc/subuid and /etc/subgid) otherwise;
//! - cgroups are used when the user may create them (a delegated subtree);
//!   when not, the container runs without one, with a warning, unless
//!   `linux.resources` asks for limits, which is an error (a limit that is
//!   silently not applied is worse than no container);
//! - the state root defaults to `$XDG_RUNTIME_DIR/brig-runtime` (the binary
//!   decides that, see `default_state_root`).

use std::io;
use std::path::PathBuf;
use std::process::Command;

use brig_cgroups::{AnyManager, CgroupError, CgroupManager};
use oci_spec::runtime::{LinuxIdMapping, LinuxResources, Spec};

use crate::error::{Error, Result};

/// True when the runtime is not running as root.
pub fn is_rootless() -> bool {
    !rustix::process::geteuid().is_root()
}

/// The default `--root`: /run/brig-runtime for root, else
/// `$XDG_RUNTIME_DIR/brig-runtime` (runc's rule), or /tmp/brig-runtime-<uid>
/// without that variable.
pub fn default_state_root() -> PathBuf {
    if !is_rootless() {
        return PathBuf::from("/run/brig-runtime");
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("brig-runtime"),
        None => {
            let uid = rustix::process::geteuid().as_raw();
            PathBuf::from(format!("/tmp/brig-runtime-{uid}"))
        }
    }
}

/// Creates the container's cgroup; returns whether the container has one.
/// Only a rootless runtime without permission may go on without it.
pub fn create_cgroup(cg: &mut AnyManager, spec: &Spec) -> Result<bool> {
    let err = match cg.create() {
        Ok(()) => return Ok(true),
        Err(err) => err,
    };
    if !is_rootless() || !is_permission_error(&err) {
        return Err(err.into());
    }
    // Half-made (one v1 hierarchy writable, another not): undo.
    let _ = cg.remove();
    let resources = spec.linux().as_ref().and_then(|l| l.resources().as_ref());
    if let Some(field) = resources.and_then(requested_limit) {
        return Err(Error::Rootless(format!(
            "linux.resources.{field} needs a cgroup, and this user may not create one ({err}); \
             remove the limits or delegate a cgroup v2 subtree to the user"
        )));
    }
    eprintln!(
        "warning: running rootless without a cgroup (this user may not create one: {err}); \
         pause, update, events and ps --all need a delegated cgroup"
    );
    Ok(false)
}

fn is_permission_error(err: &CgroupError) -> bool {
    let source = match err {
        CgroupError::Io { source, .. } | CgroupError::Write { source, .. } => source,
        _ => return false,
    };
    matches!(
        source.raw_os_error(),
        Some(libc::EACCES | libc::EPERM | libc::EROFS)
    )
}

/// The first `linux.resources` field that asks for a limit. Device rules
/// do not count: without a cgroup the user namespace already keeps the
/// container from creating device nodes (runc ignores them too).
fn requested_limit(resources: &LinuxResources) -> Option<String> {
    let value = serde_json::to_value(resources).ok()?;
    let object = value.as_object()?;
    object
        .iter()
        .filter(|(k, v)| k.as_str() != "devices" && !is_empty(v))
        .map(|(k, _)| k.clone())
        .next()
}

fn is_empty(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.values().all(is_empty),
        _ => false,
    }
}

/// How the maps of one id kind get written by an unprivileged runtime.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum MapWriter {
    /// Only the caller's own id: the kernel lets us write it ourselves.
    Direct,
    /// Anything else: the setuid helper (`newuidmap`/`newgidmap`) with these arguments.
    Helper(&'static str, Vec<String>),
}

/// Chooses how to write `maps` for `pid` as a caller whose own id is `own`.
pub(crate) fn map_writer(
    helper: &'static str,
    pid: i32,
    maps: &[LinuxIdMapping],
    own: u32,
) -> MapWriter {
    if let [only] = maps
        && only.host_id() == own
        && only.size() == 1
    {
        return MapWriter::Direct;
    }
    let mut args = vec![pid.to_string()];
    for m in maps {
        args.extend([m.container_id(), m.host_id(), m.size()].map(|n| n.to_string()));
    }
    MapWriter::Helper(helper, args)
}

/// Runs `newuidmap`/`newgidmap`; its own message (e.g. a range not in
/// /etc/subuid) is part of the error.
pub(crate) fn run_map_helper(helper: &'static str, args: &[String]) -> Result<()> {
    let out = Command::new(helper).args(args).output().map_err(|e| {
        let hint = if e.kind() == io::ErrorKind::NotFound {
            " (install the uidmap package)"
        } else {
            ""
        };
        Error::Rootless(format!("cannot run {helper}{hint}: {e}"))
    })?;
    if out.status.success() {
        return Ok(());
    }
    let user = rustix::process::geteuid().as_raw();
    let file = if helper == "newuidmap" {
        "/etc/subuid"
    } else {
        "/etc/subgid"
    };
    Err(Error::Rootless(format!(
        "{helper} {} failed ({}): {}; the mapped host ranges must be listed for uid {user} in {file}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps(v: serde_json::Value) -> Vec<LinuxIdMapping> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn own_id_is_written_directly_anything_else_by_the_helper() {
        let own = maps(serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}]));
        assert_eq!(map_writer("newuidmap", 7, &own, 1000), MapWriter::Direct);
        assert_eq!(
            map_writer("newuidmap", 7, &own, 1001),
            MapWriter::Helper(
                "newuidmap",
                ["7", "0", "1000", "1"].map(String::from).to_vec()
            )
        );
        let with_range = maps(serde_json::json!([
            {"containerID": 0, "hostID": 1000, "size": 1},
            {"containerID": 1, "hostID": 100000, "size": 65536}
        ]));
        assert_eq!(
            map_writer("newgidmap", 42, &with_range, 1000),
            MapWriter::Helper(
                "newgidmap",
                ["42", "0", "1000", "1", "1", "100000", "65536"]
                    .map(String::from)
                    .to_vec()
            )
        );
    }

    #[test]
    fn device_rules_are_not_limits() {
        let r: LinuxResources = serde_json::from_value(serde_json::json!({
            "devices": [{"allow": false, "access": "rwm"}]
        }))
        .unwrap();
        assert_eq!(requested_limit(&r), None);
        let r: LinuxResources =
            serde_json::from_value(serde_json::json!({"pids": {"limit": 10}})).unwrap();
        assert_eq!(requested_limit(&r).as_deref(), Some("pids"));
    }
}
