//! brig-cgroups: a container's cgroup on cgroup v1, v2 and hybrid machines.
//!
//! # Using it from the runtime
//!
//! ```no_run
//! use brig_cgroups::{AnyManager, CgroupManager, CgroupMonitor, FreezerState, validate};
//! # fn demo(resources: &oci_spec::runtime::LinuxResources) -> Result<(), brig_cgroups::CgroupError> {
//! // `create`: check, then make the cgroup before the process exists.
//! validate(resources)?;                                   // pure: names the bad field
//! let mut cg = AnyManager::for_container(Some("/brig/c1"), "c1", false)?; // detects the layout
//! cg.create()?;                                           // dirs in every hierarchy
//! cg.set_resources(resources)?;                           // limits before the first instruction
//! let entry = cg.entry()?;                               // the child enters by itself:
//! let _fd = entry.clone_into();                           //   cgroup2: clone3(CLONE_INTO_CGROUP)
//! brig_cgroups::join_self(&entry.tasks()).unwrap();      //   v1: in the child, "0" > tasks
//! let saved = serde_json::to_string(&cg).unwrap();        // keep in state.json
//!
//! // Later commands rebuild it from the state:
//! let cg: AnyManager = serde_json::from_str(&saved).unwrap();
//! cg.set_resources(resources)?;                           // `update` (None fields untouched)
//! cg.freeze(FreezerState::Frozen)?;                       // `pause` / `resume`
//! let _json = serde_json::to_value(cg.stats()?);          // `events --stats` data, runc's shape
//! let _ps = cg.pids()?;                                   // `ps`, `kill --all`
//! let mut oom = cg.oom_watcher()?;                        // `events`: poll oom.as_fd()
//! let _ = oom.wait(Some(std::time::Duration::from_secs(1)))?;
//! cg.remove()?;                                           // `delete`: kill, wait, rmdir everywhere
//! # Ok(()) }
//! ```
//!
//! The parent creates the cgroup and sets the limits before the child
//! exists; the child enters it by itself as its first act (see [`entry`]:
//! no `cgroup.procs` migration, which costs an RCU grace period), so a
//! 1 MiB memory limit only has to hold the container's own process. The crate starts no thread and blocks only in
//! bounded waits (freezing, emptying a cgroup on `remove`, rmdir retries).
//!
//! # Pieces
//!
//! - [`Mounts::detect`] / [`Layout`]: what is mounted under the root
//!   (`statfs` magic of the root, cgroup mounts from `/proc/self/mountinfo`).
//!   Hybrid = v1 controllers plus a cgroup2 mount; each controller is used
//!   where it actually is (here: hugetlb on cgroup2, the rest on v1).
//! - [`CgroupPath`]: `linux.cgroupsPath` for the cgroupfs driver (absolute
//!   from each hierarchy's root, relative from the runtime's own cgroup,
//!   default `/brig/<id>`, `..` refused). [`SystemdPath`]: `slice:prefix:name`
//!   parsing; the systemd driver itself reports [`ErrorKind::NotSupported`].
//! - [`CgroupManager`] (create, add_task, set_resources, freeze, remove) and
//!   [`CgroupMonitor`] (pids, stats, freezer_state, oom_kill_count,
//!   oom_watcher), implemented by [`V1Manager`], [`V2Manager`],
//!   [`HybridManager`] and [`AnyManager`].
//! - [`validate`] / [`validate_for`]: checks `linux.resources` before
//!   anything is created. Layout-specific refusals (e.g. `unified` on v1,
//!   realtime CPU on v2) come from `set_resources`, before its first write.
//! - [`devices`]: rule semantics, the OCI default devices, v1 lines and the
//!   v2 eBPF program ([`devices::ebpf`]).
//! - [`convert`]: runc's shares <-> weight, blkio weight and swap conversions.
//! - [`Stats`]: runc's `events --stats` shape. [`OomWatcher`]: OOM events.

pub mod any;
pub mod controller;
pub mod convert;
pub mod devices;
pub mod entry;
pub mod error;
pub mod freezer;
mod fsutil;
pub mod hybrid;
pub mod layout;
mod lifecycle;
pub mod manager;
pub mod oom;
pub mod path;
pub mod plan;
pub mod plan_v1;
pub mod plan_v2;
pub mod stats;
mod stats_v1;
mod stats_v2;
pub mod systemd;
pub mod unified;
pub mod v1;
pub mod v2;
pub mod v2_devices;
pub mod validate;
mod validate_io;

pub use any::AnyManager;
pub use controller::Controller;
pub use entry::{Entry, join_self};
pub use error::{CgroupError, ErrorKind, Result};
pub use freezer::FreezerState;
pub use hybrid::HybridManager;
pub use layout::{DEFAULT_ROOT, Layout, Mounts, UnifiedMount, V1Mount};
pub use manager::{CgroupManager, CgroupMonitor};
pub use oom::{OomWait, OomWatcher};
pub use path::{CgroupPath, OwnCgroups};
pub use stats::Stats;
pub use systemd::SystemdPath;
pub use v1::V1Manager;
pub use v2::V2Manager;
pub use validate::{Machine, validate, validate_for};
