//! The runtime under test, driven through runc's command line.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::bundle::{Bundle, TestDir};
use crate::command::{CmdOutput, Invocation};
use crate::state::State;

/// Which runtime a [`Runtime`] drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    /// brig-runtime from this workspace.
    Brig,
    /// Debian's runc (`/usr/sbin/runc`).
    Runc,
    /// crun, run in a private mount namespace without `/sys/fs/cgroup/unified`
    /// because it refuses hybrid cgroups.
    Crun,
    /// Any other binary given by path.
    Other,
}

impl RuntimeKind {
    /// Short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            RuntimeKind::Brig => "brig-runtime",
            RuntimeKind::Runc => "runc",
            RuntimeKind::Crun => "crun",
            RuntimeKind::Other => "other",
        }
    }
}

/// `BRIG_TEST_STRICT=1`: run tests marked as known gaps of the runtime anyway.
pub fn strict() -> bool {
    std::env::var_os("BRIG_TEST_STRICT").is_some_and(|v| v == "1")
}

/// crun refuses hybrid cgroups: it runs where the cgroup2 mount is gone.
/// A private tmpfs takes its place, or crun would write `cgroup.procs`
/// files into the host's bare mountpoint directory and leave them there.
const UNSHARE_CRUN: &str = "umount /sys/fs/cgroup/unified 2>/dev/null; mount -t tmpfs -o size=1m brig-crun /sys/fs/cgroup/unified; exec \"$0\" \"$@\"";

/// A runtime binary with a private `--root`, as one test uses it.
///
/// Every container created or run through it is `delete --force`d when it
/// is dropped, and then its state and work directories are removed, so a
/// failing test leaves nothing behind. Bundles given to it are kept alive
/// until then.
#[derive(Debug)]
pub struct Runtime {
    kind: RuntimeKind,
    binary: PathBuf,
    work: TestDir,
    ids: Mutex<Vec<String>>,
    kept: Mutex<Vec<TestDir>>,
}

impl Runtime {
    /// The runtime named by `BRIG_TEST_RUNTIME` ("runc", "crun", "brig" or a
    /// path); by default brig-runtime from this workspace's target directory.
    pub fn from_env() -> Runtime {
        match std::env::var("BRIG_TEST_RUNTIME") {
            Ok(v) if v == "runc" => Runtime::of(RuntimeKind::Runc),
            Ok(v) if v == "crun" => Runtime::of(RuntimeKind::Crun),
            Ok(v) if v.is_empty() || v == "brig" || v == "brig-runtime" => {
                Runtime::of(RuntimeKind::Brig)
            }
            Ok(path) => Runtime::with_binary(kind_of_path(Path::new(&path)), PathBuf::from(path)),
            Err(_) => Runtime::of(RuntimeKind::Brig),
        }
    }

    /// A runtime of this kind at its usual location.
    pub fn of(kind: RuntimeKind) -> Runtime {
        let binary = match kind {
            RuntimeKind::Runc => PathBuf::from("/usr/sbin/runc"),
            RuntimeKind::Crun => PathBuf::from("/usr/bin/crun"),
            RuntimeKind::Brig | RuntimeKind::Other => brig_binary().to_owned(),
        };
        Runtime::with_binary(kind, binary)
    }

    /// A runtime binary at `binary`, treated as `kind`.
    pub fn with_binary(kind: RuntimeKind, binary: PathBuf) -> Runtime {
        Runtime {
            kind,
            binary,
            work: TestDir::new("rt"),
            ids: Mutex::new(Vec::new()),
            kept: Mutex::new(Vec::new()),
        }
    }

    /// Which runtime this is.
    pub fn kind(&self) -> RuntimeKind {
        self.kind
    }

    /// True (after a loud "KNOWN GAP" line) when this runtime is `kind`,
    /// known to fail the check that follows, and `BRIG_TEST_STRICT` is not
    /// set: the test then skips only that check.
    pub fn has_gap(&self, kind: RuntimeKind, why: &str) -> bool {
        let gap = self.kind == kind && !strict();
        if gap {
            eprintln!("KNOWN GAP ({}): {why}", kind.name());
        }
        gap
    }

