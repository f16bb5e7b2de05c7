//! Linux security modules: `process.apparmorProfile`, `process.selinuxLabel`
//! and `linux.mountLabel`. Checked in the parent (a profile named on a host
//! without AppArmor, or one that is not loaded, is a config error); applied
//! by the container's process right before execve, as a label for the next
//! exec (the runtime itself never runs confined).

use std::io;
use std::path::Path;

use oci_spec::runtime::{Linux, Process};

use crate::bundle::config_error;
use crate::error::Result;

const APPARMOR_ENABLED: &str = "/sys/module/apparmor/parameters/enabled";
const APPARMOR_PROFILES: &str = "/sys/kernel/security/apparmor/profiles";
const SELINUX_FS: &str = "/sys/fs/selinux";

/// What the program's exec is labelled with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LsmPlan {
    /// AppArmor profile for the exec (`process.apparmorProfile`).
    pub apparmor: Option<String>,
    /// SELinux exec context (`process.selinuxLabel`), only when SELinux is enabled.
    pub selinux: Option<String>,
    /// SELinux context of the container's new filesystems (`linux.mountLabel`),
    /// only when SELinux is enabled; applied by the rootfs plan.
    pub mount_label: Option<String>,
}

/// Where the host's LSM state is read from (tests point it at a temp tree).
#[derive(Debug, Clone, Copy)]
pub struct Host<'a> {
    pub apparmor_enabled_file: &'a Path,
    pub apparmor_profiles: &'a Path,
    pub selinux_fs: &'a Path,
}

impl Host<'static> {
    pub fn real() -> Self {
        Host {
            apparmor_enabled_file: Path::new(APPARMOR_ENABLED),
            apparmor_profiles: Path::new(APPARMOR_PROFILES),
            selinux_fs: Path::new(SELINUX_FS),
        }
    }
}

impl Host<'_> {
    pub fn apparmor_enabled(&self) -> bool {
        std::fs::read_to_string(self.apparmor_enabled_file)
            .is_ok_and(|s| s.trim_start().starts_with('Y'))
    }

    /// Whether a profile named `name` is loaded; `None` when the kernel's
    /// list cannot be read (securityfs not mounted).
    fn apparmor_has_profile(&self, name: &str) -> Option<bool> {
        let list = std::fs::read_to_string(self.apparmor_profiles).ok()?;
        Some(list.lines().any(|line| {
            // "name (enforce)"; names may contain spaces, the mode never does.
            line.rsplit_once(" (").is_some_and(|(n, _)| n == name)
        }))
    }

    pub fn selinux_enabled(&self) -> bool {
        self.selinux_fs.join("enforce").exists()
    }
}

impl LsmPlan {
    pub fn from_spec(process: &Process, linux: Option<&Linux>, config: &Path) -> Result<Self> {
        Self::for_host(process, linux, config, &Host::real())
    }

    pub fn for_host(
        process: &Process,
        linux: Option<&Linux>,
        config: &Path,
        host: &Host<'_>,
    ) -> Result<Self> {
        let mut plan = LsmPlan::default();
        if let Some(profile) = process
            .apparmor_profile()
            .as_deref()
            .filter(|p| !p.is_empty())
        {
            check_apparmor(profile, config, host)?;
            plan.apparmor = Some(profile.to_string());
        }
        let label = process.selinux_label().as_deref().filter(|l| !l.is_empty());
        let mount_label = linux
            .and_then(|l| l.mount_label().as_deref())
            .filter(|l| !l.is_empty());
        // Only asked when a label is given: most containers have none.
        if label.is_none() && mount_label.is_none() {
            return Ok(plan);
        }
        if host.selinux_enabled() {
            plan.selinux = label.map(str::to_string);
            plan.mount_label = mount_label.map(str::to_string);
        } else {
            let fields = match (label, mount_label) {
                (Some(_), Some(_)) => "process.selinuxLabel and linux.mountLabel are",
                (Some(_), None) => "process.selinuxLabel is",
                _ => "linux.mountLabel is",
            };
            // One line, as runc: the labels are meaningless without SELinux.
            eprintln!(
                "warning: {}: {fields} set but SELinux is not enabled on this host ({} does not exist); ignoring",
                config.display(),
                host.selinux_fs.join("enforce").display()
            );
        }
        Ok(plan)
    }

    /// Labels the next exec of the calling process (run inside the container,
    /// with its /proc, while the process still has its privileges).
    pub fn apply(&self) -> std::result::Result<(), (&'static str, io::Error)> {
        if let Some(profile) = &self.apparmor {
            apply_apparmor(profile).map_err(|e| ("applying process.apparmorProfile", e))?;
        }
        if let Some(label) = &self.selinux {
            // thread-self: the attribute is per thread (the runtime has one).
            write_attr("/proc/thread-self/attr/exec", label.as_bytes()).map_err(|e| {
                (
                    "applying process.selinuxLabel",
                    io::Error::new(e.kind(), format!("{label}: {e}")),
                )
            })?;
        }
        Ok(())
    }
}

