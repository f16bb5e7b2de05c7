//! TEMPORARY shim in the lead's worktree; replaced by the rootfs helper's module.
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};

#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct RootfsError {
    what: String,
    source: std::io::Error,
}
impl RootfsError {
    pub fn errno(&self) -> Option<i32> {
        self.source.raw_os_error()
    }
}
fn e(what: &str) -> impl Fn(rustix::io::Errno) -> RootfsError + '_ {
    move |err| RootfsError {
        what: what.to_string(),
        source: err.into(),
    }
}
#[derive(Debug, Clone, Copy, Default)]
pub struct RootfsOptions {
    pub no_pivot: bool,
    pub terminal: bool,
    pub in_user_namespace: bool,
}
#[derive(Debug)]
pub struct RootfsPlan {
    root: PathBuf,
}
impl RootfsPlan {
    pub fn from_spec(_spec: &Spec, rootfs: &Path, _o: RootfsOptions) -> Result<Self, RootfsError> {
        Ok(RootfsPlan {
            root: rootfs.to_path_buf(),
        })
    }
}
pub fn prepare(p: &RootfsPlan) -> Result<(), RootfsError> {
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
    )
    .map_err(e("slave"))?;
    rustix::mount::mount_bind_recursive(&p.root, &p.root).map_err(e("bind root"))?;
    rustix::mount::mount(
        c"proc",
        p.root.join("proc"),
        c"proc",
        MountFlags::empty(),
        None,
    )
    .map_err(e("proc"))?;
    rustix::mount::mount(
        c"tmpfs",
        p.root.join("dev"),
        c"tmpfs",
        MountFlags::empty(),
        None,
    )
    .map_err(e("dev"))?;
    std::fs::create_dir_all(p.root.join("dev/pts")).ok();
    rustix::mount::mount(
        c"devpts",
        p.root.join("dev/pts"),
        c"devpts",
        MountFlags::empty(),
        Some(c"newinstance,ptmxmode=0666"),
    )
    .map_err(e("pts"))?;
    std::os::unix::fs::symlink("pts/ptmx", p.root.join("dev/ptmx")).ok();
    for d in ["null", "zero"] {
        std::fs::write(p.root.join("dev").join(d), b"").ok();
        rustix::mount::mount_bind(format!("/dev/{d}"), p.root.join("dev").join(d))
            .map_err(e("dev bind"))?;
    }
    Ok(())
}
pub fn pivot(p: &RootfsPlan) -> Result<(), RootfsError> {
    rustix::process::chdir(&p.root).map_err(e("chdir"))?;
    rustix::process::pivot_root(".", ".").map_err(e("pivot_root"))?;
    rustix::mount::unmount(".", UnmountFlags::DETACH).map_err(e("umount old root"))?;
    rustix::process::chdir("/").map_err(e("chdir"))
}
pub fn finalize(_p: &RootfsPlan) -> Result<(), RootfsError> {
    Ok(())
}
pub fn bind_console(slave: &Path) -> Result<(), RootfsError> {
    std::fs::write("/dev/console", b"").ok();
    rustix::mount::mount_bind(slave, "/dev/console").map_err(e("console"))
}
