//! containerd started by the test inside a [`Sandbox`]: its own
//! `config.toml`, root, state and sockets in the test directory, the CRI
//! plugin off (no network set-up at all). `ctr` talks to it on the private
//! socket, in a namespace named after the test's [`CgroupScope`], so the
//! containers' cgroups are `/<scope>/<id>`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use brig_testkit::TestDir;
use brig_testkit::command::CmdOutput;

use crate::oci_layout::OciImage;
use crate::sandbox::Sandbox;
use crate::scope::CgroupScope;

/// The image imported from a locally built OCI archive.
pub const IMAGE: &str = "localhost/brig-busybox:test";

const CONFIG: &str = r#"version = 2
root = "@DIR@/root"
state = "@DIR@/state"
disabled_plugins = [
    "io.containerd.grpc.v1.cri",
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.zfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.tracing.processor.v1.otlp",
    "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "@DIR@/containerd.sock"

[ttrpc]
  address = "@DIR@/containerd.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""
"#;

/// A running containerd private to one test, with [`IMAGE`] imported.
/// Dropping it removes every container, stops the daemon, kills whatever
/// is left (shims, containers) and deletes its directories.
#[derive(Debug)]
pub struct Containerd {
    daemon: Option<Child>,
    sandbox: Sandbox,
    scope: CgroupScope,
    dir: TestDir,
}

impl Containerd {
    /// Starts containerd for the test `tag` and imports [`IMAGE`].
    pub fn start(tag: &str) -> Containerd {
        let dir = TestDir::new(&format!("containerd-{tag}"));
        let cd = dir.join("containerd");
        fs::create_dir_all(&cd).expect("creating containerd's directory");
        let config = cd.join("config.toml");
        fs::write(&config, CONFIG.replace("@DIR@", &cd.display().to_string()))
            .expect("writing config.toml");
        let sandbox = Sandbox::new(&dir);
        let log = fs::File::create(cd.join("containerd.log")).expect("creating containerd.log");
        let daemon = sandbox
            .command(["containerd", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("containerd.log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting containerd: {e}"));
        let containerd = Containerd {
            daemon: Some(daemon),
            sandbox,
            scope: CgroupScope::new(tag),
            dir,
        };
        containerd.wait_until_serving();
        containerd.import_image();
        containerd
    }

    fn cd_dir(&self) -> PathBuf {
        self.dir.join("containerd")
    }

    /// The containerd namespace (also the cgroup parent of its containers).
    pub fn namespace(&self) -> &str {
        self.scope.name()
    }

    /// The cgroup parent of every container.
    pub fn scope(&self) -> &CgroupScope {
        &self.scope
    }

    /// The sandbox containerd and its shims run in.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The test's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// containerd's own log, for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.cd_dir().join("containerd.log")).unwrap_or_default()
    }

    /// `ctr --address SOCK --namespace NS args...` as a list of words.
    pub fn argv(&self, args: &[&str]) -> Vec<String> {
        let mut argv = vec![
            "ctr".to_owned(),
            "--address".to_owned(),
            self.cd_dir().join("containerd.sock").display().to_string(),
            "--namespace".to_owned(),
            self.namespace().to_owned(),
        ];
        argv.extend(args.iter().map(|a| a.to_string()));
        argv
    }

    /// Runs `ctr args...` in the sandbox.
    pub fn ctr(&self, args: &[&str]) -> CmdOutput {
        let inv = self
            .sandbox
            .invocation(self.argv(args))
            .timeout(Duration::from_secs(60));
        self.sandbox.run(&inv)
    }

    /// Runs `ctr args...` on a terminal (under `script(1)`), for `-t`.
    pub fn ctr_on_terminal(&self, args: &[&str]) -> CmdOutput {
        let line: Vec<String> = self
            .argv(args)
            .iter()
            .map(|a| crate::tools::shell_quote(a))
            .collect();
        let inv = self
            .sandbox
            .invocation(["script", "-qec", &line.join(" "), "/dev/null"])
            .timeout(Duration::from_secs(60));
        self.sandbox.run(&inv)
    }

    /// The runc-compatible runtime's state root the shim uses for our
    /// namespace (the shim's default, inside the sandbox's `/run`).
    pub fn runtime_root(&self) -> String {
        format!("/run/containerd/runc/{}", self.namespace())
    }

    /// Ids the runtime itself still knows under the shim's root.
    pub fn runtime_ids(&self, binary: &Path) -> Vec<String> {
        let inv = self.sandbox.invocation([
            binary.display().to_string(),
            "--root".into(),
            self.runtime_root(),
            "list".into(),
            "-q".into(),
        ]);
        let out = self.sandbox.run(&inv);
        out.stdout.lines().map(str::to_owned).collect()
    }

    fn wait_until_serving(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.ctr(&["version"]).success() {
                return;
            }
            if Instant::now() >= deadline {
                panic!("containerd did not start serving:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn import_image(&self) {
        let image = OciImage::build(
            &self.dir.join("layout"),
            brig_testkit::rootfs::template(),
            IMAGE,
        )
        .unwrap_or_else(|e| panic!("building the OCI layout: {e}"));
        let archive = self.dir.join("image.tar");
        image
            .archive(&archive)
            .unwrap_or_else(|e| panic!("writing {}: {e}", archive.display()));
        let archive = archive.display().to_string();
        let out = self.ctr(&["images", "import", &archive]);
        assert!(
            out.success(),
            "ctr images import failed:\n{}\ncontainerd log:\n{}",
            out.describe(),
            self.log()
        );
    }

    /// Kills and deletes every task and container of our namespace.
    fn remove_all(&self) {
        let listed = self.ctr(&["containers", "list", "--quiet"]);
        for id in listed.stdout.split_whitespace() {
            let _ = self.ctr(&["tasks", "kill", "--signal", "SIGKILL", id]);
            let _ = self.ctr(&["tasks", "delete", "--force", id]);
            let _ = self.ctr(&["containers", "delete", id]);
        }
    }

    fn stop_daemon(&mut self) {
        let Some(mut daemon) = self.daemon.take() else {
            return;
        };
        if let Some(pid) = rustix::process::Pid::from_raw(daemon.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = daemon.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = daemon.kill();
        let _ = daemon.wait();
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.remove_all();
        self.stop_daemon();
        // Fields drop next: sandbox (shims), scope (cgroups), directory.
    }
}
