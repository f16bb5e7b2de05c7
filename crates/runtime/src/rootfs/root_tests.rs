//! Root-only tests: a busybox root filesystem, and a forked child in its own
//! mount namespace that runs prepare / pivot / finalize and checks what a
//! container would see. Nothing leaks to the host: every mount lives in the
//! child's namespace, which dies with it; temp dirs are removed on drop.

use std::ffi::CString;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use brig_sys::ForkResult;
use oci_spec::runtime::Spec;
use rustix::fs::StatVfsMountFlags;
use rustix::thread::UnshareFlags;
use serde_json::Value;

use super::{RootfsOptions, RootfsPlan};

#[path = "root_tests_cases.rs"]
mod cases;

pub(super) const PROC_SUPER_MAGIC: i64 = 0x9fa0;
pub(super) const TMPFS_MAGIC: i64 = 0x0102_1994;
pub(super) const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;
pub(super) const SYSFS_MAGIC: i64 = 0x6265_6572;
pub(super) const MQUEUE_MAGIC: i64 = 0x1980_0202;

/// True (after a loud message) when the test cannot run.
pub(super) fn skip_unless_root(test: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        return false;
    }
    eprintln!("SKIPPED (needs root): rootfs::root_tests::{test}");
    true
}

/// A bundle with a busybox rootfs (Debian's busybox-static, from /bin/busybox).
pub(super) struct Bundle {
    _dir: tempfile::TempDir,
    pub rootfs: PathBuf,
}

const APPLETS: &[&str] = &["sh", "cat", "test", "touch", "wc", "ls", "readlink", "stat"];

impl Bundle {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("brig-rootfs-test")
            .tempdir()
            .expect("temp dir");
        let rootfs = dir.path().join("rootfs");
        for sub in ["bin", "proc", "sys", "dev", "tmp", "etc"] {
            std::fs::create_dir_all(rootfs.join(sub)).expect("rootfs dirs");
        }
        std::fs::copy("/bin/busybox", rootfs.join("bin/busybox"))
            .expect("copy /bin/busybox (install Debian's busybox-static)");
        for applet in APPLETS {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet))
                .expect("applet link");
        }
        let rootfs = rootfs.canonicalize().expect("canonical rootfs");
        Self { _dir: dir, rootfs }
    }

    /// A symlink in the image, like an attacker would ship it.
    pub fn symlink(&self, name: &str, target: &Path) {
        std::os::unix::fs::symlink(target, self.rootfs.join(name)).expect("symlink in rootfs");
    }

    pub fn plan(&self, spec: Value, opts: RootfsOptions) -> RootfsPlan {
        let spec: Spec = serde_json::from_value(spec).expect("test spec parses");
        RootfsPlan::from_spec(&spec, &self.rootfs, opts).expect("plan")
    }
}

/// Adds mounts (JSON values) after the ones of `spec`.
pub(super) fn add_mounts(spec: &mut Value, mounts: &[Value]) {
    let list = spec["mounts"].as_array_mut().expect("mounts array");
    list.extend(mounts.iter().cloned());
}

/// How the child enters its namespaces.
#[derive(Clone, Copy)]
pub(super) struct Namespaces {
    pub flags: UnshareFlags,
}

pub(super) const CONTAINER_NAMESPACES: Namespaces = Namespaces {
    flags: UnshareFlags::NEWNS
        .union(UnshareFlags::NEWUTS)
        .union(UnshareFlags::NEWIPC)
        .union(UnshareFlags::NEWNET),
};

/// Runs `body` in a forked child in new namespaces. The child reports a
/// failure through a pipe; a body that execs reports through its exit code.
pub(super) fn in_child(
    ns: Namespaces,
    body: impl FnOnce() -> Result<(), String>,
) -> Result<(), String> {
    let (mut reader, writer) = pipe();
    match brig_sys::fork().map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            drop(reader);
            #[allow(deprecated)]
            // unshare_unsafe is only unsafe for CLONE_FILES, which is not used here.
            let result = match rustix::thread::unshare(ns.flags) {
                Err(errno) => Err(format!("unshare: {errno}")),
                Ok(()) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(body))
                    .unwrap_or_else(|_| Err("the child panicked (see stderr)".into())),
            };
            let code = match result {
                Ok(()) => 0,
                Err(message) => {
                    let _ = rustix::io::write(&writer, message.as_bytes());
                    1
                }
            };
            brig_sys::process::exit_immediately(code)
        }
        ForkResult::Parent { pid } => {
            drop(writer);
            let mut message = String::new();
            let _ = reader.read_to_string(&mut message);
            let status = wait(pid)?;
            match (status, message.is_empty()) {
                (Some(0), true) => Ok(()),
                (_, false) => Err(message),
                (code, true) => Err(format!("the child exited with {code:?}")),
            }
        }
    }
}

