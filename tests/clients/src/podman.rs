//! Podman with a private store, configuration and cgroup parent, inside a
//! [`Sandbox`].
//!
//! Podman is run as a user would, with its runtime chosen by `--runtime`:
//! `--root` in the test directory, `--runroot` in the sandbox's `/run`, `--cgroup-manager cgroupfs`
//! (PID 1 is not systemd), a `containers.conf` (via `CONTAINERS_CONF`) with
//! the ulimits this machine allows, file locks, file events and directories
//! of its own. Containers get `--network none` and the test's cgroup parent.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use brig_testkit::TestDir;
use brig_testkit::command::CmdOutput;

use crate::oci_layout::{OciImage, rootfs_tar};
use crate::sandbox::Sandbox;
use crate::scope::CgroupScope;
use crate::tools::{RuntimeUnderTest, shell_quote};

/// The image `podman import` makes from the busybox rootfs tar.
pub const IMPORTED: &str = "localhost/brig-busybox:imported";
/// The image `skopeo copy` brings in from a locally built OCI layout.
pub const COPIED: &str = "localhost/brig-busybox:skopeo";

/// Podman refuses a runroot longer than 50 characters; the sandbox's `/run`
/// is private to the test, so its state can live there.
const RUNROOT: &str = "/run/podman-runroot";

/// This machine lacks CAP_SYS_RESOURCE in the bounding set and caps open
/// files at 20000: Podman's default ulimits (1048576) could not be set.
const CONTAINERS_CONF: &str = r#"[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
lock_type = "file"
events_logger = "file"
events_logfile_path = "@DIR@/tmp/events.log"
tmp_dir = "/run/libpod"
static_dir = "@DIR@/root/libpod"
volume_path = "@DIR@/root/volumes"
cgroup_manager = "cgroupfs"
@ENGINE@
[network]
network_config_dir = "@DIR@/network"
"#;

/// One test's Podman: store, configuration, sandbox and cgroup parent.
/// Dropping it removes every container (`rm -af`), then kills what is left
/// in the sandbox and the cgroup parent, then deletes the directory.
#[derive(Debug)]
pub struct Podman {
    sandbox: Sandbox,
    scope: CgroupScope,
    dir: TestDir,
}

impl Podman {
    /// A fresh Podman for the test `tag`, with [`IMPORTED`] imported.
    pub fn new(tag: &str) -> Podman {
        Podman::with_engine_config(tag, "")
    }

    /// Like [`Podman::new`], with `engine` appended to containers.conf's
    /// `[engine]` table (keys, then sub-tables such as `[engine.runtimes]`).
    pub fn with_engine_config(tag: &str, engine: &str) -> Podman {
        let dir = TestDir::new(&format!("podman-{tag}"));
        let pd = dir.join("podman");
        for sub in ["root", "tmp", "network"] {
            fs::create_dir_all(pd.join(sub)).expect("creating Podman's directories");
        }
        let conf = CONTAINERS_CONF
            .replace("@DIR@", &pd.display().to_string())
            .replace("@ENGINE@", engine);
        fs::write(pd.join("containers.conf"), conf).expect("writing containers.conf");
        let podman = Podman {
            sandbox: Sandbox::new(&dir),
            scope: CgroupScope::new(tag),
            dir,
        };
        podman.import_busybox();
        podman
    }

    fn podman_dir(&self) -> PathBuf {
        self.dir.join("podman")
    }

    /// The test's directory (for volumes and files the test writes).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The sandbox the clients run in.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The cgroup parent of every container.
    pub fn scope(&self) -> &CgroupScope {
        &self.scope
    }

    /// `podman <global flags> args...` as a list of words.
    pub fn argv(&self, args: &[&str]) -> Vec<String> {
        let pd = self.podman_dir();
        let mut argv: Vec<String> = vec!["podman".into()];
        argv.push("--root".into());
        argv.push(pd.join("root").display().to_string());
        argv.push("--runroot".into());
        argv.push(RUNROOT.into());
        argv.extend(
            [
                "--cgroup-manager",
                "cgroupfs",
                "--storage-driver",
                "overlay",
            ]
            .map(String::from),
        );
        argv.extend(args.iter().map(|a| a.to_string()));
        argv
    }

    /// Runs `podman args...` in the sandbox.
    pub fn cmd(&self, args: &[&str]) -> CmdOutput {
        self.cmd_with_timeout(args, Duration::from_secs(60))
    }

