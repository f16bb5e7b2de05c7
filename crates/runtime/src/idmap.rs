//! User namespace id maps, written by the parent for its child, and the
//! short-lived helper user namespaces that idmapped mounts are made with.

use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use oci_spec::runtime::{LinuxIdMapping, Spec};

use crate::bundle::config_error;
use crate::error::{Error, Result};

/// Checks mappings for overlaps and empty ranges before anything is created.
pub fn validate(spec: &Spec, config: &Path) -> Result<()> {
    let Some(linux) = spec.linux().as_ref() else {
        return Ok(());
    };
    for (field, maps) in [
        ("linux.uidMappings", linux.uid_mappings()),
        ("linux.gidMappings", linux.gid_mappings()),
    ] {
        let maps = maps.as_deref().unwrap_or_default();
        for (i, m) in maps.iter().enumerate() {
            if m.size() == 0 {
                return Err(config_error(
                    config,
                    &format!("{field}[{i}].size"),
                    "must be at least 1",
                ));
            }
            for (j, other) in maps.iter().enumerate().skip(i + 1) {
                let inside = overlaps(
                    m.container_id(),
                    m.size(),
                    other.container_id(),
                    other.size(),
                );
                let outside = overlaps(m.host_id(), m.size(), other.host_id(), other.size());
                if inside || outside {
                    let reason = format!("overlaps entry {j}");
                    return Err(config_error(config, &format!("{field}[{i}]"), &reason));
                }
            }
        }
    }
    Ok(())
}

fn overlaps(a: u32, a_len: u32, b: u32, b_len: u32) -> bool {
    let (a, a_end) = (u64::from(a), u64::from(a) + u64::from(a_len));
    let (b, b_end) = (u64::from(b), u64::from(b) + u64::from(b_len));
    a < b_end && b < a_end
}

pub(crate) fn render(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Writes /proc/<pid>/{uid,gid}_map for a child in a new user namespace.
pub fn write_maps(pid: i32, spec: &Spec, config: &Path) -> Result<()> {
    let linux = spec.linux().as_ref();
    let uid = linux
        .and_then(|l| l.uid_mappings().as_deref())
        .unwrap_or_default();
    let gid = linux
        .and_then(|l| l.gid_mappings().as_deref())
        .unwrap_or_default();
    if uid.is_empty() || gid.is_empty() {
        return Err(config_error(
            config,
            "linux.uidMappings",
            "a new user namespace needs both uid and gid mappings",
        ));
    }
    if crate::rootless::is_rootless() {
        return write_maps_rootless(pid, uid, gid);
    }
    for (file, maps) in [("uid_map", uid), ("gid_map", gid)] {
        write_proc(pid, file, &render(maps))?;
    }
    Ok(())
}

fn write_proc(pid: i32, file: &str, text: &str) -> Result<()> {
    let path = format!("/proc/{pid}/{file}");
    std::fs::write(&path, text).map_err(|e| Error::io("cannot write", path, e))
}

/// As a non-root user: our own id directly, anything else through
/// newuidmap/newgidmap (see `rootless.rs`).
fn write_maps_rootless(pid: i32, uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<()> {
    use crate::rootless::{MapWriter, map_writer, run_map_helper};
    let own_uid = rustix::process::geteuid().as_raw();
    let own_gid = rustix::process::getegid().as_raw();
    match map_writer("newuidmap", pid, uid, own_uid) {
        MapWriter::Direct => write_proc(pid, "uid_map", &render(uid))?,
        MapWriter::Helper(helper, args) => run_map_helper(helper, &args)?,
    }
    match map_writer("newgidmap", pid, gid, own_gid) {
        MapWriter::Direct => {
            // The kernel wants setgroups denied before an unprivileged gid_map write.
            write_proc(pid, "setgroups", "deny")?;
            write_proc(pid, "gid_map", &render(gid))?;
        }
        MapWriter::Helper(helper, args) => run_map_helper(helper, &args)?,
    }
    Ok(())
}

/// A user namespace with exactly these maps, held only by the returned
/// descriptor (what `mount_setattr(MOUNT_ATTR_IDMAP)` wants). A child is
/// cloned into a new user namespace and waits; we write its maps (as root,
/// so any host range is allowed), open its `ns/user` and let it exit.
pub fn helper_userns(uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> io::Result<OwnedFd> {
    use std::io::Read;
    let (mut child_end, parent_end) = std::os::unix::net::UnixStream::pair()?;
    let forked = brig_sys::clone3(&brig_sys::CloneArgs {
        namespaces: libc::CLONE_NEWUSER as u64,
        cgroup: None,
    })?;
    let pid = match forked {
        brig_sys::ForkResult::Child => {
            // Wait for the parent to close its end: read returns at EOF.
            drop(parent_end);
            let _ = child_end.read(&mut [0u8; 1]);
            brig_sys::process::exit_immediately(0)
        }
        brig_sys::ForkResult::Parent { pid } => pid,
    };
    drop(child_end);
    let opened = (|| {
        for (file, maps) in [("uid_map", uid), ("gid_map", gid)] {
            let path = format!("/proc/{pid}/{file}");
            std::fs::write(&path, render(maps))
                .map_err(|e| io::Error::new(e.kind(), format!("writing {path}: {e}")))?;
        }
        std::fs::File::open(format!("/proc/{pid}/ns/user")).map(OwnedFd::from)
    })();
    drop(parent_end);
    if let Some(child) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty());
    }
    opened
}
