//! `--network none` and bridges in one execution of the runtime: the
//! monitor makes the container's network namespace beforehand (loopback
//! up, or the bridges attached), holds it with a bind mount at
//! `<bundle>/netns` (in its own mount namespace, so it goes away with the
//! monitor) and the OCI config joins it. Without this, the network can
//! only be set up between the runtime's `create` and `start`: two
//! executions of the runtime (runc's take ~30 ms each).

use std::path::Path;

use super::nschild::with_child_in;
use crate::error::{IoContext, Result};

/// The file name, in the bundle, of a namespace made by [`make_netns`].
pub(super) const FILE: &str = "netns";

/// Makes a network namespace (with `lo` up if `loopback`), held at `path`
/// (kept if it already is: a restart).
pub(super) fn make_netns(path: &Path, loopback: bool) -> Result<()> {
    if crate::rootfs::is_mount_point(path) {
        return Ok(());
    }
    let flags = u64::from(rustix::thread::UnshareFlags::NEWNET.bits());
    with_child_in(flags, |pid| {
        let ns = format!("/proc/{pid}/ns/net");
        if loopback {
            crate::network::loopback_up(Path::new(&ns))?;
        }
        std::fs::File::create(path).ctx("create", path)?;
        rustix::mount::mount_bind(ns.as_str(), path).ctx("hold the network namespace at", path)
    })
}

/// Lets go of the namespace (the container's processes may hold it still).
pub(super) fn release(path: &Path) {
    let _ = rustix::mount::unmount(path, rustix::mount::UnmountFlags::DETACH);
}