fn check_apparmor(profile: &str, config: &Path, host: &Host<'_>) -> Result<()> {
    if !host.apparmor_enabled() {
        return Err(config_error(
            config,
            "process.apparmorProfile",
            &format!(
                "profile {profile:?} is named but AppArmor is not enabled on this host ({} is not Y); remove the field or enable AppArmor",
                host.apparmor_enabled_file.display()
            ),
        ));
    }
    if profile == "unconfined" {
        return Ok(());
    }
    if host.apparmor_has_profile(profile) == Some(false) {
        return Err(config_error(
            config,
            "process.apparmorProfile",
            &format!(
                "AppArmor profile {profile:?} is not loaded (it is not in {}); load it with apparmor_parser -r",
                host.apparmor_profiles.display()
            ),
        ));
    }
    Ok(())
}

/// `exec PROFILE` into the AppArmor exec attribute (the LSM-specific file
/// since Linux 5.1, the shared one before).
fn apply_apparmor(profile: &str) -> io::Result<()> {
    let command = format!("exec {profile}");
    let result = match write_attr("/proc/self/attr/apparmor/exec", command.as_bytes()) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            write_attr("/proc/self/attr/exec", command.as_bytes())
        }
        other => other,
    };
    result.map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT) => io::Error::new(
            e.kind(),
            format!(
                "AppArmor profile {profile:?} does not exist (load it with apparmor_parser -r)"
            ),
        ),
        _ => io::Error::new(e.kind(), format!("AppArmor profile {profile:?}: {e}")),
    })
}

/// One write(2) of the whole value, as the kernel wants for attr files.
fn write_attr(path: &str, value: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
    file.write_all(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct FakeHost {
        dir: tempfile::TempDir,
    }

    impl FakeHost {
        fn new(apparmor: &str, profiles: Option<&str>, selinux: bool) -> Self {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("enabled"), apparmor).unwrap();
            if let Some(p) = profiles {
                std::fs::write(dir.path().join("profiles"), p).unwrap();
            }
            std::fs::create_dir(dir.path().join("selinux")).unwrap();
            if selinux {
                std::fs::write(dir.path().join("selinux/enforce"), "1").unwrap();
            }
            FakeHost { dir }
        }

        fn plan(&self, process: serde_json::Value) -> Result<LsmPlan> {
            self.plan_with(process, None)
        }

        fn plan_with(&self, process: serde_json::Value, linux: Option<&Linux>) -> Result<LsmPlan> {
            let process: Process = serde_json::from_value(process).unwrap();
            let (enabled, profiles, selinux) = (
                self.dir.path().join("enabled"),
                self.dir.path().join("profiles"),
                self.dir.path().join("selinux"),
            );
            let host = Host {
                apparmor_enabled_file: &enabled,
                apparmor_profiles: &profiles,
                selinux_fs: &selinux,
            };
            LsmPlan::for_host(&process, linux, Path::new("config.json"), &host)
        }
    }

    fn process(extra: serde_json::Value) -> serde_json::Value {
        let mut p = serde_json::json!({"cwd": "/", "user": {"uid": 0, "gid": 0}, "args": ["true"]});
        p.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        p
    }

    #[test]
    fn apparmor_profile_needs_apparmor_and_a_loaded_profile() {
        let host = FakeHost::new(
            "Y\n",
            Some("docker-default (enforce)\nother x (complain)\n"),
            false,
        );
        let plan = host
            .plan(process(
                serde_json::json!({"apparmorProfile": "docker-default"}),
            ))
            .unwrap();
        assert_eq!(plan.apparmor.as_deref(), Some("docker-default"));
        assert!(
            host.plan(process(serde_json::json!({"apparmorProfile": "other x"})))
                .is_ok()
        );
        let err = host
            .plan(process(serde_json::json!({"apparmorProfile": "nope"})))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("process.apparmorProfile") && err.contains("\"nope\" is not loaded"),
            "{err}"
        );

        let off = FakeHost::new("N\n", None, false);
        let err = off
            .plan(process(
                serde_json::json!({"apparmorProfile": "docker-default"}),
            ))
            .unwrap_err()
            .to_string();
        assert!(err.contains("AppArmor is not enabled"), "{err}");
        assert_eq!(
            off.plan(process(serde_json::json!({}))).unwrap(),
            LsmPlan::default()
        );
    }

    #[test]
    fn unreadable_profile_list_defers_the_check_to_exec() {
        let host = FakeHost::new("Y", None, false);
        assert!(
            host.plan(process(serde_json::json!({"apparmorProfile": "maybe"})))
                .is_ok()
        );
    }

    #[test]
    fn selinux_label_is_kept_only_with_selinux() {
        let label = serde_json::json!({"selinuxLabel": "system_u:system_r:container_t:s0"});
        let on = FakeHost::new("N", None, true);
        assert!(on.plan(process(label.clone())).unwrap().selinux.is_some());
        let off = FakeHost::new("N", None, false);
        assert_eq!(off.plan(process(label)).unwrap().selinux, None);
    }

    #[test]
    fn mount_label_is_kept_only_with_selinux() {
        let label = "system_u:object_r:container_file_t:s0:c1,c2";
        let linux: Linux =
            serde_json::from_value(serde_json::json!({ "mountLabel": label })).unwrap();
        for (selinux, expected) in [(true, Some(label)), (false, None)] {
            let host = FakeHost::new("N", None, selinux);
            let plan = host
                .plan_with(process(serde_json::json!({})), Some(&linux))
                .unwrap();
            assert_eq!(plan.mount_label.as_deref(), expected);
        }
    }
}
