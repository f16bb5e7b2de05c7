//! Per-container locks: an exclusive `flock` on `<runroot>/locks/<id>`.
//! A lock serializes the multi-step operations on one container (start,
//! remove, the monitor's exit handling and restarts); single changes of the
//! record need none (they are transactions). The kernel drops a lock when
//! its holder dies, so a killed `brig` never leaves one behind.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};

/// A held container lock; released when dropped.
#[derive(Debug)]
pub struct ContainerLock {
    _file: File,
}

fn open(dir: &Path, id: &str) -> Result<(File, PathBuf)> {
    let path = dir.join(id);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .ctx("open lock file", &path)?;
    Ok((file, path))
}

impl ContainerLock {
    /// Waits for and takes the lock of container `id`.
    pub fn acquire(dir: &Path, id: &str) -> Result<ContainerLock> {
        let (file, path) = open(dir, id)?;
        file.lock().ctx("lock", &path)?;
        Ok(ContainerLock { _file: file })
    }

    /// Takes the lock if nobody holds it.
    pub fn try_acquire(dir: &Path, id: &str) -> Result<Option<ContainerLock>> {
        let (file, _) = open(dir, id)?;
        Ok(file
            .try_lock()
            .is_ok()
            .then_some(ContainerLock { _file: file }))
    }

    /// Removes the lock file of a removed container.
    pub fn remove_file(dir: &Path, id: &str) {
        let _ = std::fs::remove_file(dir.join(id));
    }
}
