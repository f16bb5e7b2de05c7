//! `pause` / `resume`: freeze and thaw every process of a container through
//! its cgroup's freezer (v1 `freezer.state`, v2 `cgroup.freeze`). The
//! status then reads "paused" (see `state::ContainerDir::status`).

use brig_cgroups::{CgroupManager, FreezerState};

use crate::error::{Error, Result};
use crate::state::{Status, Store};

/// Freezes a running container.
pub fn pause(store: &Store, id: &str) -> Result<()> {
    set(
        store,
        id,
        Status::Running,
        FreezerState::Frozen,
        "pause (only a running container can be paused)",
    )
}

/// Thaws a paused container.
pub fn resume(store: &Store, id: &str) -> Result<()> {
    set(
        store,
        id,
        Status::Paused,
        FreezerState::Thawed,
        "resume (only a paused container can be resumed)",
    )
}

fn set(
    store: &Store,
    id: &str,
    required: Status,
    state: FreezerState,
    action: &'static str,
) -> Result<()> {
    let dir = store.open(id)?;
    let record = dir.load()?;
    let status = dir.status(&record);
    if status != required {
        return Err(Error::WrongState {
            id: id.to_string(),
            status: status.as_str(),
            action,
        });
    }
    let cgroup = record.cgroup.as_ref().ok_or(Error::Unsupported(
        "pause/resume of a container without a cgroup (created by an older brig-runtime)",
    ))?;
    cgroup.freeze(state)?;
    Ok(())
}
