//! Creating container processes: `create` (a new container's init) and
//! `exec` (a process joining a running container). See `protocol` for the
//! conversation between the runtime and the process it creates.

pub mod create;
pub mod exec;
mod init;
pub mod plan;
pub mod protocol;
pub mod wait;

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};

use oci_spec::runtime::Spec;

use crate::error::{Error, Result};
use crate::namespaces::Join;

/// Our own pid/time namespaces-for-children, to go back to after a clone.
pub(crate) struct ForChildren {
    saved: Vec<(rustix::thread::LinkNameSpaceType, OwnedFd)>,
}

impl ForChildren {
    pub(crate) fn restore(self) -> Result<()> {
        for (kind, fd) in self.saved {
            rustix::thread::move_into_link_name_space(fd.as_fd(), Some(kind))
                .map_err(|e| Error::sys("returning to the runtime's namespace", e))?;
        }
        Ok(())
    }
}

/// Enters pid and time namespaces for our future children only.
pub(crate) fn enter_for_children<'a>(joins: impl Iterator<Item = &'a Join>) -> Result<ForChildren> {
    use oci_spec::runtime::LinuxNamespaceType as T;
    use rustix::thread::LinkNameSpaceType as L;
    let mut saved = Vec::new();
    for join in joins {
        let (kind, own) = match join.kind {
            T::Pid => (L::ProcessID, "/proc/self/ns/pid"),
            T::Time => (L::Time, "/proc/self/ns/time"),
            _ => continue,
        };
        let fd: OwnedFd = File::open(own)
            .map_err(|e| Error::io("cannot open", own, e))?
            .into();
        crate::namespaces::enter(join)?;
        saved.push((kind, fd));
    }
    Ok(ForChildren { saved })
}

/// Makes a new time namespace for our children and writes its offsets.
pub(crate) fn new_time_namespace(spec: &Spec) -> Result<()> {
    // CLONE_NEWTIME only changes the time namespace our children get.
    brig_sys::process::unshare(brig_sys::process::CLONE_NEWTIME)
        .map_err(|e| Error::sys("unshare of the time namespace", e))?;
    let offsets = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref());
    let mut text = String::new();
    for (clock, offset) in offsets.into_iter().flatten() {
        // Clock names were checked by NamespacePlan::from_spec.
        text.push_str(&format!(
            "{clock} {} {}\n",
            offset.secs().unwrap_or(0),
            offset.nanosecs().unwrap_or(0)
        ));
    }
    if !text.is_empty() {
        std::fs::write("/proc/self/timens_offsets", text)
            .map_err(|e| Error::io("cannot write", "/proc/self/timens_offsets", e))?;
    }
    Ok(())
}