    /// The binary.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The `--root` state directory (created by the runtime on first use).
    pub fn root(&self) -> PathBuf {
        self.work.join("state")
    }

    /// A directory for the test's own files, removed with the runtime.
    pub fn work_dir(&self) -> &Path {
        self.work.path()
    }

    /// A new unique id, deleted (`--force`) when the runtime is dropped.
    pub fn new_id(&self, tag: &str) -> String {
        let id = crate::ids::unique_id(tag);
        self.track(&id);
        id
    }

    /// Deletes `id` (`--force`) when the runtime is dropped.
    pub fn track(&self, id: &str) {
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        if !ids.iter().any(|known| known == id) {
            ids.push(id.to_owned());
        }
    }

    /// Keeps `dir` alive until after the containers are deleted.
    pub fn keep(&self, dir: TestDir) {
        self.kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(dir);
    }

    /// `<runtime> --root <root> args...`, not yet run.
    pub fn invocation(&self, args: &[&str]) -> Invocation {
        let root = self.root();
        let prefix: Vec<String> = match self.kind {
            RuntimeKind::Crun => ["unshare", "-m", "/bin/sh", "-c", UNSHARE_CRUN]
                .map(String::from)
                .to_vec(),
            _ => Vec::new(),
        };
        Invocation::new(prefix)
            .args([
                self.binary.display().to_string(),
                "--root".into(),
                root.display().to_string(),
            ])
            .args(args.iter().copied())
    }

    /// Runs an invocation made by [`Runtime::invocation`].
    pub fn run_invocation(&self, invocation: &Invocation) -> CmdOutput {
        invocation.run(self.work.path())
    }

    /// Runs `<runtime> --root <root> args...`.
    pub fn cmd(&self, args: &[&str]) -> CmdOutput {
        self.run_invocation(&self.invocation(args))
    }

    fn bundle_invocation(
        &self,
        command: &str,
        id: &str,
        bundle: &Bundle,
        extra: &[&str],
    ) -> Invocation {
        bundle.write_config();
        self.keep(bundle.dir());
        self.track(id);
        let path = bundle.path().display().to_string();
        let mut args = vec![command, "--bundle", path.as_str()];
        args.extend_from_slice(extra);
        args.push(id);
        self.invocation(&args)
    }

    /// `create --bundle B ID`. The container inherits the command's stdout,
    /// so [`CmdOutput::stdout_now`] shows what it printed later.
    pub fn create(&self, id: &str, bundle: &Bundle) -> CmdOutput {
        self.create_with(id, bundle, &[])
    }

    /// `create --bundle B extra... ID`.
    pub fn create_with(&self, id: &str, bundle: &Bundle, extra: &[&str]) -> CmdOutput {
        self.run_invocation(&self.bundle_invocation("create", id, bundle, extra))
    }

    /// `run --bundle B ID` in the foreground: exits with the container's status.
    pub fn run(&self, id: &str, bundle: &Bundle) -> CmdOutput {
        self.run_with(id, bundle, &[])
    }

    /// `run --bundle B extra... ID`.
    pub fn run_with(&self, id: &str, bundle: &Bundle, extra: &[&str]) -> CmdOutput {
        self.run_invocation(&self.bundle_invocation("run", id, bundle, extra))
    }

    /// The invocation of `run`/`create` (to add descriptors or stdin).
    pub fn bundle_command(
        &self,
        command: &str,
        id: &str,
        bundle: &Bundle,
        extra: &[&str],
    ) -> Invocation {
        self.bundle_invocation(command, id, bundle, extra)
    }

    /// `start ID`.
    pub fn start(&self, id: &str) -> CmdOutput {
        self.cmd(&["start", id])
    }

    /// `state ID`.
    pub fn state(&self, id: &str) -> CmdOutput {
        self.cmd(&["state", id])
    }

