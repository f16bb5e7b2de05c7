//! Where the engine keeps things.
//!
//! - `<root>` (default `/var/lib/brig`, survives reboots): `brig.db`,
//!   images and layers (brig-image, brig-snapshot), `containers/<id>/`
//!   (the bundle: `config.json`, logs, the generated
//!   `hostname`/`hosts`/`resolv.conf`), `volumes/<name>/_data`,
//!   `secrets/<id>`.
//! - `<runroot>` (default `/run/brig`, gone after a reboot): `locks/`,
//!   the OCI runtime's `--root` (`runtime/`), the root filesystem mount
//!   points (`rootfs/<id>`: the mounts live in each monitor's own mount
//!   namespace, outside the bundle, so removing a bundle never meets a
//!   mount), and the monitors' sockets (`sock/`, short names because a
//!   socket path holds at most 107 bytes).

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};

/// The engine's directories.
#[derive(Debug, Clone)]
pub struct Paths {
    root: PathBuf,
    runroot: PathBuf,
}

impl Paths {
    pub fn new(root: &Path, runroot: &Path) -> Self {
        Paths {
            root: root.to_owned(),
            runroot: runroot.to_owned(),
        }
    }

    /// Creates the directories every command needs.
    pub fn create(&self) -> Result<()> {
        for dir in [
            self.root.clone(),
            self.containers_dir(),
            self.volumes_dir(),
            self.secrets_dir(),
            self.locks_dir(),
            self.runtime_root(),
            self.rootfs_dir(),
            self.sock_dir(),
        ] {
            fs::create_dir_all(&dir).ctx("create directory", &dir)?;
        }
        Ok(())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn runroot(&self) -> &Path {
        &self.runroot
    }

    pub fn db(&self) -> PathBuf {
        self.root.join("brig.db")
    }

    pub fn containers_dir(&self) -> PathBuf {
        self.root.join("containers")
    }

    /// The container's bundle directory.
    pub fn bundle(&self, id: &str) -> PathBuf {
        self.containers_dir().join(id)
    }

    /// Where root filesystems are mounted.
    pub fn rootfs_dir(&self) -> PathBuf {
        self.runroot.join("rootfs")
    }

    /// The container's root filesystem mount point.
    pub fn rootfs(&self, id: &str) -> PathBuf {
        self.rootfs_dir().join(id)
    }

    /// The container's current log file (older ones end in `.1`, `.2`, ...).
    pub fn log(&self, id: &str) -> PathBuf {
        self.bundle(id).join("container.log")
    }

    /// Where the monitor writes its own errors.
    pub fn monitor_log(&self, id: &str) -> PathBuf {
        self.bundle(id).join("monitor.log")
    }

    /// The OCI runtime's error log (`--log`).
    pub fn runtime_log(&self, id: &str) -> PathBuf {
        self.bundle(id).join("runtime.log")
    }

    pub fn volumes_dir(&self) -> PathBuf {
        self.root.join("volumes")
    }

    /// The directory a volume's data lives in.
    pub fn volume_data(&self, name: &str) -> PathBuf {
        self.volumes_dir().join(name).join("_data")
    }

    pub fn secrets_dir(&self) -> PathBuf {
        self.root.join("secrets")
    }

    pub fn secret(&self, id: &str) -> PathBuf {
        self.secrets_dir().join(id)
    }

    pub fn locks_dir(&self) -> PathBuf {
        self.runroot.join("locks")
    }

    /// The OCI runtime's state directory (`--root`).
    pub fn runtime_root(&self) -> PathBuf {
        self.runroot.join("runtime")
    }

    pub fn sock_dir(&self) -> PathBuf {
        self.runroot.join("sock")
    }

    /// The monitor's attach socket.
    pub fn attach_socket(&self, id: &str) -> PathBuf {
        self.sock_dir().join(format!("{}.a", short(id)))
    }

    /// The console socket the runtime sends a container's pty master to.
    pub fn console_socket(&self, id: &str) -> PathBuf {
        self.sock_dir().join(format!("{}.c", short(id)))
    }
}

/// The first 12 characters of an ID, as Docker shows it.
pub fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
