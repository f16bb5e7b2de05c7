//! Real clients of runc's command line driving brig-runtime, and Debian's
//! runc for comparison: Podman (through conmon) and containerd (through its
//! io.containerd.runc.v2 shim).
//!
//! Everything a test starts is private to it and removed when it ends, also
//! when it fails:
//! - [`Sandbox`]: a mount namespace where `/run` is a fresh tmpfs and `/etc`
//!   and `/var/lib` are overlays whose writes land in the test's directory.
//!   The clients, their daemons and shims run in it, so the runtimes' default
//!   state roots (`/run/runc`, `/run/brig-runtime`), containerd's shim sockets,
//!   Podman's blob cache and every overlay mount they make stay in it.
//! - [`CgroupScope`]: a unique cgroup parent (Podman's `--cgroup-parent`,
//!   containerd's namespace) that is emptied and removed at the end.
//! - No network: Podman runs with `--network none`, containerd's `ctr run`
//!   makes no interfaces.
//!
//! Each flow runs once per runtime in [`runtimes`]; [`agree`] then checks
//! that brig-runtime saw what runc saw.

mod compare;
mod containerd;
mod oci_layout;
mod podman;
mod sandbox;
mod scope;
mod tools;

pub use compare::agree;
pub use containerd::Containerd;
pub use oci_layout::{OciImage, rootfs_tar};
pub use podman::Podman;
pub use sandbox::Sandbox;
pub use scope::CgroupScope;
pub use tools::{RuntimeUnderTest, brig_supports_seccomp, missing_tools, runtimes, shell_quote};

/// Returns early from a test, loudly, when not root or when a client program
/// is not installed (`scripts/packages.txt` lists the Debian packages).
#[macro_export]
macro_rules! require_clients {
    ($($tool:expr),+ $(,)?) => {
        brig_testkit::require_root!();
        let missing = $crate::missing_tools(&[$($tool),+]);
        if !missing.is_empty() {
            eprintln!(
                "SKIPPED (needs {}: apt-get install podman conmon containerd skopeo util-linux): {}",
                missing.join(", "),
                brig_testkit::__function_path!()
            );
            return;
        }
    };
}