/// Like [`in_child`], but the child first enters a new user namespace (the
/// parent maps ids 0-4294967294 onto themselves, as a runtime's parent
/// would), then new mount, pid, network, ipc and uts namespaces; `body` runs
/// in a grandchild, pid 1 of the new pid namespace, owned by the user namespace.
pub(super) fn in_userns_child(body: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let (mut reader, writer) = pipe();
    let (ready_r, ready_w) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe");
    let (go_r, go_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe");
    match brig_sys::fork().map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            drop((reader, ready_r, go_w));
            let result = userns_middle(&ready_w, &go_r, body);
            if let Err(message) = &result {
                let _ = rustix::io::write(&writer, message.as_bytes());
            }
            brig_sys::process::exit_immediately(result.map_or(1, |code| code))
        }
        ForkResult::Parent { pid } => {
            drop((writer, ready_w, go_r));
            let mapped = map_ids(pid, &ready_r, &go_w);
            drop(go_w);
            let mut message = String::new();
            let _ = reader.read_to_string(&mut message);
            let status = wait(pid)?;
            mapped?;
            match (status, message.is_empty()) {
                (Some(0), true) => Ok(()),
                (_, false) => Err(message),
                (code, true) => Err(format!("the child exited with {code:?}")),
            }
        }
    }
}

/// The parent's part: wait for the child's user namespace, write its maps, let it go on.
fn map_ids(pid: i32, ready: &OwnedFd, go: &OwnedFd) -> Result<(), String> {
    let mut byte = [0u8];
    rustix::io::read(ready, &mut byte).map_err(|e| format!("waiting for the child: {e}"))?;
    for map in ["uid_map", "gid_map"] {
        std::fs::write(format!("/proc/{pid}/{map}"), "0 0 4294967295\n")
            .map_err(|e| format!("writing {map}: {e}"))?;
    }
    rustix::io::write(go, b"g").map_err(|e| format!("releasing the child: {e}"))?;
    Ok(())
}

/// In the first child: user namespace, then the others, then the grandchild
/// runs `body`. Returns the grandchild's exit code.
fn userns_middle(
    ready: &OwnedFd,
    go: &OwnedFd,
    body: impl FnOnce() -> Result<(), String>,
) -> Result<i32, String> {
    #[allow(deprecated)] // unshare_unsafe is only unsafe for CLONE_FILES, which is not used here.
    rustix::thread::unshare(UnshareFlags::NEWUSER).map_err(|e| format!("unshare user: {e}"))?;
    rustix::io::write(ready, b"r").map_err(|e| format!("ready: {e}"))?;
    let mut byte = [0u8];
    match rustix::io::read(go, &mut byte) {
        Ok(1) => {}
        other => return Err(format!("the parent did not map our ids: {other:?}")),
    }
    let others = CONTAINER_NAMESPACES.flags | UnshareFlags::NEWPID;
    #[allow(deprecated)]
    rustix::thread::unshare(others).map_err(|e| format!("unshare: {e}"))?;
    match brig_sys::fork().map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body))
                .unwrap_or_else(|_| Err("the child panicked (see stderr)".into()));
            match result {
                Ok(()) => brig_sys::process::exit_immediately(0),
                Err(message) => Err(message),
            }
        }
        ForkResult::Parent { pid } => Ok(wait(pid)?.unwrap_or(1)),
    }
}

fn pipe() -> (std::fs::File, OwnedFd) {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe");
    (std::fs::File::from(r), w)
}

fn wait(pid: i32) -> Result<Option<i32>, String> {
    let pid = rustix::process::Pid::from_raw(pid).ok_or("bad pid")?;
    let (_, status) = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty())
        .map_err(|e| format!("waitpid: {e}"))?
        .ok_or("waitpid: no status")?;
    Ok(status.exit_status())
}

/// `Err(message)` unless `condition`.
macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+));
        }
    };
}
pub(super) use ensure;

pub(super) fn fs_type(path: &str) -> Result<i64, String> {
    rustix::fs::statfs(path)
        .map(|s| super::paths::fs_magic(&s))
        .map_err(|e| format!("statfs {path}: {e}"))
}

pub(super) fn is_read_only(path: &str) -> Result<bool, String> {
    let flags = rustix::fs::statvfs(path)
        .map_err(|e| format!("statvfs {path}: {e}"))?
        .f_flag;
    Ok(flags.contains(StatVfsMountFlags::RDONLY))
}

/// The errno of creating `path`, or `None` when it could be created.
pub(super) fn create_error(path: &str) -> Option<rustix::io::Errno> {
    use rustix::fs::{Mode, OFlags};
    rustix::fs::open(
        path,
        OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )
    .err()
}

/// The errno of opening `path` for writing, or `None`.
pub(super) fn write_open_error(path: &str) -> Option<rustix::io::Errno> {
    use rustix::fs::{Mode, OFlags};
    rustix::fs::open(path, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty()).err()
}

/// Replaces the child with busybox's shell running `script` inside the container.
pub(super) fn exec_shell(script: &str) -> String {
    let argv = [
        c"sh".to_owned(),
        c"-c".to_owned(),
        CString::new(script).expect("script"),
    ];
    let env = [c"PATH=/bin".to_owned()];
    let error = brig_sys::execve(c"/bin/sh", &argv, &env);
    format!("exec /bin/sh: {error}")
}