    /// Runs `podman args...` with `files` open read-write as its
    /// descriptors 3, 4, ... (for `--preserve-fds`).
    pub fn cmd_with_fds(&self, args: &[&str], files: &[PathBuf]) -> CmdOutput {
        let inv = self.sandbox.invocation(self.argv(args)).extra_fds(files);
        self.sandbox.run(&self.with_env(inv))
    }

    /// Runs `podman args...` with a time limit.
    pub fn cmd_with_timeout(&self, args: &[&str], timeout: Duration) -> CmdOutput {
        let inv = self.sandbox.invocation(self.argv(args)).timeout(timeout);
        self.sandbox.run(&self.with_env(inv))
    }

    fn with_env(
        &self,
        inv: brig_testkit::command::Invocation,
    ) -> brig_testkit::command::Invocation {
        let pd = self.podman_dir();
        inv.env(
            "CONTAINERS_CONF",
            &pd.join("containers.conf").display().to_string(),
        )
        .env("TMPDIR", &pd.join("tmp").display().to_string())
    }

    /// `podman --runtime RT run --network none --cgroup-parent SCOPE args...`.
    pub fn run(&self, rt: &RuntimeUnderTest, args: &[&str]) -> CmdOutput {
        let runtime = rt.binary.display().to_string();
        let parent = self.scope.path();
        let mut all = vec![
            "--runtime",
            runtime.as_str(),
            "run",
            "--network",
            "none",
            "--cgroup-parent",
            parent.as_str(),
        ];
        all.extend_from_slice(args);
        self.cmd(&all)
    }

    /// Runs `podman args...` on a terminal: under `script(1)`, which gives it
    /// a pty as its stdin, stdout and stderr (for `-it`).
    pub fn on_terminal(&self, args: &[&str]) -> CmdOutput {
        let line: Vec<String> = self.argv(args).iter().map(|a| shell_quote(a)).collect();
        let inv = self
            .sandbox
            .invocation(["script", "-qec", &line.join(" "), "/dev/null"])
            .timeout(Duration::from_secs(60));
        self.sandbox.run(&self.with_env(inv))
    }

    /// `podman inspect --format FORMAT NAME`, trimmed; panics on failure.
    #[track_caller]
    pub fn inspect(&self, name: &str, format: &str) -> String {
        let out = self.cmd(&["inspect", "--format", format, name]);
        out.assert_ok();
        out.stdout.trim().to_owned()
    }

    /// Ids of the containers the runtime itself still knows (`list -q`
    /// with its default root, which is private to the sandbox).
    pub fn runtime_ids(&self, rt: &RuntimeUnderTest) -> Vec<String> {
        let inv =
            self.sandbox
                .invocation([rt.binary.display().to_string(), "list".into(), "-q".into()]);
        let out = self.sandbox.run(&inv);
        out.stdout.lines().map(str::to_owned).collect()
    }

    fn import_busybox(&self) {
        let tar = self.dir.join("busybox-rootfs.tar");
        rootfs_tar(brig_testkit::rootfs::template(), &tar)
            .unwrap_or_else(|e| panic!("writing {}: {e}", tar.display()));
        let tar = tar.display().to_string();
        self.cmd(&["import", "--quiet", &tar, IMPORTED]).assert_ok();
    }

    /// Builds an OCI layout from the busybox rootfs and copies it into the
    /// store with `skopeo copy`, as [`COPIED`].
    pub fn copy_with_skopeo(&self) {
        let image = OciImage::build(
            &self.dir.join("layout"),
            brig_testkit::rootfs::template(),
            "localhost/brig-busybox:layout",
        )
        .unwrap_or_else(|e| panic!("building the OCI layout: {e}"));
        let pd = self.podman_dir();
        let dest = format!(
            "containers-storage:[overlay@{}+{RUNROOT}]{COPIED}",
            pd.join("root").display(),
        );
        let inv = self.sandbox.invocation([
            "skopeo",
            "--insecure-policy",
            "copy",
            "--quiet",
            &image.skopeo_source(),
            &dest,
        ]);
        self.sandbox.run(&self.with_env(inv)).assert_ok();
    }

    /// Whether conmon left its OOM marker (it writes `oom` into its working
    /// directory, the sandbox's); removes it so the next run starts clean.
    pub fn take_oom_marker(&self) -> bool {
        let marker = self.sandbox.cwd().join("oom");
        let found = marker.exists();
        let _ = fs::remove_file(marker);
        found
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let out = self.cmd_with_timeout(
            &["rm", "--all", "--force", "--time", "0"],
            Duration::from_secs(60),
        );
        if !out.success() {
            eprintln!("warning: podman rm -af failed:\n{}", out.describe());
        }
        // Fields drop next: sandbox (its processes), scope (cgroups), directory.
    }
}
