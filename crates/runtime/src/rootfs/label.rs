//! `linux.mountLabel` (SELinux, only when it is enabled): every new
//! filesystem that takes it gets the `context="LABEL"` mount option, as
//! runc's `label.FormatMountLabel` does. proc and sysfs keep the labels the
//! host policy gives them, bind mounts keep their source's labels (mount
//! data is ignored for a bind), cgroup mounts are left alone, and mqueue,
//! which refuses the option, has its root directory labelled instead.

use std::ffi::CString;
use std::os::fd::AsFd;

use rustix::fs::{OFlags, XattrFlags};

use super::RootfsError;
use super::plan::{MountKind, MountStep, RootfsPlan};
use super::resolve::{Create, open_in_root};

/// Filesystems that never get a `context=` option.
const NO_CONTEXT_OPTION: &[&str] = &["proc", "sysfs", "mqueue", "cgroup", "cgroup2"];

/// `data` with the context option appended (`context="LABEL"` alone when there is no data).
pub(super) fn with_context(data: Option<&str>, label: &str) -> String {
    match data.filter(|d| !d.is_empty()) {
        Some(data) => format!("{data},context=\"{label}\""),
        None => format!("context=\"{label}\""),
    }
}

/// Whether `step` is mounted with the context option.
fn takes_context(step: &MountStep) -> bool {
    match &step.kind {
        MountKind::Filesystem { fstype, .. } => {
            !step.remount && !NO_CONTEXT_OPTION.contains(&fstype.as_str())
        }
        MountKind::Bind { .. } | MountKind::Cgroup => false,
    }
}

impl RootfsPlan {
    /// Applies `linux.mountLabel` to the planned mounts (call only when
    /// SELinux is enabled; see `lsm.rs`).
    pub fn set_mount_label(&mut self, label: &str) -> Result<(), RootfsError> {
        let invalid = || RootfsError::InvalidPath {
            field: "mountLabel",
            path: label.to_owned(),
            reason: "a label may not contain a NUL byte or a double quote",
        };
        if label.contains(['\0', '"']) {
            return Err(invalid());
        }
        for step in self.mounts.iter_mut().filter(|s| takes_context(s)) {
            let data = step.data.as_ref().map(|d| d.to_string_lossy().into_owned());
            let data = with_context(data.as_deref(), label);
            step.data = Some(CString::new(data).map_err(|_| invalid())?);
        }
        self.mount_label = Some(CString::new(label).map_err(|_| invalid())?);
        Ok(())
    }
}

/// Labels the root of a freshly mounted mqueue (it has no context option).
pub(super) fn label_mqueue(plan: &RootfsPlan, step: &MountStep) -> Result<(), RootfsError> {
    let Some(label) = &plan.mount_label else {
        return Ok(());
    };
    let fail = |what, errno| RootfsError::Mount {
        destination: step.destination.clone(),
        what,
        errno,
    };
    let root = rustix::fs::open(
        &plan.rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|errno| fail("opening the root", errno))?;
    let dir = open_in_root(
        root.as_fd(),
        &step.destination,
        OFlags::RDONLY | OFlags::DIRECTORY,
        Create::Nothing,
    )
    .map_err(|errno| fail("opening the mqueue mount", errno))?;
    rustix::fs::fsetxattr(
        dir.fd.as_fd(),
        "security.selinux",
        label.as_bytes_with_nul(),
        XattrFlags::empty(),
    )
    .map_err(|errno| fail("setting its SELinux label (linux.mountLabel)", errno))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::super::RootfsOptions;
    use super::*;

    const LABEL: &str = "system_u:object_r:container_file_t:s0:c1,c2";

    #[test]
    fn context_is_appended_to_the_data() {
        assert_eq!(with_context(None, LABEL), format!("context=\"{LABEL}\""));
        assert_eq!(
            with_context(Some("mode=755,size=65536k"), LABEL),
            format!("mode=755,size=65536k,context=\"{LABEL}\"")
        );
    }

    #[test]
    fn only_filesystems_that_take_it_get_the_context_option() {
        let spec: oci_spec::runtime::Spec = serde_json::from_value(json!({
            "ociVersion": "1.2.0",
            "root": {"path": "rootfs"},
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["newinstance", "gid=5"]},
                {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue"},
                {"destination": "/sys", "type": "sysfs", "source": "sysfs"},
                {"destination": "/data", "type": "bind", "source": "/srv", "options": ["rbind"]},
                {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}
            ]
        }))
        .unwrap();
        let mut plan =
            RootfsPlan::from_spec(&spec, Path::new("/r"), RootfsOptions::default()).unwrap();
        plan.set_mount_label(LABEL).unwrap();
        let data: Vec<(String, Option<String>)> = plan
            .mounts
            .iter()
            .map(|m| {
                let data = m.data.as_ref().map(|d| d.to_string_lossy().into_owned());
                (m.destination.display().to_string(), data)
            })
            .collect();
        let context = format!("context=\"{LABEL}\"");
        assert_eq!(
            data,
            [
                ("/proc".into(), None),
                ("/dev".into(), Some(format!("mode=755,{context}"))),
                (
                    "/dev/pts".into(),
                    Some(format!("newinstance,gid=5,{context}"))
                ),
                ("/dev/mqueue".into(), None),
                ("/sys".into(), None),
                ("/data".into(), None),
                ("/tmp".into(), Some(context.clone())),
            ]
        );
        assert_eq!(
            plan.mount_label.as_deref(),
            Some(&*CString::new(LABEL).unwrap())
        );
        assert!(plan.set_mount_label("bad\"label").is_err());
    }
}
