//! brig's shared `/brig` cgroup parent stays once made (as Docker's
//! `/docker`); a test run or a benchmark that made it gives the machine
//! back as it found it.

use std::path::PathBuf;

/// The `<hierarchy>/brig` parents that did not exist when it was taken;
/// removed on drop (those still holding a cgroup are named instead).
#[derive(Debug)]
pub struct SharedParents {
    absent: Vec<PathBuf>,
}

impl SharedParents {
    /// Notes which hierarchies have no `/brig` yet.
    pub fn note() -> SharedParents {
        SharedParents {
            absent: in_every_hierarchy()
                .into_iter()
                .filter(|p| !p.exists())
                .collect(),
        }
    }
}

impl Drop for SharedParents {
    fn drop(&mut self) {
        for parent in self.absent.iter().filter(|p| p.exists()) {
            if let Err(e) = std::fs::remove_dir(parent) {
                eprintln!("warning: cgroup {} left behind: {e}", parent.display());
            }
        }
    }
}

/// `<hierarchy>/brig` in every mounted cgroup hierarchy.
fn in_every_hierarchy() -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    crate::mountinfo::parse(&text)
        .into_iter()
        .filter(|m| m.fstype == "cgroup" || m.fstype == "cgroup2")
        .map(|m| PathBuf::from(m.mount_point).join("brig"))
        .collect()
}
