//! Container state under `--root`: one directory per container holding
//! `state.json` (written atomically) and, until `start`, the exec fifo.
//! Commands on one container are serialized by an exclusive POSIX record
//! lock on its `lock` file: unlike `flock`, such a lock is not inherited by
//! the init process we fork, which must not hold it while it waits for `start`.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::proc::ProcessId;

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";

/// The lifecycle status of a container, as the OCI runtime spec names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// Whether `create` finished: a container stuck in `Creating` was interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Creating,
    Created,
}

/// What the runtime remembers about a container between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub phase: Phase,
    /// The container's init process (pid in the runtime's pid namespace).
    pub init: Option<ProcessId>,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 creation time.
    pub created: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// The container's cgroup, as `create` made it.
    #[serde(default)]
    pub cgroup: Option<brig_cgroups::AnyManager>,
    /// The container's configuration, kept so that `exec`, `delete` (poststop
    /// hooks) and `update` do not depend on the bundle staying unchanged.
    pub config: oci_spec::runtime::Spec,
}

/// The directory holding all containers' state (`--root`).
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn new(root: &Path) -> Self {
        Store {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Makes the directory for a new container and locks it.
    pub fn create(&self, id: &str) -> Result<ContainerDir> {
        validate_id(id)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(|e| Error::io("cannot create state root", &self.root, e))?;
        let path = self.root.join(id);
        match fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::AlreadyExists(id.to_string()));
            }
            Err(e) => return Err(Error::io("cannot create state directory", &path, e)),
        }
        ContainerDir::lock(id, path)
    }

    /// Opens and locks an existing container's directory.
    pub fn open(&self, id: &str) -> Result<ContainerDir> {
        validate_id(id)?;
        let path = self.root.join(id);
        if !path.join(STATE_FILE).exists() && !path.is_dir() {
            return Err(Error::NotFound(id.to_string()));
        }
        ContainerDir::lock(id, path)
    }

    /// Ids of all containers, sorted.
    pub fn ids(&self) -> Result<Vec<String>> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("cannot list", &self.root, e)),
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

/// A container's state directory, exclusively locked while this value lives.
#[derive(Debug)]
pub struct ContainerDir {
    pub id: String,
    pub path: PathBuf,
    _lock: File,
}

impl ContainerDir {
    fn lock(id: &str, path: PathBuf) -> Result<Self> {
        let lock_path = path.join("lock");
        let dir = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::NotFound(id.to_string()),
                _ => Error::io("cannot open", &lock_path, e),
            })?;
        rustix::fs::fcntl_lock(&dir, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| Error::io("cannot lock", &lock_path, e.into()))?;
        // The directory may have been deleted while we waited for the lock.
        if !path.exists() {
            return Err(Error::NotFound(id.to_string()));
        }
        Ok(ContainerDir {
            id: id.to_string(),
            path,
            _lock: dir,
        })
    }

    pub fn fifo_path(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    pub fn load(&self) -> Result<Record> {
        let file = self.path.join(STATE_FILE);
        let data = match fs::read(&file) {
            Ok(data) => data,
            // Killed before the first write of its state: nothing but the directory exists.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(self.id.clone()));
            }
            Err(e) => return Err(Error::io("cannot read", &file, e)),
        };
        serde_json::from_slice(&data).map_err(|e| Error::Config {
            file,
            field: "(state)".into(),
            reason: e.to_string(),
        })
    }

    /// Writes the record atomically: a reader sees the old or the new state, never half.
    pub fn save(&self, record: &Record) -> Result<()> {
        let tmp = self.path.join(".state.json.tmp");
        let data = serde_json::to_vec(record)
            .map_err(|e| Error::sys("encode state", std::io::Error::other(e)))?;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| Error::io("cannot write", &tmp, e))?;
        file.write_all(&data)
            .map_err(|e| Error::io("cannot write", &tmp, e))?;
        fs::rename(&tmp, self.path.join(STATE_FILE)).map_err(|e| Error::io("cannot write", &tmp, e))
    }

    /// The current status, derived from the record and the live process.
    pub fn status(&self, record: &Record) -> Status {
        let Some(init) = record.init else {
            return Status::Creating;
        };
        if !init.is_alive() {
            return Status::Stopped;
        }
        if record.phase == Phase::Creating {
            return Status::Creating;
        }
        if self.fifo_path().exists() {
            return Status::Created;
        }
        use brig_cgroups::CgroupMonitor;
        let frozen = record
            .cgroup
            .as_ref()
            .and_then(|cg| cg.freezer_state().ok())
            .is_some_and(|s| s == brig_cgroups::FreezerState::Frozen);
        if frozen {
            return Status::Paused;
        }
        Status::Running
    }

    /// Removes the directory and everything in it.
    pub fn remove(self) -> Result<()> {
        fs::remove_dir_all(&self.path).map_err(|e| Error::io("cannot remove", &self.path, e))
    }
}

/// Ids become directory names: keep them to a safe alphabet, as runc does.
pub fn validate_id(id: &str) -> Result<()> {
    let reason = if id.is_empty() {
        "it is empty"
    } else if id.len() > 1024 {
        "it is longer than 1024 bytes"
    } else if id == "." || id == ".." {
        "it is a path component"
    } else if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b))
    {
        "only letters, digits and _ + - . are allowed"
    } else {
        return Ok(());
    };
    Err(Error::InvalidId {
        id: id.to_string(),
        reason,
    })
}

/// The current time in RFC 3339 (UTC, nanoseconds), without a date library.
pub fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_nanos()
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["a", "c1", "my_container-1.2+x"] {
            assert!(validate_id(ok).is_ok());
        }
        for bad in ["", "..", ".", "a/b", "a b", "é"] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert!(rfc3339_now().ends_with('Z'));
    }

    #[test]
    fn duplicate_and_unknown_ids() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let first = store.create("c1").unwrap();
        drop(first);
        assert!(matches!(store.create("c1"), Err(Error::AlreadyExists(_))));
        assert!(matches!(store.open("nope"), Err(Error::NotFound(_))));
        assert_eq!(store.ids().unwrap(), vec!["c1".to_string()]);
    }
}
