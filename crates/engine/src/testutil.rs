//! Test helpers shared by the unit tests.

use std::path::{Path, PathBuf};

use crate::config::{ContainerConfig, DeviceConfig};
use crate::error::{Error, Result};
use crate::image_config::ImageConfig;
use crate::options::{CreateOptions, HostProbe, build_config};

/// A host where paths under `/exists` exist, `/env` and `/profile.json`
/// can be read, secret `db` exists and port 8080 is taken.
pub struct FakeHost;

impl HostProbe for FakeHost {
    fn path_exists(&self, path: &Path) -> bool {
        path.starts_with("/exists")
    }
    fn read_file(&self, path: &Path) -> Result<String> {
        match path.to_str() {
            Some("/env") => Ok("FROM_FILE=1\nA=file\n".to_owned()),
            Some("/profile.json") => Ok(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#.to_owned()),
            _ => Err(Error::io(
                "read",
                path,
                std::io::Error::from(std::io::ErrorKind::NotFound),
            )),
        }
    }
    fn env_var(&self, key: &str) -> Option<String> {
        (key == "HOSTVAR").then(|| "h".to_owned())
    }
    fn device(&self, host: &str, ctr: &str, perms: &str) -> Result<DeviceConfig> {
        Ok(DeviceConfig {
            host_path: PathBuf::from(host),
            container_path: ctr.to_owned(),
            permissions: perms.to_owned(),
            kind: 'c',
            major: 10,
            minor: 229,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
    }
    fn secret_id(&self, name: &str) -> Result<Option<String>> {
        Ok((name == "db").then(|| "s1".to_owned()))
    }
    fn port_free(&self, _ip: &str, port: u16, _proto: &str) -> bool {
        port != 8080
    }
    fn cpus(&self) -> usize {
        2
    }
}

/// A config from `run` options on a busybox-like image (`CMD ["sh"]`).
pub fn config(change: impl FnOnce(&mut CreateOptions)) -> ContainerConfig {
    let mut o = CreateOptions {
        image: "busybox:1.36".into(),
        ..Default::default()
    };
    change(&mut o);
    let image = ImageConfig {
        env: Some(vec!["PATH=/bin".into()]),
        cmd: Some(vec!["sh".into()]),
        ..Default::default()
    };
    build_config(
        &o,
        &image,
        &"c".repeat(64),
        Path::new("/usr/sbin/runc"),
        &FakeHost,
        &mut || "anon".to_owned(),
    )
    .expect("valid options")
}
