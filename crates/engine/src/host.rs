//! What the engine learns from the host: facts for OCI configs, and the
//! [`HostProbe`] that validation asks (paths, devices, files, ports).

use std::path::{Path, PathBuf};

use crate::caps;
use crate::config::DeviceConfig;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::options::HostProbe;
use crate::seccomp;
use crate::spec::HostFacts;

/// Static init binaries `--init` can use, in order of preference.
const INIT_BINARIES: &[&str] = &[
    "/usr/libexec/brig/brig-init",
    "/usr/bin/tini-static",
    "/usr/bin/catatonit",
    "/usr/libexec/podman/catatonit",
    "/usr/bin/docker-init",
];

/// `/dev` entries `--privileged` does not copy (Docker's list).
const SKIPPED_DEVICES: &[&str] = &["pts", "shm", "fd", "mqueue", "console", ".lxc", ".udev"];

/// This machine's facts (host devices only when `privileged` needs them).
pub fn facts(privileged: bool) -> HostFacts {
    HostFacts {
        cap_last_cap: caps::host_cap_last_cap(),
        arch: seccomp::host_arch(),
        kernel: seccomp::host_kernel(),
        selinux_enabled: Path::new("/sys/fs/selinux/enforce").exists(),
        host_devices: if privileged {
            host_devices()
        } else {
            Vec::new()
        },
        thermal_throttle_paths: thermal_paths(),
        init_binary: INIT_BINARIES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file()),
    }
}

fn thermal_paths() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/sys/devices/system/cpu") else {
        return Vec::new();
    };
    let mut out: Vec<String> = dir
        .flatten()
        .map(|e| e.path().join("thermal_throttle"))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    out.sort();
    out
}

/// Every character and block device under `/dev` (two levels).
fn host_devices() -> Vec<DeviceConfig> {
    let mut out = Vec::new();
    let mut dirs = vec![(PathBuf::from("/dev"), 0)];
    while let Some((dir, depth)) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if SKIPPED_DEVICES.contains(&name.as_str()) {
                continue;
            }
            let path = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() && depth < 2 => dirs.push((path, depth + 1)),
                Ok(_) => {
                    if let Ok(d) = examine_device(&path, &path.display().to_string(), "rwm") {
                        out.push(d);
                    }
                }
                Err(_) => {}
            }
        }
    }
    out.sort_by(|a, b| a.container_path.cmp(&b.container_path));
    out
}

/// A device node's type and numbers.
pub fn examine_device(host: &Path, container: &str, permissions: &str) -> Result<DeviceConfig> {
    let st = rustix::fs::stat(host).map_err(|e| {
        Error::invalid(
            "--device",
            &host.display().to_string(),
            format!("cannot use it: {e}"),
        )
    })?;
    let kind = match rustix::fs::FileType::from_raw_mode(st.st_mode) {
        rustix::fs::FileType::CharacterDevice => 'c',
        rustix::fs::FileType::BlockDevice => 'b',
        _ => {
            return Err(Error::invalid(
                "--device",
                &host.display().to_string(),
                "not a character or block device",
            ));
        }
    };
    Ok(DeviceConfig {
        host_path: host.to_owned(),
        container_path: container.to_owned(),
        permissions: permissions.to_owned(),
        kind,
        major: i64::from(rustix::fs::major(st.st_rdev)),
        minor: i64::from(rustix::fs::minor(st.st_rdev)),
        mode: st.st_mode,
        uid: st.st_uid,
        gid: st.st_gid,
    })
}

/// The real host, for `create`.
#[derive(Debug)]
pub struct RealHost<'a> {
    pub db: &'a Db,
}

impl HostProbe for RealHost<'_> {
    fn path_exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn read_file(&self, path: &Path) -> Result<String> {
        std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))
    }

    fn env_var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }

    fn device(&self, host: &str, container: &str, permissions: &str) -> Result<DeviceConfig> {
        examine_device(Path::new(host), container, permissions)
    }

    fn secret_id(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .db
            .secrets()?
            .into_iter()
            .find(|s| s.name == name)
            .map(|s| s.id))
    }

    fn port_free(&self, ip: &str, port: u16, protocol: &str) -> bool {
        let ip = if ip.is_empty() { "0.0.0.0" } else { ip };
        let addr = if ip.contains(':') {
            format!("[{ip}]:{port}")
        } else {
            format!("{ip}:{port}")
        };
        match protocol {
            "udp" => std::net::UdpSocket::bind(&addr).is_ok(),
            _ => std::net::TcpListener::bind(&addr).is_ok(),
        }
    }

    fn cpus(&self) -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}