    /// `state ID`, parsed; panics when the command or the JSON fails.
    #[track_caller]
    pub fn state_of(&self, id: &str) -> State {
        let out = self.state(id);
        out.assert_ok();
        State::parse(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.describe()))
    }

    /// `kill ID SIGNAL`.
    pub fn kill(&self, id: &str, signal: &str) -> CmdOutput {
        self.cmd(&["kill", id, signal])
    }

    /// `delete ID`.
    pub fn delete(&self, id: &str) -> CmdOutput {
        self.cmd(&["delete", id])
    }

    /// `delete --force ID`.
    pub fn delete_force(&self, id: &str) -> CmdOutput {
        self.cmd(&["delete", "--force", id])
    }

    /// `exec flags... ID args...` (runc wants the flags before the id).
    pub fn exec_with(&self, id: &str, flags: &[&str], args: &[&str]) -> CmdOutput {
        let mut all = vec!["exec"];
        all.extend_from_slice(flags);
        all.push(id);
        all.extend_from_slice(args);
        self.cmd(&all)
    }

    /// `exec ID args...`.
    pub fn exec(&self, id: &str, args: &[&str]) -> CmdOutput {
        self.exec_with(id, &[], args)
    }

    /// Polls `state` until the status is `status`; false after `timeout`.
    pub fn wait_for_status(&self, id: &str, status: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.state(id);
            if State::parse(&out.stdout).is_ok_and(|s| s.status == status) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Entries in `--root` (container state directories and whatever else
    /// the runtime keeps there).
    pub fn root_entries(&self) -> Vec<String> {
        match std::fs::read_dir(self.root()) {
            Ok(dir) => dir
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let ids = std::mem::take(&mut *self.ids.lock().unwrap_or_else(|e| e.into_inner()));
        for id in ids.iter().rev() {
            let inv = self
                .invocation(&["delete", "--force", id])
                .timeout(Duration::from_secs(10));
            let _ = self.run_invocation(&inv);
        }
    }
}

fn kind_of_path(path: &Path) -> RuntimeKind {
    match path.file_name().and_then(|n| n.to_str()) {
        Some("runc") => RuntimeKind::Runc,
        Some("crun") => RuntimeKind::Crun,
        Some("brig-runtime") => RuntimeKind::Brig,
        _ => RuntimeKind::Other,
    }
}

/// brig-runtime next to the test binary (`target/<profile>/`), else in
/// `$CARGO_TARGET_DIR` or the workspace's `target/debug`; built once into
/// `<target>/brig-testkit-runtime` when none exists (a separate target dir,
/// because the `cargo test` that runs us may hold the main one's lock).
pub fn brig_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let candidates = brig_candidates();
        if let Some(found) = candidates.iter().find(|p| p.is_file()) {
            return found.clone();
        }
        build_brig().unwrap_or_else(|e| {
            panic!(
                "brig-runtime not found (looked at {candidates:?}) and building it failed: {e}\n\
                 run `cargo build -p brig-runtime-cli` first, or set BRIG_TEST_RUNTIME=runc|crun|PATH"
            )
        })
    })
}

fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("target"))
}

fn brig_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        // target/<profile>/deps/<test> or target/<profile>/<bin>
        let mut dir = exe.parent().map(Path::to_path_buf);
        if dir.as_ref().is_some_and(|d| d.ends_with("deps")) {
            dir = dir.and_then(|d| d.parent().map(Path::to_path_buf));
        }
        if let Some(dir) = dir {
            out.push(dir.join("brig-runtime"));
        }
    }
    out.push(target_dir().join("debug/brig-runtime"));
    out.push(target_dir().join("release/brig-runtime"));
    out
}

fn build_brig() -> Result<PathBuf, String> {
    let target = target_dir().join("brig-testkit-runtime");
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "-j2", "-p", "brig-runtime-cli", "--target-dir"])
            .arg(&target)
            .current_dir(workspace_dir())
            .status()
            .map_err(|e| format!("running cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build -p brig-runtime-cli: {status}"));
    }
    Ok(target.join("debug/brig-runtime"))
}
