//! Dev-only helpers for brig's black-box tests. Never a normal dependency.
//!
//! - [`Bundle`]: an OCI bundle with a busybox root filesystem and a config
//!   like `runc spec` writes, editable by the test.
//! - [`Runtime`]: the runtime binary under test (brig-runtime, runc, crun or a
//!   path from `BRIG_TEST_RUNTIME`) with a private `--root`; it force-deletes
//!   every container it created when dropped.
//! - [`ConsoleSocket`]: receives a pty master over `--console-socket`.
//! - [`leftovers`]: what a failed command may have left (state, mounts, processes).
//! - [`registry::Registry`]: Debian's docker-registry on 127.0.0.1 (plain,
//!   TLS, basic auth, bearer tokens) for the image tests; [`tools`]: the
//!   external tools they drive.
//! - [`shared_cgroup::SharedParents`]: removes the `/brig` cgroup parents a
//!   run made.
//! - `brig-reaper` (a binary of this package): a subreaper to run tests under.
//!
//! Helpers panic with a message that names what failed: they only run inside
//! tests, where a panic is the failure report.

pub mod bundle;
pub mod command;
pub mod console;
pub mod differential;
pub mod ids;
pub mod leftovers;
pub mod mountinfo;
pub mod probe;
pub mod registry;
pub mod rootfs;
pub mod runtime;
pub mod seccomp_agent;
pub mod shared_cgroup;
pub mod spec;
pub mod state;
pub mod tools;

pub use bundle::{Bundle, HookKind, TestDir};
pub use command::CmdOutput;
pub use console::ConsoleSocket;
pub use ids::unique_id;
pub use runtime::{Runtime, RuntimeKind};
pub use state::State;

/// True when the tests run as root (euid 0).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Returns the path of the enclosing function, for skip messages.
#[doc(hidden)]
#[macro_export]
macro_rules! __function_path {
    () => {{
        fn f() {}
        let name = ::std::any::type_name_of_val(&f);
        name.strip_suffix("::f").unwrap_or(name)
    }};
}

/// Returns early from a test, loudly, when not running as root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::is_root() {
            eprintln!("SKIPPED (needs root): {}", $crate::__function_path!());
            return;
        }
    };
}

/// Returns early, loudly, when the runtime under test is known to fail this
/// test (`gaps` lists runtime kinds and the reason). `BRIG_TEST_STRICT=1`
/// runs the test anyway, to see the actual failure.
#[macro_export]
macro_rules! known_gap {
    ($rt:expr, $kind:expr, $why:expr) => {
        if $rt.kind() == $kind && !$crate::runtime::strict() {
            eprintln!(
                "KNOWN GAP ({}): {}: {}",
                $rt.kind().name(),
                $crate::__function_path!(),
                $why
            );
            return;
        }
    };
}
